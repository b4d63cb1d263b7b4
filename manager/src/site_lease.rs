//! The inter-site quorum behind automatic DR failover: a majority lease
//! over three sites (the primary site, the standby site, a witness).
//!
//! One *site* is a whole manager group (its Raft leader speaks for it) or
//! the witness process (`rustydb witness`). Each site is a **voter** with
//! a durable `(epoch, holder)` pair and, in memory, a *promise*: "until
//! `promised_until` I will not vote for anyone but `holder`". The
//! primary site is the **holder** of the current epoch; it keeps a
//! *primary-site lease* while a majority (itself plus one other site)
//! renews it, and its managers renew their primary node's write lease only
//! while that site lease will outlive it (`service/dr_auto.rs`).
//!
//! ```text
//!   holder (dc1)  ── renew {site: dc1, epoch E, lease_ms L} every L/4 ──► dc2, witness
//!                 ◄── granted: promise to dc1 until receipt + L ──────────
//!   dc1 lease = send time + L - margin, while ≥ 1 of the two grants
//!
//!   standby (dc2) ── vote {site: dc2, epoch E+1, lost: dc1} ──► witness
//!                 granted only if the witness's promise to dc1 ran out
//!                 AND it has not heard dc1 for after_ms; then (E+1, dc2)
//!                 is written durably before the answer
//! ```
//!
//! Rules of a voter (all in [`Voter`], pure, given `now`):
//! - **renew** `{site, epoch}`: a lower epoch is refused (the answer
//!   carries the voter's epoch and holder: that is how a returning old
//!   primary learns it was deposed); a higher epoch is adopted (someone
//!   won it with a majority); in the voter's epoch only the holder is
//!   granted, and the promise is extended to `now + lease_ms`.
//! - **vote** `{site, epoch, lost}`: granted only for an epoch above the
//!   voter's, when its promise has run out and its own holder (whatever
//!   the candidate claims in `lost`, which is informational) has not
//!   renewed for `after_ms`. Repeating a granted vote is granted again
//!   (idempotent retries).
//! - **restart**: a voter that (re)starts does not know when it last
//!   promised, so it assumes it promised the holder just now, for the
//!   longest lease it has seen, and that it heard the holder just now.
//!
//! Invariants (why two writable sites cannot happen, clock *rates* within
//! a few percent; no synchronised clocks needed):
//! 1. In one epoch a voter votes for at most one site, and `(epoch,
//!    holder)` is durable before a vote is answered; epochs only grow.
//!    Two sites holding the same epoch would need two majorities of three
//!    that do not intersect.
//! 2. The holder counts its lease from the moment it *sent* the renewal,
//!    minus a margin; every voter that granted promised from the moment it
//!    *received* it, plus nothing. So the holder's lease ends (in real
//!    time) before every promise backing it.
//! 3. A new epoch needs a majority, hence at least one voter that granted
//!    the old holder; that voter votes only after its promise ran out, so
//!    only after the old holder's lease ended, and it never renews the old
//!    epoch afterwards. The old holder's node write lease is renewed only
//!    while the site lease outlives it, so the old primary stops
//!    acknowledging writes before the new epoch exists.
//! 4. The site that is declared lost is never part of the majority that
//!    declares it: a standby cut off from the primary while the witness
//!    still hears it gets no vote, whatever it believes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// `POST /site/renew`: the holder asks a voter to keep backing its lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    pub site: String,
    pub epoch: u64,
    pub lease_ms: u64,
}

/// `POST /site/vote`: a site asks to hold the next epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteRequest {
    pub site: String,
    pub epoch: u64,
    /// The holder the candidate declares lost (informational: the voter
    /// judges by its own holder's silence).
    pub lost: Option<String>,
    /// How long the voter must not have heard the holder.
    pub after_ms: u64,
    pub lease_ms: u64,
}

/// A voter's answer to either request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteAnswer {
    /// The answering site.
    pub voter: String,
    pub granted: bool,
    /// The voter's epoch and holder after handling the request.
    pub epoch: u64,
    pub holder: Option<String>,
    pub reason: String,
}

/// The durable part of a voter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Ballot {
    pub epoch: u64,
    pub holder: Option<String>,
    /// The longest lease ever promised (for the restart rule).
    #[serde(default)]
    pub max_lease_ms: u64,
}

/// What the caller must do after a request: persist the ballot first
/// (before answering) when `persist` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub answer: SiteAnswer,
    pub persist: bool,
}

/// One voter (the witness, or a manager group's leader for its site).
#[derive(Debug, Clone)]
pub struct Voter {
    pub site: String,
    pub ballot: Ballot,
    pub promised_until: Instant,
    /// When each site last had a renewal granted here.
    pub heard: BTreeMap<String, Instant>,
}

impl Voter {
    /// A voter that starts (or restarts, or just became its group's
    /// leader) at `now`: the restart rule of the module comment, with
    /// `extra` for how long a predecessor may still have been granting.
    pub fn start(site: &str, ballot: Ballot, now: Instant, extra: Duration) -> Voter {
        let promise = Duration::from_millis(ballot.max_lease_ms) + extra;
        let mut heard = BTreeMap::new();
        if let Some(h) = &ballot.holder {
            heard.insert(h.clone(), now + extra);
        }
        Voter {
            site: site.to_string(),
            ballot,
            promised_until: now + promise,
            heard,
        }
    }

    fn answer(&self, granted: bool, reason: impl Into<String>) -> SiteAnswer {
        SiteAnswer {
            voter: self.site.clone(),
            granted,
            epoch: self.ballot.epoch,
            holder: self.ballot.holder.clone(),
            reason: reason.into(),
        }
    }

    fn note_lease(&mut self, lease_ms: u64) -> bool {
        if lease_ms > self.ballot.max_lease_ms {
            self.ballot.max_lease_ms = lease_ms;
            return true;
        }
        false
    }

    /// Handles a renewal.
    pub fn renew(&mut self, req: &RenewRequest, now: Instant) -> Outcome {
        let mut persist = false;
        if req.epoch < self.ballot.epoch {
            return Outcome {
                answer: self.answer(false, "stale epoch: the primary-site role moved on"),
                persist,
            };
        }
        if req.epoch > self.ballot.epoch {
            // A majority gave it this epoch while we were not asked.
            self.ballot.epoch = req.epoch;
            self.ballot.holder = Some(req.site.clone());
            persist = true;
        }
        if self.ballot.holder.as_deref() != Some(req.site.as_str()) {
            return Outcome {
                answer: self.answer(false, "not the holder of this epoch"),
                persist,
            };
        }
        persist |= self.note_lease(req.lease_ms);
        let until = now + Duration::from_millis(req.lease_ms);
        if until > self.promised_until {
            self.promised_until = until;
        }
        self.heard.insert(req.site.clone(), now);
        Outcome {
            answer: self.answer(true, "renewed"),
            persist,
        }
    }

    /// Handles a vote request.
    pub fn vote(&mut self, req: &VoteRequest, now: Instant) -> Outcome {
        let refuse = |v: &Voter, why: String| Outcome {
            answer: v.answer(false, why),
            persist: false,
        };
        if req.epoch == self.ballot.epoch && self.ballot.holder.as_deref() == Some(&req.site) {
            return Outcome {
                answer: self.answer(true, "already voted for this site in this epoch"),
                persist: false,
            };
        }
        if req.epoch <= self.ballot.epoch {
            return refuse(
                self,
                format!(
                    "epoch {} is not newer than {}",
                    req.epoch, self.ballot.epoch
                ),
            );
        }
        if now < self.promised_until {
            let left = self.promised_until.saturating_duration_since(now);
            return refuse(
                self,
                format!(
                    "promised to {:?} for another {} ms",
                    self.ballot.holder,
                    left.as_millis()
                ),
            );
        }
        if let Some(h) = &self.ballot.holder {
            let after = Duration::from_millis(req.after_ms);
            if let Some(at) = self.heard.get(h) {
                let silent = now.saturating_duration_since(*at);
                if silent < after {
                    return refuse(
                        self,
                        format!("{h} renewed {} ms ago: still alive", silent.as_millis()),
                    );
                }
            }
        }
        self.ballot.epoch = req.epoch;
        self.ballot.holder = Some(req.site.clone());
        self.note_lease(req.lease_ms);
        self.promised_until = now + Duration::from_millis(req.lease_ms);
        self.heard.insert(req.site.clone(), now);
        Outcome {
            answer: self.answer(true, "voted"),
            persist: true,
        }
    }

    /// Adopts a higher epoch learnt from another site's answer (the
    /// holder recorded there won it with a majority). True when it changed.
    pub fn adopt(&mut self, epoch: u64, holder: Option<String>, now: Instant) -> bool {
        if epoch <= self.ballot.epoch || holder.is_none() {
            return false;
        }
        self.ballot.epoch = epoch;
        if let Some(h) = &holder {
            self.heard.insert(h.clone(), now);
        }
        self.ballot.holder = holder;
        true
    }
}

/// The holder's margin: its lease ends this much before the promises.
pub fn margin(lease: Duration) -> Duration {
    (lease / 20).max(Duration::from_millis(200))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voter(now: Instant) -> Voter {
        Voter::start("w", Ballot::default(), now, Duration::ZERO)
    }

    fn vote(site: &str, epoch: u64, lost: Option<&str>) -> VoteRequest {
        VoteRequest {
            site: site.into(),
            epoch,
            lost: lost.map(str::to_string),
            after_ms: 3000,
            lease_ms: 1000,
        }
    }

    fn renew(site: &str, epoch: u64) -> RenewRequest {
        RenewRequest {
            site: site.into(),
            epoch,
            lease_ms: 1000,
        }
    }

    #[test]
    fn holder_is_deposed_only_after_silence_and_promise() {
        let t0 = Instant::now();
        let mut w = voter(t0);
        assert!(w.vote(&vote("dc1", 1, None), t0).answer.granted);
        assert!(w.renew(&renew("dc1", 1), t0).answer.granted);
        // dc2 while dc1 still renews: refused (partition dc1-dc2 only).
        let t1 = t0 + Duration::from_millis(500);
        assert!(!w.vote(&vote("dc2", 2, Some("dc1")), t1).answer.granted);
        // Promise over but dc1 renewed 1.5 s ago: refused.
        let t2 = t0 + Duration::from_millis(1500);
        assert!(!w.vote(&vote("dc2", 2, Some("dc1")), t2).answer.granted);
        // 3 s of silence: granted, durably.
        let t3 = t0 + Duration::from_millis(3100);
        let o = w.vote(&vote("dc2", 2, Some("dc1")), t3);
        assert!(o.answer.granted && o.persist);
        // The old holder comes back: refused, and told who holds now.
        let r = w.renew(&renew("dc1", 1), t3).answer;
        assert!(!r.granted);
        assert_eq!((r.epoch, r.holder.as_deref()), (2, Some("dc2")));
        // Retried vote is idempotent; a competing one in the same epoch is not.
        assert!(w.vote(&vote("dc2", 2, Some("dc1")), t3).answer.granted);
        assert!(!w.vote(&vote("dc1", 2, Some("dc1")), t3).answer.granted);
    }

    #[test]
    fn stale_epochs_are_refused_and_epochs_may_jump() {
        let t0 = Instant::now();
        let mut w = voter(t0);
        assert!(w.vote(&vote("dc1", 5, None), t0).answer.granted);
        assert!(!w.vote(&vote("dc2", 5, None), t0).answer.granted);
        assert!(!w.vote(&vote("dc2", 4, None), t0).answer.granted);
        assert_eq!(w.ballot.holder.as_deref(), Some("dc1"));
    }

    #[test]
    fn restart_assumes_a_fresh_promise() {
        let t0 = Instant::now();
        let ballot = Ballot {
            epoch: 3,
            holder: Some("dc1".into()),
            max_lease_ms: 2000,
        };
        let mut w = Voter::start("w", ballot, t0, Duration::ZERO);
        let mut req = vote("dc2", 4, Some("dc1"));
        req.after_ms = 0;
        assert!(
            !w.vote(&req, t0 + Duration::from_millis(1900))
                .answer
                .granted
        );
        assert!(
            w.vote(&req, t0 + Duration::from_millis(2100))
                .answer
                .granted
        );
    }

    #[test]
    fn renewal_of_a_higher_epoch_is_adopted() {
        let t0 = Instant::now();
        let mut w = voter(t0);
        let o = w.renew(&renew("dc2", 4), t0);
        assert!(o.answer.granted && o.persist);
        assert_eq!(w.ballot.holder.as_deref(), Some("dc2"));
        assert!(!w.renew(&renew("dc1", 4), t0).answer.granted);
    }
}
