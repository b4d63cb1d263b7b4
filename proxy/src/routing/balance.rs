//! Choosing one backend among the eligible ones.
//!
//! The caller passes the candidate set (already filtered for health, bans,
//! lag, the read-your-writes floor and preferences). The candidates are
//! sorted by id first, so every algorithm sees the same order whatever
//! order the topology listed them in:
//!
//! - `round_robin`: a per-service counter modulo the set size.
//! - `least_connections`: the fewest active server connections (from the
//!   pool's [`BackendLoad`]); ties rotate with the round-robin counter so
//!   an idle cluster still spreads new work.
//! - `weighted_round_robin`: smooth weighted round robin (as nginx does
//!   it): each pick adds every candidate's weight to its running score,
//!   takes the highest, and subtracts the total from the winner. Over any
//!   window of `sum(weights)` picks each backend gets exactly its share,
//!   interleaved rather than in bursts. Weights come from
//!   `routing.weights` by backend name, then address; default 1; 0 takes
//!   a backend out (unless all are 0, then all count as 1).
//! - `ip_hash`: rendezvous (highest-random-weight) hashing of the client
//!   IP with each candidate id: a client always gets the same backend
//!   while the set is unchanged, and when a backend leaves only its own
//!   clients move.
//!
//! State (counters, WRR scores) is per service, under one short lock.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use parking_lot::Mutex;

use super::BackendLoad;
use crate::config::BalanceAlgorithm;
use crate::topology::{BackendId, BackendInfo};

#[derive(Debug, Default)]
struct ServiceState {
    next: usize,
    /// Smooth WRR running scores by backend.
    scores: HashMap<BackendId, i64>,
}

/// Balancer state for all services.
#[derive(Debug, Default)]
pub(super) struct Balancer {
    services: Mutex<HashMap<String, ServiceState>>,
}

/// What [`Balancer::pick`] needs besides the candidates.
pub(super) struct PickContext<'a> {
    pub service: &'a str,
    pub algorithm: BalanceAlgorithm,
    pub weights: &'a BTreeMap<String, u32>,
    pub client_ip: IpAddr,
    pub load: &'a dyn BackendLoad,
}

impl Balancer {
    /// One of `candidates`, or `None` when there are none.
    pub fn pick<'b>(
        &self,
        ctx: &PickContext<'_>,
        candidates: &[&'b BackendInfo],
    ) -> Option<&'b BackendInfo> {
        let mut sorted: Vec<&'b BackendInfo> = candidates.to_vec();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        sorted.dedup_by(|a, b| a.id == b.id);
        match sorted.len() {
            0 => return None,
            1 => return sorted.first().copied(),
            _ => {}
        }
        if ctx.algorithm == BalanceAlgorithm::IpHash {
            // Stateless: no lock needed.
            return sorted
                .iter()
                .copied()
                .max_by_key(|b| rendezvous(ctx.client_ip, &b.id));
        }
        let mut services = self.services.lock();
        let state = match services.get_mut(ctx.service) {
            Some(state) => state,
            None => services.entry(ctx.service.to_string()).or_default(),
        };
        let turn = state.next;
        state.next = state.next.wrapping_add(1);
        match ctx.algorithm {
            BalanceAlgorithm::RoundRobin | BalanceAlgorithm::IpHash => {
                sorted.get(turn % sorted.len()).copied()
            }
            BalanceAlgorithm::LeastConnections => {
                let active: Vec<usize> = sorted.iter().map(|b| ctx.load.active(&b.id)).collect();
                let least = active.iter().copied().min()?;
                let tied: Vec<&'b BackendInfo> = sorted
                    .iter()
                    .zip(&active)
                    .filter(|(_, a)| **a == least)
                    .map(|(b, _)| *b)
                    .collect();
                tied.get(turn % tied.len().max(1)).copied()
            }
            BalanceAlgorithm::WeightedRoundRobin => smooth_wrr(state, &sorted, ctx.weights),
        }
    }
}

/// The configured weight of a backend: by name, then address, else 1.
fn weight(weights: &BTreeMap<String, u32>, b: &BackendInfo) -> u32 {
    weights
        .get(&b.id)
        .or_else(|| weights.get(&b.addr))
        .copied()
        .unwrap_or(1)
}

fn smooth_wrr<'b>(
    state: &mut ServiceState,
    sorted: &[&'b BackendInfo],
    weights: &BTreeMap<String, u32>,
) -> Option<&'b BackendInfo> {
    let mut w: Vec<i64> = sorted
        .iter()
        .map(|b| i64::from(weight(weights, b)))
        .collect();
    if w.iter().all(|&x| x == 0) {
        w.iter_mut().for_each(|x| *x = 1);
    }
    // Forget backends that left the set, so the map stays bounded.
    state
        .scores
        .retain(|id, _| sorted.iter().any(|b| &b.id == id));
    let total: i64 = w.iter().sum();
    let mut best: Option<(usize, i64)> = None;
    for (i, (b, weight)) in sorted.iter().zip(&w).enumerate() {
        if *weight == 0 {
            continue;
        }
        let score = state.scores.entry(b.id.clone()).or_insert(0);
        *score += weight;
        if best.is_none_or(|(_, s)| *score > s) {
            best = Some((i, *score));
        }
    }
    let (i, _) = best?;
    let chosen = sorted.get(i).copied()?;
    if let Some(score) = state.scores.get_mut(&chosen.id) {
        *score -= total;
    }
    Some(chosen)
}

/// FNV-1a over the client address and the backend id: stable across
/// processes and releases (unlike `std`'s hasher), which keeps a client
/// on the same backend through a proxy restart.
fn rendezvous(ip: IpAddr, id: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let ip_bytes = match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    let mut h = OFFSET;
    for byte in ip_bytes.iter().chain([0xffu8].iter()).chain(id.as_bytes()) {
        h ^= u64::from(*byte);
        h = h.wrapping_mul(PRIME);
    }
    // A final avalanche so nearby addresses spread (FNV alone mixes the
    // last bytes weakly).
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::topology::Role;

    pub(crate) fn replica(id: &str) -> BackendInfo {
        BackendInfo {
            id: id.to_string(),
            addr: format!("10.0.0.{}:5432", id.len()),
            role: Role::Replica,
            datacenter: String::new(),
            region: String::new(),
            tags: Vec::new(),
            noloadbalance: false,
            healthy: true,
            banned: false,
            replay_lsn: None,
            lag_bytes: None,
            lag_ms: None,
            sync: false,
        }
    }

    fn counts(
        b: &Balancer,
        algorithm: BalanceAlgorithm,
        set: &[&BackendInfo],
        weights: &BTreeMap<String, u32>,
        n: usize,
    ) -> BTreeMap<String, usize> {
        let ctx = PickContext {
            service: "oltp",
            algorithm,
            weights,
            client_ip: "127.0.0.1".parse().unwrap(),
            load: &(),
        };
        let mut out = BTreeMap::new();
        for _ in 0..n {
            let chosen = b.pick(&ctx, set).unwrap();
            *out.entry(chosen.id.clone()).or_default() += 1;
        }
        out
    }

    #[test]
    fn round_robin_is_even_and_order_independent() {
        let (a, c, d) = (replica("a"), replica("c"), replica("d"));
        let b = Balancer::default();
        let got = counts(
            &b,
            BalanceAlgorithm::RoundRobin,
            &[&d, &a, &c],
            &BTreeMap::new(),
            300,
        );
        assert_eq!(
            got.values().copied().collect::<Vec<_>>(),
            vec![100, 100, 100]
        );
        assert_eq!(
            b.pick(&ctx_ip("1.2.3.4", BalanceAlgorithm::RoundRobin), &[]),
            None
        );
    }

    fn ctx_ip(ip: &str, algorithm: BalanceAlgorithm) -> PickContext<'static> {
        static EMPTY: BTreeMap<String, u32> = BTreeMap::new();
        PickContext {
            service: "oltp",
            algorithm,
            weights: &EMPTY,
            client_ip: ip.parse().unwrap(),
            load: &(),
        }
    }

    #[test]
    fn least_connections_prefers_idle_and_rotates_ties() {
        let (a, c, d) = (replica("a"), replica("c"), replica("d"));
        let load: HashMap<BackendId, usize> = [
            ("a".to_string(), 5),
            ("c".to_string(), 1),
            ("d".to_string(), 1),
        ]
        .into();
        let weights = BTreeMap::new();
        let ctx = PickContext {
            service: "olap",
            algorithm: BalanceAlgorithm::LeastConnections,
            weights: &weights,
            client_ip: "127.0.0.1".parse().unwrap(),
            load: &load,
        };
        let b = Balancer::default();
        let picks: Vec<String> = (0..4)
            .map(|_| b.pick(&ctx, &[&a, &c, &d]).unwrap().id.clone())
            .collect();
        assert_eq!(picks, vec!["c", "d", "c", "d"]);
        let load: HashMap<BackendId, usize> = [("c".to_string(), 9), ("d".to_string(), 9)].into();
        let ctx = PickContext { load: &load, ..ctx };
        assert_eq!(b.pick(&ctx, &[&a, &c, &d]).unwrap().id, "a");
    }

    #[test]
    fn smooth_weighted_round_robin_shares_and_interleaves() {
        let (a, c, d) = (replica("a"), replica("c"), replica("d"));
        let mut weights = BTreeMap::new();
        weights.insert("a".to_string(), 5);
        weights.insert(c.addr.clone(), 1); // by address
        weights.insert("d".to_string(), 0); // out
        let b = Balancer::default();
        let got = counts(
            &b,
            BalanceAlgorithm::WeightedRoundRobin,
            &[&a, &c, &d],
            &weights,
            600,
        );
        assert_eq!(got.get("a"), Some(&500));
        assert_eq!(got.get("c"), Some(&100));
        assert_eq!(got.get("d"), None);
        // Smoothness: with weights 2:1 the sequence is a a c, never c c.
        let mut w2 = BTreeMap::new();
        w2.insert("a".to_string(), 2);
        let b = Balancer::default();
        let ctx = PickContext {
            service: "x",
            algorithm: BalanceAlgorithm::WeightedRoundRobin,
            weights: &w2,
            client_ip: "127.0.0.1".parse().unwrap(),
            load: &(),
        };
        let seq: String = (0..6)
            .map(|_| b.pick(&ctx, &[&a, &c]).unwrap().id.clone())
            .collect();
        assert_eq!(seq, "acaaca");
        // All weights zero: everyone counts as 1.
        let zero: BTreeMap<String, u32> = [("a".to_string(), 0), ("c".to_string(), 0)].into();
        let got = counts(
            &Balancer::default(),
            BalanceAlgorithm::WeightedRoundRobin,
            &[&a, &c],
            &zero,
            10,
        );
        assert_eq!(got.values().copied().collect::<Vec<_>>(), vec![5, 5]);
    }

    #[test]
    fn ip_hash_is_sticky_spread_and_minimally_disrupted() {
        let set: Vec<BackendInfo> = ["r1", "r2", "r3", "r4"].into_iter().map(replica).collect();
        let refs: Vec<&BackendInfo> = set.iter().collect();
        let b = Balancer::default();
        let mut spread: BTreeMap<String, usize> = BTreeMap::new();
        let mut moved = 0;
        for i in 0..400u32 {
            let ip = format!("10.1.{}.{}", i / 256, i % 256);
            let ctx = ctx_ip(&ip, BalanceAlgorithm::IpHash);
            let first = b.pick(&ctx, &refs).unwrap().id.clone();
            let reversed: Vec<&BackendInfo> = refs.iter().rev().copied().collect();
            assert_eq!(
                b.pick(&ctx, &reversed).unwrap().id,
                first,
                "sticky for {ip}"
            );
            *spread.entry(first.clone()).or_default() += 1;
            // Remove r4: only r4's clients move.
            let without: Vec<&BackendInfo> =
                refs.iter().copied().filter(|x| x.id != "r4").collect();
            let after = b.pick(&ctx, &without).unwrap().id.clone();
            if first != "r4" {
                assert_eq!(after, first, "{ip} moved needlessly");
            } else {
                moved += 1;
            }
        }
        assert_eq!(spread.len(), 4);
        assert!(spread.values().all(|&n| n > 60), "uneven: {spread:?}");
        assert_eq!(moved, *spread.get("r4").unwrap());
        assert_eq!(
            rendezvous("::1".parse().unwrap(), "a"),
            rendezvous("::1".parse().unwrap(), "a")
        );
    }
}
