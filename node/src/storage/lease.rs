//! The primary's lease: it may acknowledge commits only while it holds one.
//!
//! Design decision 4: the manager renews the primary's lease with its
//! heartbeats; a primary that stops hearing from the manager (partitioned,
//! paused, its manager gone) stops acknowledging commits *by itself* once
//! the lease runs out, so the manager can promote another node after the
//! lease's TTL without two nodes ever acknowledging commits at once.
//!
//! The deadline is kept on the monotonic clock (nanoseconds since the lease
//! object was made), so wall-clock jumps cannot extend it. Until the first
//! renewal the lease is not enforced: a standalone node (no manager) works
//! as before. The group committer checks it twice per group: before writing
//! (nothing is written without a lease) and after the fsync (a commit that
//! became durable only after expiry — the process was paused in between —
//! is reported as not acknowledged).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const NOT_ENFORCED: u64 = u64::MAX;

/// A renewable deadline on the monotonic clock.
pub struct Lease {
    origin: Instant,
    deadline_nanos: AtomicU64,
}

impl Default for Lease {
    fn default() -> Self {
        Lease {
            origin: Instant::now(),
            deadline_nanos: AtomicU64::new(NOT_ENFORCED),
        }
    }
}

impl Lease {
    fn now_nanos(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX - 1)
    }

    /// Extends the lease to `ttl` from now (and starts enforcing it).
    pub fn renew(&self, ttl: Duration) {
        let ttl = u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX / 2);
        let deadline = self.now_nanos().saturating_add(ttl).min(NOT_ENFORCED - 1);
        self.deadline_nanos.store(deadline, Ordering::Release);
    }

    /// Revokes the lease at once: no commit is acknowledged until renewed.
    pub fn revoke(&self) {
        self.deadline_nanos.store(0, Ordering::Release);
    }

    /// Stops enforcing the lease (a node without a manager).
    pub fn disable(&self) {
        self.deadline_nanos.store(NOT_ENFORCED, Ordering::Release);
    }

    /// Whether commits may be acknowledged now.
    pub fn valid(&self) -> bool {
        let deadline = self.deadline_nanos.load(Ordering::Acquire);
        deadline == NOT_ENFORCED || self.now_nanos() < deadline
    }

    /// Time left, or `None` when the lease is not enforced.
    pub fn remaining(&self) -> Option<Duration> {
        let deadline = self.deadline_nanos.load(Ordering::Acquire);
        (deadline != NOT_ENFORCED)
            .then(|| Duration::from_nanos(deadline.saturating_sub(self.now_nanos())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_expires_and_renews() {
        let lease = Lease::default();
        assert!(lease.valid());
        assert_eq!(lease.remaining(), None);
        lease.renew(Duration::from_millis(30));
        assert!(lease.valid());
        std::thread::sleep(Duration::from_millis(40));
        assert!(!lease.valid());
        lease.renew(Duration::from_secs(5));
        assert!(lease.valid());
        lease.revoke();
        assert!(!lease.valid());
        lease.disable();
        assert!(lease.valid());
    }
}
