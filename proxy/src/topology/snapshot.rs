//! Building a snapshot from what the sources know: a pure function.
//!
//! [`build`] takes the members (from the configuration or the manager),
//! the latest probe of each and the ban deadlines, and returns the
//! backends a snapshot lists. No I/O and no clock of its own (`now` is a
//! parameter), so every rule below is unit-tested directly:
//!
//! - role: the manager's word in dynamic mode; in static mode the last
//!   successful probe (`pg_is_in_recovery()` false = primary), kept while
//!   later checks fail (the backend is then unhealthy and banned, but a
//!   blip does not leave the cluster without a primary), `Unknown` before
//!   any probe succeeded. If several servers claim primary (a promoted
//!   replica while the old primary is down or still answers), a healthy
//!   one beats an unhealthy one, then the current primary keeps the role,
//!   then the first in configuration order; the others become `Unknown`
//!   so no write can reach them.
//! - healthy: the last probe succeeded (dynamic mode: and the manager
//!   considers the replica up; before the first probe the manager alone).
//! - replay LSN and lag: the probe's, else the manager's hint; lag in bytes
//!   is the primary's LSN minus the replica's (0 if the probes crossed).

use std::collections::HashMap;
use std::time::Instant;

use super::health::Probe;
use super::{BackendId, BackendInfo, Role};

/// A backend as its source describes it (before health checks).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    pub id: BackendId,
    pub addr: String,
    /// Dynamic mode: the manager's role. Static mode: `None` (detected).
    pub declared: Option<Role>,
    pub datacenter: String,
    pub region: String,
    pub tags: Vec<String>,
    pub noloadbalance: bool,
    pub sync: bool,
    /// The manager's liveness verdict (dynamic mode).
    pub source_healthy: Option<bool>,
    pub source_lsn: Option<u64>,
    pub source_lag_bytes: Option<u64>,
    pub source_lag_ms: Option<f64>,
}

impl Member {
    /// A static-mode member: everything is detected.
    pub(crate) fn detected(addr: &str) -> Member {
        Member {
            id: addr.to_string(),
            addr: addr.to_string(),
            declared: None,
            datacenter: String::new(),
            region: String::new(),
            tags: Vec::new(),
            noloadbalance: false,
            sync: false,
            source_healthy: None,
            source_lsn: None,
            source_lag_bytes: None,
            source_lag_ms: None,
        }
    }
}

/// The latest check of one backend.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Checked {
    Ok(Probe),
    /// `last`: the most recent successful probe before the failures.
    Failed {
        reason: String,
        last: Option<Probe>,
    },
}

impl Checked {
    /// The latest successful probe, current or remembered.
    pub(crate) fn last_ok(&self) -> Option<Probe> {
        match self {
            Checked::Ok(p) => Some(*p),
            Checked::Failed { last, .. } => *last,
        }
    }
}

/// The backends of a snapshot, in member order.
pub(crate) fn build(
    members: &[Member],
    probes: &HashMap<BackendId, Checked>,
    bans: &HashMap<BackendId, Instant>,
    now: Instant,
    current_primary: Option<&str>,
) -> Vec<BackendInfo> {
    let mut backends: Vec<BackendInfo> = members
        .iter()
        .map(|m| {
            let probe = probes.get(&m.id);
            let ok = match probe {
                Some(Checked::Ok(p)) => Some(*p),
                _ => None,
            };
            let role = match m.declared {
                Some(role) => role,
                None => match probe.and_then(Checked::last_ok) {
                    Some(p) if p.in_recovery => Role::Replica,
                    Some(_) => Role::Primary,
                    None => Role::Unknown,
                },
            };
            let healthy = match probe {
                // Our own successful probe is fresher than the manager's
                // view (which only moves with its Raft index), unless it
                // contradicts the declared role: a declared replica that
                // is not in recovery is a cut-off old primary.
                Some(Checked::Ok(p)) => match m.declared {
                    Some(Role::Replica) => p.in_recovery,
                    _ => true,
                },
                Some(Checked::Failed { .. }) => false,
                None => m.source_healthy.unwrap_or(m.declared.is_some()),
            };
            BackendInfo {
                id: m.id.clone(),
                addr: m.addr.clone(),
                role,
                datacenter: m.datacenter.clone(),
                region: m.region.clone(),
                tags: m.tags.clone(),
                noloadbalance: m.noloadbalance,
                healthy,
                banned: bans.get(&m.id).is_some_and(|until| *until > now),
                replay_lsn: ok.and_then(|p| p.lsn).or(m.source_lsn),
                lag_bytes: None,
                lag_ms: m.source_lag_ms,
                sync: m.sync,
            }
        })
        .collect();
    resolve_primaries(&mut backends, current_primary);
    // Lag from our own probes only: mixing them with the manager's LSNs
    // would compare positions read at unrelated times.
    let probed = |id: &str| match probes.get(id) {
        Some(Checked::Ok(p)) => p.lsn,
        _ => None,
    };
    let primary_lsn = backends
        .iter()
        .find(|b| b.role == Role::Primary)
        .and_then(|p| probed(&p.id));
    for (b, m) in backends.iter_mut().zip(members) {
        b.lag_bytes = match b.role {
            Role::Primary => Some(0),
            Role::Replica => match (primary_lsn, probed(&b.id)) {
                (Some(p), Some(r)) => Some(p.saturating_sub(r)),
                _ => m.source_lag_bytes,
            },
            Role::Unknown => m.source_lag_bytes,
        };
        if b.role == Role::Primary {
            b.lag_ms = Some(0.0);
        }
    }
    backends
}

/// Leaves at most one primary (see the module comment).
fn resolve_primaries(backends: &mut [BackendInfo], current: Option<&str>) {
    let claimants: Vec<usize> = backends
        .iter()
        .enumerate()
        .filter(|(_, b)| b.role == Role::Primary)
        .map(|(i, _)| i)
        .collect();
    if claimants.len() < 2 {
        return;
    }
    let healthy: Vec<usize> = claimants
        .iter()
        .copied()
        .filter(|i| backends[*i].healthy)
        .collect();
    let pool = if healthy.is_empty() {
        &claimants
    } else {
        &healthy
    };
    let Some(&first) = pool.first() else {
        return;
    };
    let keep = pool
        .iter()
        .copied()
        .find(|i| current.is_some_and(|c| backends[*i].id == c))
        .unwrap_or(first);
    for i in claimants {
        if i != keep {
            tracing::warn!(
                backend = %backends[i].id,
                primary = %backends[keep].id,
                "two backends claim to be primary; ignoring this one"
            );
            backends[i].role = Role::Unknown;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ok(in_recovery: bool, lsn: u64) -> Checked {
        Checked::Ok(Probe {
            in_recovery,
            lsn: Some(lsn),
        })
    }

    #[test]
    fn static_roles_come_from_probes_and_lag_from_lsns() {
        let members = vec![
            Member::detected("a:1"),
            Member::detected("b:2"),
            Member::detected("c:3"),
        ];
        let mut probes = HashMap::new();
        let now = Instant::now();
        let none = build(&members, &probes, &HashMap::new(), now, None);
        assert!(none.iter().all(|b| b.role == Role::Unknown && !b.healthy));

        probes.insert("a:1".to_string(), ok(false, 1000));
        probes.insert("b:2".to_string(), ok(true, 400));
        probes.insert(
            "c:3".to_string(),
            Checked::Failed {
                reason: "refused".into(),
                last: None,
            },
        );
        let mut bans = HashMap::new();
        bans.insert("c:3".to_string(), now + Duration::from_secs(1));
        bans.insert("b:2".to_string(), now - Duration::from_secs(1));
        let b = build(&members, &probes, &bans, now, None);
        assert_eq!(
            (b[0].role, b[0].healthy, b[0].lag_bytes),
            (Role::Primary, true, Some(0))
        );
        assert_eq!(
            (b[1].role, b[1].replay_lsn, b[1].lag_bytes),
            (Role::Replica, Some(400), Some(600))
        );
        assert!(!b[1].banned, "an expired ban is no ban");
        assert_eq!(
            (b[2].role, b[2].healthy, b[2].banned),
            (Role::Unknown, false, true)
        );
    }

    #[test]
    fn two_claimed_primaries_keep_the_current_one() {
        let members = vec![Member::detected("a:1"), Member::detected("b:2")];
        let mut probes = HashMap::new();
        probes.insert("a:1".to_string(), ok(false, 10));
        probes.insert("b:2".to_string(), ok(false, 20));
        let now = Instant::now();
        let b = build(&members, &probes, &HashMap::new(), now, Some("b:2"));
        assert_eq!((b[0].role, b[1].role), (Role::Unknown, Role::Primary));
        let b = build(&members, &probes, &HashMap::new(), now, None);
        assert_eq!((b[0].role, b[1].role), (Role::Primary, Role::Unknown));

        // The current primary dies after b was promoted: the healthy
        // claimant wins, the dead one keeps no role.
        let failed = |lsn| Checked::Failed {
            reason: "refused".into(),
            last: Some(Probe {
                in_recovery: false,
                lsn: Some(lsn),
            }),
        };
        probes.insert("a:1".to_string(), failed(10));
        let b = build(&members, &probes, &HashMap::new(), now, Some("a:1"));
        assert_eq!((b[0].role, b[1].role), (Role::Unknown, Role::Primary));
        assert!(!b[0].healthy && b[0].replay_lsn.is_none());
    }

    #[test]
    fn a_failed_check_keeps_the_last_role_but_not_health() {
        let members = vec![Member::detected("a:1")];
        let mut probes = HashMap::new();
        probes.insert(
            "a:1".to_string(),
            Checked::Failed {
                reason: "timeout".into(),
                last: Some(Probe {
                    in_recovery: false,
                    lsn: Some(5),
                }),
            },
        );
        let b = build(&members, &probes, &HashMap::new(), Instant::now(), None);
        assert_eq!((b[0].role, b[0].healthy), (Role::Primary, false));
    }

    #[test]
    fn dynamic_roles_are_the_managers_and_probes_refine_health() {
        let mut replica = Member::detected("r:2");
        replica.id = "n2".into();
        replica.declared = Some(Role::Replica);
        replica.source_healthy = Some(true);
        replica.source_lag_bytes = Some(77);
        replica.source_lsn = Some(5);
        let mut primary = Member::detected("p:1");
        primary.id = "n1".into();
        primary.declared = Some(Role::Primary);
        let members = vec![primary, replica];
        let now = Instant::now();
        let mut probes = HashMap::new();
        let b = build(&members, &probes, &HashMap::new(), now, None);
        assert!(
            b[0].healthy && b[1].healthy,
            "trusted before the first probe"
        );
        assert_eq!((b[1].replay_lsn, b[1].lag_bytes), (Some(5), Some(77)));
        // A primary still in recovery by its own word stays primary: the
        // manager decides roles.
        probes.insert("n1".to_string(), ok(true, 500));
        probes.insert("n2".to_string(), ok(true, 450));
        let b = build(&members, &probes, &HashMap::new(), now, None);
        assert_eq!(b[0].role, Role::Primary);
        assert_eq!((b[1].replay_lsn, b[1].lag_bytes), (Some(450), Some(50)));
        probes.insert(
            "n2".to_string(),
            Checked::Failed {
                reason: "timeout".into(),
                last: None,
            },
        );
        let b = build(&members, &probes, &HashMap::new(), now, None);
        assert!(!b[1].healthy);
        assert_eq!(b[1].lag_bytes, Some(77), "falls back to the manager's lag");
    }
}
