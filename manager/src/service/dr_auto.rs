//! Automatic DR failover: this manager group as one site of the
//! inter-site quorum (`crate::site_lease`), off unless `[dr]
//! auto_failover = true`.
//!
//! Three sites take part: the primary site, the standby site and a
//! witness (`rustydb witness`). Each manager group is one site; its Raft
//! leader speaks for it, and only while its leadership was confirmed by
//! its own quorum within `lease_ttl / 2` (as for node leases: a deposed
//! leader stops answering for the site within that window, and a new
//! leader starts its voter with the restart rule extended by it).
//!
//! ```text
//!  run (every min(site_lease/4, probe_interval), leader only)
//!   ├─ this site holds the current epoch: renew with the witness and the
//!   │    peer site (POST /site/renew); ≥ 1 grant: lease = send + L − margin
//!   ├─ a primary cluster without the epoch: claim the next one (vote)
//!   └─ a standby cluster: take over when ALL of
//!        · the primary site holds an epoch (it runs the lease: it fences),
//!        · it has not renewed here, and its nodes have not answered our
//!          probes, for auto_failover_after_s,
//!        · the standby lag is within max_lag_tolerance_s,
//!        · our own voter and the witness vote for us (next epoch);
//!      then record the won epoch in Raft and run `dr failover` (the
//!      normal, non-forced one: the lag tolerance applies again)
//!  POST /site/renew, /site/vote (from the other sites): the voter rules,
//!      the ballot written to Raft before the answer when it changes
//!  monitor.rs renew_primary ─► may_renew_node: with auto failover on,
//!      a primary cluster renews its primary's write lease only while the
//!      site lease outlives that node lease (the fence)
//! ```
//!
//! Invariants (on top of `site_lease.rs`'s):
//! - while this site is a candidate (between its own check and the
//!   witness's answer) it grants no renewal, and what it voted for itself
//!   is written to Raft only together with the won epoch;
//! - a primary cluster with auto failover on acknowledges writes only
//!   while its site lease is valid: cut off from both other sites, it
//!   stops renewing its primary's node lease, so the primary refuses
//!   writes before any other site can win the next epoch;
//! - a standby never takes over from a site that never held an epoch:
//!   such a site is not fenced by the lease, so promoting would make two
//!   writable sites.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};

use super::dr_auto_view::record_peers;
use super::error::ServiceError;
use super::http::{json, Answer};
use super::{dr_ops, monitor, Service};
use crate::raft::{ClusterCommand, ClusterState, CommandResult, DrCommand};
use crate::site_lease::{self, RenewRequest, SiteAnswer, VoteRequest, Voter};

pub use super::dr_auto_view::metrics_text;

/// How long one request to another site may take.
const SITE_TIMEOUT: Duration = Duration::from_secs(2);
/// Minimum time between two `dr failover` attempts after a won takeover.
const RETRY_FAILOVER: Duration = Duration::from_secs(30);

/// Leader-local state of the site (behind an async mutex on `Service`).
#[derive(Debug, Default)]
pub struct AutoMemo {
    voter: Option<Voter>,
    /// The `leader_since` the voter was started for.
    voter_for: Option<Instant>,
    candidate: bool,
    last_failover_try: Option<Instant>,
}

/// This site's name in the quorum.
pub fn site_name(service: &Service) -> String {
    let c = &service.config;
    if !c.dr.site.is_empty() {
        c.dr.site.clone()
    } else if !c.datacenter.is_empty() {
        c.datacenter.clone()
    } else {
        format!("site-of-member-{}", c.id)
    }
}

fn lease_of(service: &Service) -> Duration {
    Duration::from_secs_f64(service.config.dr.site_lease_s)
}

fn after_of(service: &Service) -> Duration {
    Duration::from_secs_f64(service.config.dr.auto_failover_after_s)
}

/// Whether this site holds the current epoch (per the replicated state).
pub fn holds(service: &Service, state: &ClusterState) -> bool {
    let s = &state.dr;
    s.site_held > 0
        && s.site_held == s.site.epoch
        && s.site.holder.as_deref() == Some(site_name(service).as_str())
}

/// This member's leadership, if confirmed within `lease_ttl / 2`: when it
/// became leader.
fn fresh_leadership(service: &Service, state: &ClusterState) -> Option<(Instant, Duration)> {
    if !service.raft.is_leader() {
        return None;
    }
    let ttl = Duration::from_millis(state.config.lease_ttl_ms);
    let book = service.lease.lock();
    let since = book.leader_since?;
    book.may_renew(Instant::now(), ttl)
        .then_some((since, ttl / 2))
}

/// The fence: may the primary's node lease be renewed now?
pub fn may_renew_node(service: &Service, state: &ClusterState) -> bool {
    if !service.config.dr.auto_failover || state.dr.standby {
        return true;
    }
    if !holds(service, state) {
        return false;
    }
    let ttl = Duration::from_millis(state.config.lease_ttl_ms);
    let poll = monitor::poll_timeout(state.config.heartbeat_ms, state.config.lease_ttl_ms);
    let until = service.dr.lock().site_lease_until;
    until.is_some_and(|u| u > Instant::now() + ttl + poll)
}

/// The voter for this leadership (restart rule on a new leadership), its
/// ballot taken from the replicated state.
fn voter<'a>(
    memo: &'a mut AutoMemo,
    service: &Service,
    state: &ClusterState,
    since: Instant,
    extra: Duration,
) -> &'a mut Voter {
    if memo.voter_for != Some(since) {
        memo.candidate = false;
        memo.voter_for = Some(since);
        memo.voter = None;
    }
    let v = memo.voter.get_or_insert_with(|| {
        Voter::start(
            &site_name(service),
            state.dr.site.clone(),
            Instant::now(),
            extra,
        )
    });
    // The replicated ballot is the truth (written before any answer).
    v.ballot = state.dr.site.clone();
    v
}

/// Writes the voter's ballot (and a won epoch) to Raft.
async fn persist(service: &Service, ballot: site_lease::Ballot, held: bool) -> Result<(), String> {
    let cmd = ClusterCommand::Dr {
        command: DrCommand::SetSite { ballot, held },
    };
    match service.raft.propose(cmd).await {
        Ok(CommandResult::Rejected { reason }) => Err(reason),
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// `POST /site/renew` or `/site/vote` from another site.
pub async fn handle(
    service: &Arc<Service>,
    vote: Option<VoteRequest>,
    renew: Option<RenewRequest>,
) -> Result<Answer, ServiceError> {
    if !service.config.dr.auto_failover {
        return Err(ServiceError::conflict(
            "automatic DR failover is off on this site",
        ));
    }
    let mut memo = service.site.lock().await;
    // Read under the lock: a concurrent request may just have changed it.
    let (_, state) = service.raft.state();
    let Some((since, extra)) = fresh_leadership(service, &state) else {
        return Err(ServiceError::Unavailable(
            "leadership not confirmed recently".into(),
        ));
    };
    let candidate = memo.candidate;
    let v = voter(&mut memo, service, &state, since, extra);
    let before = v.clone();
    let now = Instant::now();
    let outcome = match (&vote, &renew) {
        (_, Some(r)) if candidate && r.epoch <= v.ballot.epoch => site_lease::Outcome {
            answer: SiteAnswer {
                voter: v.site.clone(),
                granted: false,
                epoch: v.ballot.epoch,
                holder: v.ballot.holder.clone(),
                reason: "this site is taking over".into(),
            },
            persist: false,
        },
        (_, Some(r)) => v.renew(r, now),
        (Some(q), None) if candidate => site_lease::Outcome {
            answer: SiteAnswer {
                voter: v.site.clone(),
                granted: false,
                epoch: v.ballot.epoch,
                holder: v.ballot.holder.clone(),
                reason: format!("this site is a candidate itself (asked by {})", q.site),
            },
            persist: false,
        },
        (Some(q), None) => v.vote(q, now),
        (None, None) => return Err(ServiceError::BadRequest("empty site request".into())),
    };
    if outcome.persist {
        let ballot = v.ballot.clone();
        if let Err(e) = persist(service, ballot, false).await {
            if let Some(v) = memo.voter.as_mut() {
                *v = before;
            }
            return Err(ServiceError::Unavailable(format!(
                "cannot record the ballot: {e}"
            )));
        }
        tracing::warn!(epoch = outcome.answer.epoch, holder = ?outcome.answer.holder,
            reason = %outcome.answer.reason, "site quorum: ballot changed");
    }
    Ok(json(StatusCode::OK, &outcome.answer))
}

/// Sends one site request to the first URL of `urls` that answers.
async fn ask(
    service: &Service,
    urls: &[String],
    path: &str,
    body: &serde_json::Value,
) -> Result<SiteAnswer, String> {
    let mut last = "no URL".to_string();
    let bytes = bytes::Bytes::from(body.to_string());
    for url in urls {
        let mut headers = vec![(hyper::header::CONTENT_TYPE, "application/json".to_string())];
        if !service.config.dr.peer_api_token.is_empty() && !url.eq(&service.config.dr.witness) {
            headers.push((
                hyper::header::AUTHORIZATION,
                format!("Bearer {}", service.config.dr.peer_api_token),
            ));
        }
        let full = format!("{}{path}", url.trim_end_matches('/'));
        match service
            .client
            .send(Method::POST, &full, &headers, bytes.clone(), SITE_TIMEOUT)
            .await
        {
            Ok((code, answer)) if code == StatusCode::OK => {
                return serde_json::from_slice(&answer).map_err(|e| format!("{url}: {e}"))
            }
            Ok((code, answer)) => {
                last = format!("{url}: {code} {}", String::from_utf8_lossy(&answer))
            }
            Err(e) => last = format!("{url}: {e}"),
        }
    }
    Err(last)
}

/// Asks the witness and the peer site; answers (url, result) per site.
async fn ask_all(
    service: &Service,
    path: &str,
    body: &serde_json::Value,
) -> Vec<(String, Result<SiteAnswer, String>)> {
    let dr = &service.config.dr;
    let mut sites = vec![vec![dr.witness.clone()]];
    if !dr.peer_site.is_empty() {
        sites.push(dr.peer_site.clone());
    }
    let asks = sites.iter().map(|urls| ask(service, urls, path, body));
    let answers = futures::future::join_all(asks).await;
    sites
        .iter()
        .map(|u| u.first().cloned().unwrap_or_default())
        .zip(answers)
        .collect()
}

/// One renewal round of the holder.
async fn renew_round(service: &Service, state: &ClusterState, memo: &mut AutoMemo) {
    let lease = lease_of(service);
    let me = site_name(service);
    let req = RenewRequest {
        site: me,
        epoch: state.dr.site.epoch,
        lease_ms: lease.as_millis() as u64,
    };
    // Our own voter backs us too.
    if let Some(v) = memo.voter.as_mut() {
        v.renew(&req, Instant::now());
    }
    let sent = Instant::now();
    let body = serde_json::json!(req);
    let answers = ask_all(service, "/site/renew", &body).await;
    let grants = answers
        .iter()
        .filter(|(_, r)| r.as_ref().is_ok_and(|a| a.granted))
        .count();
    record_peers(service, &answers);
    let mut dr = service.dr.lock();
    if grants >= 1 {
        let until = sent + lease.saturating_sub(site_lease::margin(lease));
        if dr.site_lease_until.is_none_or(|u| u < until) {
            dr.site_lease_until = Some(until);
        }
        if dr.site.last_decision != "holding the primary-site lease" {
            dr.site.last_decision = "holding the primary-site lease".into();
            dr.event(
                super::dr_standby::Level::Ok,
                format!(
                    "site quorum: holding the primary-site lease (epoch {})",
                    state.dr.site.epoch
                ),
            );
        }
    } else if dr.site_lease_until.is_some_and(|u| u <= Instant::now())
        && dr.site.last_decision != "primary-site lease lost"
    {
        dr.site.last_decision = "primary-site lease lost".into();
        dr.event(
            super::dr_standby::Level::Critical,
            "site quorum: no other site renews the primary-site lease: writes are fenced"
                .to_string(),
        );
    }
}

/// Claims the next epoch: our own voter first, then the other sites.
/// True when won (recorded in Raft).
async fn claim(
    service: &Service,
    state: &ClusterState,
    memo: &mut AutoMemo,
    since: Instant,
    extra: Duration,
) -> Result<(), String> {
    let lease = lease_of(service);
    let me = site_name(service);
    let seen = service
        .dr
        .lock()
        .site
        .peers
        .iter()
        .filter_map(|p| p.answer.as_ref().map(|a| a.epoch))
        .max()
        .unwrap_or(0);
    let req = VoteRequest {
        site: me.clone(),
        epoch: state.dr.site.epoch.max(seen) + 1,
        lost: state.dr.site.holder.clone(),
        after_ms: after_of(service).as_millis() as u64,
        lease_ms: lease.as_millis() as u64,
    };
    // Our own vote, in memory only until the epoch is won.
    let mut own = voter(memo, service, state, since, extra).clone();
    let mine = own.vote(&req, Instant::now());
    if !mine.answer.granted {
        return Err(format!("this site's own voter: {}", mine.answer.reason));
    }
    memo.candidate = true;
    let sent = Instant::now();
    let answers = ask_all(service, "/site/vote", &serde_json::json!(req)).await;
    record_peers(service, &answers);
    let granted: Vec<&str> = answers
        .iter()
        .filter(|(_, r)| r.as_ref().is_ok_and(|a| a.granted))
        .map(|(u, _)| u.as_str())
        .collect();
    if granted.is_empty() {
        memo.candidate = false;
        let why: Vec<String> = answers
            .iter()
            .map(|(u, r)| match r {
                Ok(a) => format!("{u}: {}", a.reason),
                Err(e) => e.clone(),
            })
            .collect();
        return Err(format!("no other site voted for us ({})", why.join("; ")));
    }
    let result = persist(service, own.ballot.clone(), true).await;
    memo.candidate = false;
    result?;
    if let Some(v) = memo.voter.as_mut() {
        *v = own;
    }
    let mut dr = service.dr.lock();
    dr.site_lease_until = Some(sent + lease.saturating_sub(site_lease::margin(lease)));
    dr.event(
        super::dr_standby::Level::Warning,
        format!(
            "site quorum: this site ({me}) won epoch {} (votes: {})",
            req.epoch,
            granted.join(", ")
        ),
    );
    Ok(())
}

/// The standby's takeover conditions; Ok when a claim may be tried.
fn takeover_ready(service: &Service, state: &ClusterState) -> Result<(), String> {
    let me = site_name(service);
    let Some(holder) = state.dr.site.holder.clone() else {
        return Err("the primary site holds no site lease (is auto_failover on there?)".into());
    };
    if holder == me {
        return Err("this site is recorded as the holder".into());
    }
    let after = after_of(service);
    let dr = service.dr.lock();
    let remote_seen = dr.last.as_ref().map(|o| o.at).unwrap_or(service.started);
    let silent = remote_seen.elapsed();
    if dr.reachable() || silent < after {
        return Err(format!(
            "the primary site's nodes answered {} ms ago",
            silent.as_millis()
        ));
    }
    let tolerance = service.config.dr.max_lag_tolerance_s;
    match dr.last.as_ref().and_then(|o| o.lag.seconds) {
        Some(l) if l <= tolerance => {}
        Some(l) => {
            return Err(format!(
                "lag {l:.1} s above max_lag_tolerance_s {tolerance}"
            ))
        }
        None => return Err("lag unknown: the standby was never seen caught up".into()),
    }
    Ok(())
}

/// Records the last decision; an event only when its kind changes (the
/// details, like silences in ms, change every tick).
fn decide(service: &Service, kind: &str, detail: &str, level: super::dr_standby::Level) {
    let mut dr = service.dr.lock();
    let text = format!("{kind}: {detail}");
    if !dr.site.last_decision.starts_with(kind) {
        dr.event(level, format!("site quorum: {text}"));
    }
    dr.site.last_decision = text;
}

/// One tick of the site logic (see the module comment).
async fn tick(service: &Arc<Service>) {
    let (_, state) = service.raft.state();
    let Some((since, extra)) = fresh_leadership(service, &state) else {
        service.dr.lock().site_lease_until = None;
        let mut memo = service.site.lock().await;
        memo.voter = None;
        memo.candidate = false;
        return;
    };
    let mut memo = service.site.lock().await;
    // Fresh under the lock (a site request may have changed the ballot).
    let (_, state) = service.raft.state();
    voter(&mut memo, service, &state, since, extra);
    if holds(service, &state) {
        renew_round(service, &state, &mut memo).await;
        if state.dr.standby {
            // Won a takeover; the promotion has not happened yet.
            let due = memo
                .last_failover_try
                .is_none_or(|t| t.elapsed() >= RETRY_FAILOVER);
            if due {
                memo.last_failover_try = Some(Instant::now());
                // Its own task: the site lease must keep being renewed
                // while the promotion waits for its first write.
                tokio::spawn(promote(Arc::clone(service)));
            }
        }
        return;
    }
    service.dr.lock().site_lease_until = None;
    if state.dr.standby {
        if let Err(why) = takeover_ready(service, &state) {
            decide(service, "no takeover", &why, super::dr_standby::Level::Ok);
            return;
        }
    }
    match claim(service, &state, &mut memo, since, extra).await {
        Ok(()) => {
            decide(
                service,
                "won the primary-site epoch",
                "",
                super::dr_standby::Level::Warning,
            );
            if state.dr.standby {
                memo.last_failover_try = Some(Instant::now());
                tokio::spawn(promote(Arc::clone(service)));
            }
        }
        Err(why) => decide(
            service,
            "claim refused",
            &why,
            super::dr_standby::Level::Warning,
        ),
    }
}

/// Runs the normal (non-forced) `dr failover` after a won takeover.
async fn promote(service: Arc<Service>) {
    let request = dr_ops::DrFailoverRequest {
        force: false,
        test_mode: false,
    };
    match dr_ops::failover(&service, request).await {
        Ok(_) => {
            let mut dr = service.dr.lock();
            dr.site.takeovers += 1;
            dr.event(
                super::dr_standby::Level::Critical,
                "automatic DR failover: the primary site was declared lost by the site quorum; this cluster is promoted".into(),
            );
        }
        Err(e) => service.dr.lock().event(
            super::dr_standby::Level::Critical,
            format!("automatic DR failover won the quorum but the promotion failed: {e}"),
        ),
    }
}

/// Refreshes the status view (every tick, every member).
fn refresh_view(service: &Service, state: &ClusterState, memo: Option<&AutoMemo>) {
    let now = Instant::now();
    let holds_now = holds(service, state);
    let mut dr = service.dr.lock();
    let until = dr.site_lease_until;
    let v = &mut dr.site;
    v.auto_failover = service.config.dr.auto_failover;
    v.site = site_name(service);
    v.witness = service.config.dr.witness.clone();
    v.epoch = state.dr.site.epoch;
    v.holder = state.dr.site.holder.clone();
    v.holds = holds_now;
    v.lease_remaining_ms = until
        .filter(|_| holds_now)
        .map(|u| u.saturating_duration_since(now).as_millis() as u64);
    let voter = memo.and_then(|m| m.voter.as_ref());
    v.promised_for_ms =
        voter.map(|x| x.promised_until.saturating_duration_since(now).as_millis() as u64);
    v.holder_silent_ms = voter.and_then(|x| {
        let h = x.ballot.holder.as_ref()?;
        x.heard
            .get(h)
            .map(|t| now.saturating_duration_since(*t).as_millis() as u64)
    });
    v.candidate = memo.is_some_and(|m| m.candidate);
}

/// The site loop (every member; acts on the leader only).
pub async fn run(service: Arc<Service>) {
    if !service.config.dr.auto_failover {
        return;
    }
    let mut stop = service.stop.subscribe();
    let every = (lease_of(&service) / 4)
        .min(Duration::from_millis(service.config.dr.probe_interval_ms))
        .max(Duration::from_millis(100));
    loop {
        tick(&service).await;
        {
            let (_, state) = service.raft.state();
            let memo = service.site.try_lock().ok();
            refresh_view(&service, &state, memo.as_deref());
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}
