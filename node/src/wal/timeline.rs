//! Timelines: which primary wrote which stretch of the log.
//!
//! Every promotion starts a new timeline at the promoted node's next LSN and
//! appends `(timeline, start_lsn, reason, time)` to the node's history. The
//! history travels with the log: a replica adopts its upstream's history, so
//! all nodes that followed the same primaries hold the same list.
//!
//! Two nodes agree on the log up to their *fork point*: the last LSN both
//! histories attribute to the same timeline. A node whose log goes past the
//! fork point holds records of a timeline the other side abandoned; it must
//! undo them (rewind) or re-clone before it follows that side. Comparing
//! histories, not record contents, is what makes this cheap and exact: a
//! timeline has one writer, so "same timeline at this LSN" means "same
//! record".

use serde::{Deserialize, Serialize};

use crate::error::{NodeError, Result};

/// One entry of the timeline history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub timeline: u64,
    /// First LSN written on this timeline.
    pub start_lsn: u64,
    /// Why the timeline began (`initial`, `promote`, `restore`, ...).
    pub reason: String,
    /// Microseconds since the Unix epoch.
    pub time_micros: u64,
}

/// A node's timeline history, oldest first; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineHistory {
    pub entries: Vec<TimelineEntry>,
}

impl TimelineHistory {
    /// The history of a fresh node: timeline 1 from LSN 1.
    pub fn initial() -> TimelineHistory {
        TimelineHistory {
            entries: vec![TimelineEntry {
                timeline: 1,
                start_lsn: 1,
                reason: "initial".into(),
                time_micros: 0,
            }],
        }
    }

    /// Decodes the stored JSON form, checking it is well formed.
    pub fn decode(bytes: &[u8]) -> Result<TimelineHistory> {
        let history: TimelineHistory = serde_json::from_slice(bytes)
            .map_err(|e| NodeError::Corrupt(format!("timeline history: {e}")))?;
        history.validate()?;
        Ok(history)
    }

    /// The stored JSON form.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain structs of integers and strings cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Timelines strictly increase and start LSNs never decrease.
    pub fn validate(&self) -> Result<()> {
        if self.entries.is_empty() {
            return Err(NodeError::Corrupt("empty timeline history".into()));
        }
        for pair in self.entries.windows(2) {
            if let [a, b] = pair {
                if b.timeline <= a.timeline || b.start_lsn < a.start_lsn {
                    return Err(NodeError::Corrupt(format!(
                        "timeline history out of order: {} at {} then {} at {}",
                        a.timeline, a.start_lsn, b.timeline, b.start_lsn
                    )));
                }
            }
        }
        Ok(())
    }

    /// The current (last) timeline.
    pub fn current(&self) -> u64 {
        self.entries.last().map_or(1, |e| e.timeline)
    }

    /// The timeline that wrote `lsn` according to this history.
    pub fn timeline_at(&self, lsn: u64) -> u64 {
        self.entries
            .iter()
            .rev()
            .find(|e| e.start_lsn <= lsn)
            .or(self.entries.first())
            .map_or(1, |e| e.timeline)
    }

    /// Appends a new timeline starting at `start_lsn`.
    pub fn push(&mut self, start_lsn: u64, reason: &str, time_micros: u64) -> u64 {
        let timeline = self.current() + 1;
        self.entries.push(TimelineEntry {
            timeline,
            start_lsn,
            reason: reason.into(),
            time_micros,
        });
        timeline
    }

    /// The last LSN on which this history and `other` agree: every LSN up to
    /// it belongs to the same timeline in both. `None` means they agree
    /// everywhere (one history is a prefix of the other with no later
    /// switch), i.e. no fork.
    pub fn fork_point(&self, other: &TimelineHistory) -> Option<u64> {
        let mut earliest_difference: Option<u64> = None;
        let mut note = |lsn: u64| {
            earliest_difference = Some(earliest_difference.map_or(lsn, |d| d.min(lsn)));
        };
        let n = self.entries.len().max(other.entries.len());
        for i in 0..n {
            match (self.entries.get(i), other.entries.get(i)) {
                (Some(a), Some(b)) if a.timeline == b.timeline && a.start_lsn == b.start_lsn => {}
                (Some(a), Some(b)) => {
                    note(a.start_lsn.min(b.start_lsn));
                    break;
                }
                (Some(a), None) => {
                    note(a.start_lsn);
                    break;
                }
                (None, Some(b)) => {
                    note(b.start_lsn);
                    break;
                }
                (None, None) => break,
            }
        }
        earliest_difference.map(|first_differing| first_differing.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(points: &[(u64, u64)]) -> TimelineHistory {
        TimelineHistory {
            entries: points
                .iter()
                .map(|&(timeline, start_lsn)| TimelineEntry {
                    timeline,
                    start_lsn,
                    reason: "test".into(),
                    time_micros: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn identical_histories_do_not_fork() {
        let a = history(&[(1, 1), (2, 50)]);
        assert_eq!(a.fork_point(&a.clone()), None);
    }

    #[test]
    fn a_promotion_forks_at_the_last_lsn_of_the_old_timeline() {
        let old = history(&[(1, 1)]);
        let new = history(&[(1, 1), (2, 91)]);
        assert_eq!(old.fork_point(&new), Some(90));
        assert_eq!(new.fork_point(&old), Some(90));
    }

    #[test]
    fn competing_promotions_fork_at_the_earlier_one() {
        let a = history(&[(1, 1), (2, 80)]);
        let b = history(&[(1, 1), (2, 95)]);
        assert_eq!(a.fork_point(&b), Some(79));
    }

    #[test]
    fn timeline_at_follows_start_lsns() {
        let h = history(&[(1, 1), (2, 10), (4, 30)]);
        assert_eq!(h.timeline_at(5), 1);
        assert_eq!(h.timeline_at(10), 2);
        assert_eq!(h.timeline_at(29), 2);
        assert_eq!(h.timeline_at(1000), 4);
    }

    #[test]
    fn out_of_order_histories_are_rejected() {
        let bad = history(&[(2, 1), (1, 5)]);
        assert!(TimelineHistory::decode(&bad.encode()).is_err());
        assert!(TimelineHistory::decode(b"{}").is_err());
    }
}
