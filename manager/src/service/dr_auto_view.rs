//! What automatic DR failover shows: the quorum view of `GET /dr/status`
//! (`site_quorum`, kept in `DrMemo` and refreshed by `dr_auto.rs` every
//! tick) and its Prometheus gauges. Read-only; no decision is taken here.

use std::time::Instant;

use serde::Serialize;

use super::dr_auto::holds;
use super::{unix_ms, Service};
use crate::raft::ClusterState;
use crate::site_lease::SiteAnswer;

/// What `GET /dr/status` shows of the quorum (kept in `DrMemo`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SiteView {
    pub auto_failover: bool,
    pub site: String,
    pub witness: String,
    pub epoch: u64,
    pub holder: Option<String>,
    /// True while this site holds the current epoch.
    pub holds: bool,
    /// Remaining primary-site lease (this site holds it), in ms.
    pub lease_remaining_ms: Option<u64>,
    /// This site's own voter (leader only): promise left, silence of the holder.
    pub promised_for_ms: Option<u64>,
    pub holder_silent_ms: Option<u64>,
    /// The last answer of each other site (witness first).
    pub peers: Vec<PeerView>,
    pub candidate: bool,
    /// Why the last check did not take over (or what it did).
    pub last_decision: String,
    pub takeovers: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerView {
    pub url: String,
    pub seen_ms: u64,
    pub answer: Option<SiteAnswer>,
    pub error: Option<String>,
}

pub(super) fn record_peers(service: &Service, answers: &[(String, Result<SiteAnswer, String>)]) {
    let now = unix_ms();
    service.dr.lock().site.peers = answers
        .iter()
        .map(|(url, r)| PeerView {
            url: url.clone(),
            seen_ms: now,
            answer: r.as_ref().ok().cloned(),
            error: r.as_ref().err().cloned(),
        })
        .collect();
}

/// Prometheus lines for the quorum (appended to the DR metrics).
pub fn metrics_text(service: &Service, state: &ClusterState) -> String {
    if !service.config.dr.auto_failover {
        return String::new();
    }
    let dr = service.dr.lock();
    let valid = dr.site_lease_until.is_some_and(|u| u > Instant::now());
    let mut text = String::new();
    let mut push = |name: &str, help: &str, value: String| {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        ));
    };
    push(
        "rustydb_dr_site_epoch",
        "The inter-site quorum epoch this site knows",
        state.dr.site.epoch.to_string(),
    );
    push(
        "rustydb_dr_site_holder",
        "1 while this site holds the primary-site epoch",
        u8::from(holds(service, state)).to_string(),
    );
    push(
        "rustydb_dr_site_lease_valid",
        "1 while this site's primary-site lease is valid (leader only)",
        u8::from(valid && holds(service, state)).to_string(),
    );
    push(
        "rustydb_dr_auto_takeovers",
        "Automatic DR failovers run by this member",
        dr.site.takeovers.to_string(),
    );
    text
}
