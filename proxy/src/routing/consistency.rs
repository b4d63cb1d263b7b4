//! Read consistency levels: how fresh and how near a read must be.
//!
//! A session reads at one of four levels (its `SET rustydb.consistency`,
//! else its startup `-c rustydb.consistency=`, else its service's
//! `consistency`, else `[routing] consistency`, default `global`):
//!
//! | level      | replicas a read may use                                    |
//! |------------|------------------------------------------------------------|
//! | `local`    | in the proxy's own datacenter                              |
//! | `regional` | in the proxy's region (the local ones included)            |
//! | `global`   | any (today's behaviour)                                    |
//! | `strong`   | any that has applied the session's last commit             |
//!
//! The level only narrows the replica candidates; everything else about
//! eligibility (health, bans, `noloadbalance`, the lag limits, the
//! service's read-your-writes floor) applies at every level, and when the
//! level leaves no replica the read falls back to the primary, as any
//! read does when no replica is eligible. Writes are not affected.
//!
//! Where the proxy is ([`Site`]): `datacenter` and `region` from its
//! configuration. When `region` is unset the proxy adopts the region the
//! topology gives its datacenter (dynamic mode: the manager labels each
//! node with both), so configuring the datacenter alone is enough.
//! Labels compare exactly, and an empty label matches an empty label: in
//! static mode (backends carry no labels) a proxy without a datacenter
//! sees every backend as local, so `local` = `regional` = `global`; a
//! proxy that names a datacenter sees no unlabelled backend as local and
//! reads `local`/`regional` from the primary.
//!
//! `strong` needs the session's last commit LSN; the session learns it
//! with the read-your-writes query after each writing transaction (also
//! when the service's `read_your_writes` is off), and the floor then
//! applies whatever that setting says.
//!
//! The proxy answers `SET`/`RESET`/`SHOW rustydb.consistency` itself
//! ([`consistency_command`]); the setting never reaches a backend.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::config::ProxyConfig;
use crate::routing::setting_stmt::{setting_statement, unquote, SettingVerb};
use crate::topology::{BackendInfo, TopologySnapshot};

/// The setting's name, as clients spell it.
pub const CONSISTENCY_GUC: &str = "rustydb.consistency";

/// How near and how fresh a read must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    /// Replicas in the proxy's datacenter.
    Local,
    /// Replicas in the proxy's region.
    Regional,
    /// Any eligible replica.
    #[default]
    Global,
    /// The primary, or a replica that has applied the session's last commit.
    Strong,
}

impl Consistency {
    pub const ALL: [Consistency; 4] = [
        Consistency::Local,
        Consistency::Regional,
        Consistency::Global,
        Consistency::Strong,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Consistency::Local => "local",
            Consistency::Regional => "regional",
            Consistency::Global => "global",
            Consistency::Strong => "strong",
        }
    }

    /// Whether the session must learn its commit LSNs at this level.
    pub fn needs_commit_lsn(self) -> bool {
        self == Consistency::Strong
    }
}

impl fmt::Display for Consistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Consistency {
    type Err = ();

    /// Case-insensitive, as PostgreSQL reads enum settings.
    fn from_str(s: &str) -> Result<Self, ()> {
        Consistency::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or(())
    }
}

/// PostgreSQL's message for a value the setting does not take (`22023`).
pub fn invalid_value_message(value: &str) -> String {
    format!("invalid value for parameter \"{CONSISTENCY_GUC}\": \"{value}\"")
}

/// PostgreSQL's hint listing an enum setting's values.
pub fn available_values_hint() -> String {
    let names: Vec<&str> = Consistency::ALL.iter().map(|c| c.as_str()).collect();
    format!("Available values: {}.", names.join(", "))
}

/// The level a startup packet asks for: a `rustydb.consistency`
/// parameter, overridden by `options` (`-c rustydb.consistency=strong`,
/// the last one wins). An invalid value is PostgreSQL's FATAL `22023`.
pub fn startup_consistency(
    params: &std::collections::HashMap<String, String>,
) -> crate::error::Result<Option<Consistency>> {
    let direct = params
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(CONSISTENCY_GUC))
        .map(|(_, v)| v.clone());
    let from_options = params
        .get("options")
        .map(|o| super::option_settings(o))
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(CONSISTENCY_GUC))
        .map(|(_, v)| v);
    match direct.chain(from_options).last() {
        None => Ok(None),
        Some(v) => v
            .parse::<Consistency>()
            .map(Some)
            .map_err(|()| crate::error::ProxyError::fatal("22023", invalid_value_message(&v))),
    }
}

/// Where the proxy is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub datacenter: String,
    pub region: String,
}

impl Site {
    /// The configured site; an unset region is taken from the topology's
    /// backends in the proxy's datacenter (the first with a region).
    pub fn of(config: &ProxyConfig, topo: &TopologySnapshot) -> Site {
        let region = if config.region.is_empty() && !config.datacenter.is_empty() {
            topo.backends
                .iter()
                .find(|b| b.datacenter == config.datacenter && !b.region.is_empty())
                .map(|b| b.region.clone())
                .unwrap_or_default()
        } else {
            config.region.clone()
        };
        Site {
            datacenter: config.datacenter.clone(),
            region,
        }
    }

    /// Whether `level` lets a read use backend `b` as far as location
    /// goes (freshness is the caller's floor). A backend in the proxy's
    /// datacenter is in its region too, whatever the region labels say.
    pub fn admits(&self, level: Consistency, b: &BackendInfo) -> bool {
        let local = b.datacenter == self.datacenter;
        match level {
            Consistency::Local => local,
            Consistency::Regional => local || (!self.region.is_empty() && b.region == self.region),
            Consistency::Global | Consistency::Strong => true,
        }
    }
}

/// A statement about the setting, answered by the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsistencyCommand {
    /// `SET rustydb.consistency = v` (`None`: `DEFAULT`).
    Set(Option<Consistency>),
    /// `SET` with a value the setting does not take.
    Invalid(String),
    Reset,
    Show,
}

/// Recognises `SET [SESSION] rustydb.consistency {=|TO} v`, `RESET
/// rustydb.consistency` and `SHOW rustydb.consistency`: one statement,
/// an optional trailing semicolon, the value bare or quoted. Anything
/// else (`SET LOCAL`, several statements) is left to the backend.
pub fn consistency_command(sql: &str) -> Option<ConsistencyCommand> {
    let statement = setting_statement(sql)?;
    if statement.name != CONSISTENCY_GUC {
        return None;
    }
    Some(match statement.verb {
        SettingVerb::Show => ConsistencyCommand::Show,
        SettingVerb::Reset => ConsistencyCommand::Reset,
        SettingVerb::Set => parse_set_value(&statement.value),
    })
}

fn parse_set_value(value: &str) -> ConsistencyCommand {
    let bare = value.trim();
    // `DEFAULT` unquoted is the keyword; `'default'` is just a bad value.
    if bare.eq_ignore_ascii_case("default") {
        return ConsistencyCommand::Set(None);
    }
    let v = unquote(bare);
    match v.parse::<Consistency>() {
        Ok(level) => ConsistencyCommand::Set(Some(level)),
        // PostgreSQL folds an unquoted word to lower case before checking it.
        Err(()) if v.len() == bare.len() => ConsistencyCommand::Invalid(v.to_lowercase()),
        Err(()) => ConsistencyCommand::Invalid(v.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "consistency_tests.rs"]
mod tests;
