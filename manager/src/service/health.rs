//! Node health: heartbeat observations and the phi-accrual failure detector.
//!
//! Every member polls every node's `GET /status` each `heartbeat_ms` (the
//! poll is the heartbeat: a node that answers is alive). Observations stay
//! in this member's memory, never in Raft: they change ten times a second
//! and only decisions drawn from them (a new primary) are replicated.
//!
//! The detector is phi accrual (Hayashibara et al.): it keeps the last
//! inter-arrival times of successful heartbeats, models them as a normal
//! distribution, and turns the time since the last one into
//! `phi = -log10(P(a heartbeat arrives later than now))`. phi grows
//! smoothly while a node stays silent; a node is *suspected* once phi
//! reaches half the threshold and *failed* at the threshold (default 8,
//! i.e. a one-in-10^8 chance that a live node is this late). The standard
//! deviation has a floor of half the heartbeat interval, so a perfectly
//! regular loopback does not make one late answer look fatal.
//!
//! Invariant: a detector starts with a virtual heartbeat when it is
//! created (`reset`), so a node that never answered is failed only after
//! the same silence as one that stopped answering; a member that just
//! became leader resets all detectors and gives every node that grace.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::client::{NodeStatus, ReplicationStatus};

/// How many inter-arrival samples the detector keeps.
const WINDOW: usize = 100;

/// A phi-accrual failure detector for one node.
#[derive(Debug, Clone)]
pub struct PhiDetector {
    intervals: VecDeque<f64>,
    last: Instant,
    min_std_ms: f64,
    expected_ms: f64,
}

impl PhiDetector {
    /// A detector whose virtual first heartbeat is `now`, expecting one
    /// every `heartbeat` (seeds the window so phi is meaningful at once).
    pub fn new(now: Instant, heartbeat: Duration) -> PhiDetector {
        let ms = heartbeat.as_secs_f64() * 1e3;
        let mut intervals = VecDeque::with_capacity(WINDOW);
        intervals.push_back(ms);
        PhiDetector {
            intervals,
            last: now,
            min_std_ms: (ms / 2.0).max(1.0),
            expected_ms: ms.max(1.0),
        }
    }

    /// Records a successful heartbeat at `now`.
    pub fn heartbeat(&mut self, now: Instant) {
        let mut interval = now.saturating_duration_since(self.last).as_secs_f64() * 1e3;
        // A gap far beyond the heartbeat is an outage the node came back
        // from, not the spread of normal arrivals: counted as such it would
        // inflate mean and deviation and slow down the next detection.
        if interval > 4.0 * self.expected_ms {
            interval = self.expected_ms;
        }
        if self.intervals.len() == WINDOW {
            self.intervals.pop_front();
        }
        self.intervals.push_back(interval);
        self.last = now;
    }

    /// The suspicion level at `now`.
    pub fn phi(&self, now: Instant) -> f64 {
        let n = self.intervals.len().max(1) as f64;
        let mean = self.intervals.iter().sum::<f64>() / n;
        let var = self
            .intervals
            .iter()
            .map(|x| (x - mean).powi(2))
            .sum::<f64>()
            / n;
        let std = var.sqrt().max(self.min_std_ms);
        let t = now.saturating_duration_since(self.last).as_secs_f64() * 1e3;
        // Logistic approximation of the normal CDF (as in Akka / Cassandra).
        let y = (t - mean) / std;
        let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
        let p_later = if t > mean {
            e / (1.0 + e)
        } else {
            1.0 - 1.0 / (1.0 + e)
        };
        if p_later <= f64::MIN_POSITIVE {
            return f64::MAX.log10();
        }
        -p_later.log10()
    }

    pub fn last_heartbeat(&self) -> Instant {
        self.last
    }
}

/// What the detector concludes about a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    Suspected,
    Failed,
}

impl Liveness {
    pub fn from_phi(phi: f64, threshold: f64) -> Liveness {
        if phi >= threshold {
            Liveness::Failed
        } else if phi >= threshold / 2.0 {
            Liveness::Suspected
        } else {
            Liveness::Alive
        }
    }
}

/// This member's knowledge of one node.
#[derive(Debug, Clone)]
pub struct NodeObs {
    pub detector: PhiDetector,
    /// The last `/status` answer, if any since the detector was reset.
    pub status: Option<NodeStatus>,
    /// When `status` was received.
    pub status_at: Option<Instant>,
    /// The last error polling it.
    pub last_error: Option<String>,
    /// The primary's `/replication` (only kept for the primary).
    pub replication: Option<ReplicationStatus>,
}

/// All nodes' observations, keyed by node name.
#[derive(Debug, Default)]
pub struct HealthTable {
    pub nodes: BTreeMap<String, NodeObs>,
}

impl HealthTable {
    /// Forgets everything and gives every node a fresh grace period.
    pub fn reset(&mut self, names: impl Iterator<Item = String>, now: Instant, hb: Duration) {
        self.nodes.clear();
        for name in names {
            self.nodes.insert(name, fresh(now, hb));
        }
    }

    pub fn entry(&mut self, name: &str, now: Instant, hb: Duration) -> &mut NodeObs {
        self.nodes
            .entry(name.to_string())
            .or_insert_with(|| fresh(now, hb))
    }

    pub fn liveness(&self, name: &str, now: Instant, threshold: f64) -> Liveness {
        match self.nodes.get(name) {
            Some(o) => Liveness::from_phi(o.detector.phi(now), threshold),
            None => Liveness::Suspected,
        }
    }

    /// The node's last known LSN.
    pub fn lsn(&self, name: &str) -> Option<u64> {
        self.nodes
            .get(name)
            .and_then(|o| o.status.as_ref())
            .and_then(|s| s.lsn_number)
    }

    pub fn status(&self, name: &str) -> Option<&NodeStatus> {
        self.nodes.get(name).and_then(|o| o.status.as_ref())
    }
}

fn fresh(now: Instant, hb: Duration) -> NodeObs {
    NodeObs {
        detector: PhiDetector::new(now, hb),
        status: None,
        status_at: None,
        last_error: None,
        replication: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A detector after 50 regular heartbeats, and the time of the last.
    fn steady(hb: Duration) -> (PhiDetector, Instant) {
        let start = Instant::now();
        let mut d = PhiDetector::new(start, hb);
        let mut t = start;
        for _ in 0..50 {
            t += hb;
            d.heartbeat(t);
        }
        (d, t)
    }

    #[test]
    fn phi_grows_with_silence() {
        let hb = Duration::from_millis(100);
        let (d, t) = steady(hb);
        let soon = d.phi(t + Duration::from_millis(50));
        let late = d.phi(t + Duration::from_millis(400));
        let very_late = d.phi(t + Duration::from_millis(2000));
        assert!(soon < 1.0, "phi {soon}");
        assert!(late > soon);
        assert!(very_late >= 8.0, "phi {very_late}");
        assert_eq!(Liveness::from_phi(very_late, 8.0), Liveness::Failed);
        assert_eq!(Liveness::from_phi(soon, 8.0), Liveness::Alive);
    }

    #[test]
    fn an_outage_does_not_slow_down_the_next_detection() {
        let hb = Duration::from_millis(100);
        let (mut d, mut t) = steady(hb);
        let fresh = d.clone();
        // Down for 5 s, then back with regular heartbeats.
        t += Duration::from_secs(5);
        d.heartbeat(t);
        for _ in 0..5 {
            t += hb;
            d.heartbeat(t);
        }
        let silence = Duration::from_millis(700);
        let after_outage = d.phi(t + silence);
        let before = fresh.phi(fresh.last_heartbeat() + silence);
        assert!(
            (after_outage - before).abs() < 1.0,
            "phi after an outage {after_outage} vs before {before}"
        );
    }
}
