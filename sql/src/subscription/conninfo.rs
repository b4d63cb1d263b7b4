//! libpq connection strings (`host=a,b port=5433,5434 user=app dbname=db`).
//!
//! CREATE SUBSCRIPTION checks the string's syntax before storing it, with
//! libpq's messages (PostgreSQL's `libpqrcv_check_conninfo`), and the apply
//! worker reads the host list from it. Syntax: `keyword = value` pairs
//! separated by whitespace; a value may be single-quoted, with `\'` and `\\`
//! escapes. Several hosts are listed comma-separated in `host`, with either
//! one `port` for all or one port each (libpq's multi-host form); the worker
//! tries them in order and uses the one that is the primary. URIs
//! (`postgresql://...`) are not accepted.

use crate::error::{Error, Result};
use crate::SqlState;

/// A parsed connection string.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConnInfo {
    /// `(host, port)` in the order given.
    pub hosts: Vec<(String, u16)>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub dbname: Option<String>,
}

/// The keywords libpq knows that we accept (others are refused, like libpq).
const KNOWN: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "user",
    "password",
    "dbname",
    "connect_timeout",
    "application_name",
    "sslmode",
    "options",
    "target_session_attrs",
];

fn syntax(detail: String) -> Error {
    Error::new(
        SqlState::SYNTAX_ERROR,
        format!("invalid connection string syntax: {detail}"),
    )
}

/// Parses a connection string; errors carry libpq's wording.
pub fn parse(s: &str) -> Result<ConnInfo> {
    let pairs = pairs(s)?;
    let mut info = ConnInfo::default();
    let mut hosts: Vec<String> = vec![];
    let mut ports: Vec<String> = vec![];
    for (k, v) in pairs {
        if !KNOWN.contains(&k.as_str()) {
            return Err(syntax(format!("invalid connection option \"{k}\"\n")));
        }
        match k.as_str() {
            "host" | "hostaddr" => hosts = v.split(',').map(|h| h.trim().to_string()).collect(),
            "port" => ports = v.split(',').map(|p| p.trim().to_string()).collect(),
            "user" => info.user = Some(v),
            "password" => info.password = Some(v),
            "dbname" => info.dbname = Some(v),
            _ => {}
        }
    }
    if hosts.is_empty() {
        hosts.push("localhost".into());
    }
    if ports.is_empty() {
        ports.push("5432".into());
    }
    if ports.len() != 1 && ports.len() != hosts.len() {
        return Err(syntax(format!(
            "could not match {} port numbers to {} hosts\n",
            ports.len(),
            hosts.len()
        )));
    }
    for (i, h) in hosts.iter().enumerate() {
        let p = ports
            .get(i)
            .or_else(|| ports.first())
            .cloned()
            .unwrap_or_default();
        let port = p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| syntax(format!("invalid port number: \"{p}\"\n")))?;
        let host = if h.is_empty() {
            "localhost"
        } else {
            h.as_str()
        };
        info.hosts.push((host.to_string(), port));
    }
    Ok(info)
}

/// The `keyword=value` pairs, in order.
fn pairs(s: &str) -> Result<Vec<(String, String)>> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = vec![];
    let skip_ws = |i: &mut usize| {
        while chars.get(*i).is_some_and(|c| c.is_whitespace()) {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= chars.len() {
            break;
        }
        let start = i;
        while chars
            .get(i)
            .is_some_and(|c| !c.is_whitespace() && *c != '=')
        {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        skip_ws(&mut i);
        if chars.get(i) != Some(&'=') {
            return Err(syntax(format!(
                "missing \"=\" after \"{key}\" in connection info string\n"
            )));
        }
        i += 1;
        skip_ws(&mut i);
        let mut value = String::new();
        if chars.get(i) == Some(&'\'') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(syntax(
                            "unterminated quoted string in connection info string\n".into(),
                        ))
                    }
                    Some('\\') => {
                        if let Some(c) = chars.get(i + 1) {
                            value.push(*c);
                        }
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        value.push(*c);
                        i += 1;
                    }
                }
            }
        } else {
            while let Some(c) = chars.get(i).filter(|c| !c.is_whitespace()) {
                if *c == '\\' {
                    if let Some(n) = chars.get(i + 1) {
                        value.push(*n);
                    }
                    i += 2;
                } else {
                    value.push(*c);
                    i += 1;
                }
            }
        }
        out.push((key, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_multi_host() {
        let c = parse("host=127.0.0.1 port=5433 user=app dbname='my db' password='a\\'b'").unwrap();
        assert_eq!(c.hosts, vec![("127.0.0.1".to_string(), 5433)]);
        assert_eq!(c.user.as_deref(), Some("app"));
        assert_eq!(c.dbname.as_deref(), Some("my db"));
        assert_eq!(c.password.as_deref(), Some("a'b"));
        let c = parse("host=a,b port=1,2").unwrap();
        assert_eq!(c.hosts, vec![("a".to_string(), 1), ("b".to_string(), 2)]);
        let c = parse("host=a,b port = 7").unwrap();
        assert_eq!(c.hosts, vec![("a".to_string(), 7), ("b".to_string(), 7)]);
    }

    #[test]
    fn libpq_errors() {
        let e = parse("host=127.0.0.1 port=25432 user").unwrap_err();
        assert_eq!(e.state(), SqlState::SYNTAX_ERROR);
        assert_eq!(
            e.message(),
            "invalid connection string syntax: missing \"=\" after \"user\" in connection info string\n"
        );
        assert!(parse("host=a,b,c port=1,2").is_err());
        assert!(parse("port=x").is_err());
        assert!(parse("bogus=1").is_err());
        assert!(parse("host='x").is_err());
    }
}
