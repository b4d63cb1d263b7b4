//! HBA rules: which authentication method a connection gets.
//!
//! A rule from the config ([`HbaRule`]) is compiled once into a [`Rule`]
//! (parsed address, method enum, name lists) so that matching a connection
//! is a handful of comparisons. As in `pg_hba.conf`, the FIRST rule whose
//! connection type, address, user and database all match decides the
//! method; no matching rule means the connection is refused with
//! PostgreSQL's "no pg_hba.conf entry" message (the caller's job, see
//! `auth::Authenticator::authenticate`).
//!
//! Supported fields: type `host` (TLS or not), `hostssl` (TLS only),
//! `hostnossl` (plain only); address `all`, an IP, or a CIDR (IPv4 or
//! IPv6); user and database `all`, a name, or a comma-separated list of
//! names (database also `sameuser`). An IPv4-mapped IPv6 peer
//! (`::ffff:10.0.0.1`) is matched as the IPv4 address it carries, so one
//! IPv4 rule works whether the proxy listens on `0.0.0.0` or `[::]`.

use std::net::IpAddr;

use crate::config::HbaRule;
use crate::error::{ProxyError, Result};

/// How a client proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Trust,
    Reject,
    Md5,
    ScramSha256,
    /// Cleartext password (meant for TLS connections).
    Password,
}

impl Method {
    fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "trust" => Method::Trust,
            "reject" => Method::Reject,
            "md5" => Method::Md5,
            "scram-sha-256" => Method::ScramSha256,
            "password" => Method::Password,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Host,
    HostSsl,
    HostNoSsl,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Address {
    All,
    /// Network address (already masked) and prefix length.
    Net(IpAddr, u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Names {
    All,
    /// Database only: the database named like the user.
    SameUser,
    List(Vec<String>),
}

/// One compiled rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    kind: Kind,
    address: Address,
    users: Names,
    databases: Names,
    pub method: Method,
    /// Position in the config (1-based), for logs.
    pub line: usize,
}

/// Compiles the configured rules, rejecting unknown keywords and bad
/// addresses with an error naming the rule.
pub fn compile(rules: &[HbaRule]) -> Result<Vec<Rule>> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| compile_one(r, i + 1))
        .collect()
}

fn compile_one(r: &HbaRule, line: usize) -> Result<Rule> {
    let bad = |what: String| ProxyError::Config(format!("auth.hba rule {line}: {what}"));
    let kind = match r.kind.as_str() {
        "host" => Kind::Host,
        "hostssl" => Kind::HostSsl,
        "hostnossl" => Kind::HostNoSsl,
        other => {
            return Err(bad(format!(
                "unknown type {other:?} (expected host, hostssl or hostnossl)"
            )))
        }
    };
    let method = Method::parse(&r.method).ok_or_else(|| {
        bad(format!(
            "unknown method {:?} (expected trust, reject, md5, scram-sha-256 or password)",
            r.method
        ))
    })?;
    let address = parse_address(&r.address).map_err(bad)?;
    let users = parse_names(&r.user, false).map_err(|e| bad(format!("user: {e}")))?;
    let databases = parse_names(&r.database, true).map_err(|e| bad(format!("database: {e}")))?;
    Ok(Rule {
        kind,
        address,
        users,
        databases,
        method,
        line,
    })
}

fn parse_address(s: &str) -> std::result::Result<Address, String> {
    if s == "all" {
        return Ok(Address::All);
    }
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, bits)) => (ip, Some(bits)),
        None => (s, None),
    };
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("invalid address {s:?} (expected all, an IP or a CIDR)"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(bits) => match bits.parse::<u8>() {
            Ok(b) if b <= max => b,
            _ => return Err(format!("invalid CIDR mask in address {s:?}")),
        },
    };
    Ok(Address::Net(mask(ip, prefix), prefix))
}

fn parse_names(s: &str, database: bool) -> std::result::Result<Names, String> {
    match s {
        "all" => Ok(Names::All),
        "sameuser" if database => Ok(Names::SameUser),
        _ => {
            let names: Vec<String> = s
                .split(',')
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect();
            if names.is_empty() {
                return Err("empty name list".into());
            }
            Ok(Names::List(names))
        }
    }
}

/// Keeps the first `prefix` bits of `ip`.
fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & m).into())
        }
    }
}

/// `::ffff:a.b.c.d` is the IPv4 peer a dual-stack socket reports.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

impl Rule {
    /// Whether this rule applies to the connection.
    pub fn matches(&self, peer: IpAddr, user: &str, database: &str, tls: bool) -> bool {
        let kind_ok = match self.kind {
            Kind::Host => true,
            Kind::HostSsl => tls,
            Kind::HostNoSsl => !tls,
        };
        let addr_ok = match &self.address {
            Address::All => true,
            Address::Net(net, prefix) => {
                let peer = canonical(peer);
                peer.is_ipv4() == net.is_ipv4() && mask(peer, *prefix) == *net
            }
        };
        let user_ok = match &self.users {
            Names::All => true,
            Names::SameUser => false,
            Names::List(names) => names.iter().any(|n| n == user),
        };
        let db_ok = match &self.databases {
            Names::All => true,
            Names::SameUser => database == user,
            Names::List(names) => names.iter().any(|n| n == database),
        };
        kind_ok && addr_ok && user_ok && db_ok
    }
}

/// The first matching rule, if any.
pub fn find<'a>(
    rules: &'a [Rule],
    peer: IpAddr,
    user: &str,
    database: &str,
    tls: bool,
) -> Option<&'a Rule> {
    rules.iter().find(|r| r.matches(peer, user, database, tls))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: &str, address: &str, user: &str, database: &str, method: &str) -> HbaRule {
        HbaRule {
            kind: kind.into(),
            address: address.into(),
            user: user.into(),
            database: database.into(),
            method: method.into(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn first_matching_rule_wins() {
        let rules = compile(&[
            rule("hostssl", "all", "admin", "all", "scram-sha-256"),
            rule("host", "all", "admin", "all", "reject"),
            rule("host", "10.0.0.0/8", "all", "app,reports", "md5"),
            rule("host", "10.1.2.3", "all", "sameuser", "password"),
            rule("hostnossl", "::1/128", "all", "all", "trust"),
            rule("host", "2001:db8::/32", "all", "all", "scram-sha-256"),
        ])
        .unwrap();
        let m = |peer: &str, user: &str, db: &str, tls: bool| {
            find(&rules, ip(peer), user, db, tls).map(|r| (r.method, r.line))
        };
        assert_eq!(
            m("1.2.3.4", "admin", "x", true),
            Some((Method::ScramSha256, 1))
        );
        assert_eq!(m("1.2.3.4", "admin", "x", false), Some((Method::Reject, 2)));
        assert_eq!(
            m("10.200.0.1", "bob", "reports", false),
            Some((Method::Md5, 3))
        );
        assert_eq!(m("10.200.0.1", "bob", "bob", false), None);
        assert_eq!(
            m("10.1.2.3", "bob", "bob", false),
            Some((Method::Password, 4))
        );
        assert_eq!(m("10.1.2.3", "bob", "alice", false), None);
        // IPv4-mapped peers match IPv4 rules.
        assert_eq!(
            m("::ffff:10.9.9.9", "bob", "app", false),
            Some((Method::Md5, 3))
        );
        assert_eq!(m("::1", "bob", "x", false), Some((Method::Trust, 5)));
        assert_eq!(m("::1", "bob", "x", true), None);
        assert_eq!(
            m("2001:db8:ffff::1", "bob", "x", true),
            Some((Method::ScramSha256, 6))
        );
        assert_eq!(m("2001:db9::1", "bob", "x", true), None);
        assert_eq!(m("11.0.0.1", "bob", "app", false), None);
    }

    #[test]
    fn cidr_edges() {
        let rules = compile(&[
            rule("host", "0.0.0.0/0", "all", "all", "trust"),
            rule("host", "::/0", "all", "all", "md5"),
        ])
        .unwrap();
        assert_eq!(
            find(&rules, ip("8.8.8.8"), "u", "d", false).unwrap().line,
            1
        );
        assert_eq!(
            find(&rules, ip("fe80::1"), "u", "d", false).unwrap().line,
            2
        );
        let host = compile(&[rule("host", "192.168.1.7/32", "all", "all", "trust")]).unwrap();
        assert!(find(&host, ip("192.168.1.7"), "u", "d", false).is_some());
        assert!(find(&host, ip("192.168.1.8"), "u", "d", false).is_none());
        // Host bits in the configured network are ignored, as PostgreSQL does.
        let sloppy = compile(&[rule("host", "10.1.2.3/16", "all", "all", "trust")]).unwrap();
        assert!(find(&sloppy, ip("10.1.200.200"), "u", "d", false).is_some());
    }

    #[test]
    fn bad_rules_are_config_errors_naming_the_rule() {
        for (r, needle) in [
            (rule("local", "all", "all", "all", "trust"), "unknown type"),
            (rule("host", "all", "all", "all", "ident"), "unknown method"),
            (rule("host", "10.0.0.0/33", "all", "all", "trust"), "CIDR"),
            (
                rule("host", "nonsense", "all", "all", "trust"),
                "invalid address",
            ),
            (rule("host", "all", ",", "all", "trust"), "empty name list"),
        ] {
            let err = compile(&[rule("host", "all", "all", "all", "trust"), r])
                .unwrap_err()
                .to_string();
            assert!(err.contains("rule 2") && err.contains(needle), "{err}");
        }
    }
}
