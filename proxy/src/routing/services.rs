//! Service selection at connect time (design decision 6).
//!
//! A client names its service in one of three ways, first match wins:
//! 1. the startup `options` parameter, as PostgreSQL reads it:
//!    `-c rustydb.service=NAME`, `-crustydb.service=NAME` or
//!    `--rustydb.service=NAME` (libpq's `options=…`, PGOPTIONS, or a
//!    `pg_service.conf` entry that sets them);
//! 2. a database alias `mydb@NAME` (the real database is `mydb`);
//! 3. the listen address it connected to (a service's `listen`);
//!
//! and otherwise gets `default_service`. A named service that is not
//! configured is a FATAL `08004` listing the known ones, so a typo fails
//! loudly at connect instead of silently using another service.
//!
//! `options` is split the way PostgreSQL's `pg_split_opts` does it:
//! on whitespace, with a backslash escaping the next character.
//! [`backend_options`] rebuilds the string without the service setting,
//! for the startup message the proxy sends to backends.

use std::collections::HashMap;

use crate::config::ProxyConfig;
use crate::error::{ProxyError, Result};

const SERVICE_GUC: &str = "rustydb.service";

/// Splits `options` into arguments (whitespace-separated, `\` escapes).
fn split_options(options: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            if in_word {
                out.push(std::mem::take(&mut cur));
                in_word = false;
            }
            continue;
        }
        in_word = true;
        if c == '\\' {
            if let Some(next) = chars.next() {
                cur.push(next);
            }
        } else {
            cur.push(c);
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Re-escapes one argument for an `options` string.
fn escape_option(arg: &str) -> String {
    let mut out = String::with_capacity(arg.len());
    for c in arg.chars() {
        if c.is_whitespace() || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `name=value` when `name` is the service setting (PostgreSQL folds case
/// and, for `--name=value`, turns `-` into `_`).
fn service_value(setting: &str) -> Option<&str> {
    let (name, value) = setting.split_once('=')?;
    name.replace('-', "_")
        .eq_ignore_ascii_case(SERVICE_GUC)
        .then_some(value)
}

/// The parsed `options`: each argument, and whether it (with the
/// argument before, for a separate `-c`) sets the service.
fn scan_options(options: &str) -> (Vec<String>, Vec<bool>, Option<String>) {
    let args = split_options(options);
    let mut is_service = vec![false; args.len()];
    let mut service = None;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let (setting, width) = if arg == "-c" {
            (args.get(i + 1).map(String::as_str), 2)
        } else if let Some(rest) = arg.strip_prefix("--") {
            (Some(rest), 1)
        } else if let Some(rest) = arg.strip_prefix("-c") {
            // `-c\ name=value` (an escaped space) is one argument.
            (Some(rest.trim_start()), 1)
        } else {
            (None, 1)
        };
        if let Some(value) = setting.and_then(service_value) {
            // The last setting wins, as in PostgreSQL.
            service = Some(value.to_string());
            for flag in is_service.iter_mut().skip(i).take(width) {
                *flag = true;
            }
        }
        i += width.min(args.len() - i).max(1);
    }
    (args, is_service, service)
}

/// Startup params → (service, real database name).
pub fn select_service(
    config: &ProxyConfig,
    params: &HashMap<String, String>,
    listen_service: Option<&str>,
) -> Result<(String, String)> {
    let user = params.get("user").map(String::as_str).unwrap_or_default();
    // PostgreSQL's default database is the user name.
    let database = params
        .get("database")
        .filter(|d| !d.is_empty())
        .map(String::as_str)
        .unwrap_or(user);
    let (database, alias) = match database.rsplit_once('@') {
        Some((db, service)) => (db, Some(service)),
        None => (database, None),
    };
    let from_options = params.get("options").and_then(|o| scan_options(o).2);
    let service = from_options
        .as_deref()
        .or(alias)
        .or(listen_service)
        .unwrap_or(&config.default_service);
    if !config.services.contains_key(service) {
        let known: Vec<&str> = config.services.keys().map(String::as_str).collect();
        return Err(ProxyError::fatal(
            "08004",
            format!(
                "unknown service \"{service}\" (known: {})",
                known.join(", ")
            ),
        ));
    }
    Ok((service.to_string(), database.to_string()))
}

/// Every `name=value` setting in `options` (`-c`, `-cname`, `--name`),
/// in order, the service setting included.
pub fn option_settings(options: &str) -> Vec<(String, String)> {
    let args = split_options(options);
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let setting = if arg == "-c" {
            i += 1;
            args.get(i).map(String::as_str)
        } else if let Some(rest) = arg.strip_prefix("--") {
            Some(rest)
        } else {
            arg.strip_prefix("-c").map(str::trim_start)
        };
        if let Some((name, value)) = setting.and_then(|s| s.split_once('=')) {
            out.push((name.replace('-', "_"), value.to_string()));
        }
        i += 1;
    }
    out
}

/// `options` without the service setting, for backends (which do not
/// know it); `None` when nothing else is left.
pub fn backend_options(options: &str) -> Option<String> {
    let (args, is_service, _) = scan_options(options);
    let kept: Vec<String> = args
        .iter()
        .zip(is_service)
        .filter(|(_, service)| !service)
        .map(|(arg, _)| escape_option(arg))
        .collect();
    (!kept.is_empty()).then(|| kept.join(" "))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn select(pairs: &[(&str, &str)], listen: Option<&str>) -> Result<(String, String)> {
        select_service(&ProxyConfig::default(), &params(pairs), listen)
    }

    fn ok(service: &str, db: &str) -> (String, String) {
        (service.to_string(), db.to_string())
    }

    #[test]
    fn options_in_every_spelling() {
        for options in [
            "-c rustydb.service=olap",
            "-crustydb.service=olap",
            "--rustydb.service=olap",
            "-c statement_timeout=5 -c RustyDB.Service=olap",
            "-c rustydb.service=batch   -c rustydb.service=olap",
        ] {
            let got = select(
                &[("user", "u"), ("database", "app"), ("options", options)],
                None,
            );
            assert_eq!(got.unwrap(), ok("olap", "app"), "{options}");
        }
    }

    #[test]
    fn precedence_options_then_alias_then_listen_then_default() {
        let opts = ("options", "-c rustydb.service=olap");
        let got = select(&[("database", "app@batch"), opts], Some("oltp"));
        assert_eq!(
            got.unwrap(),
            ok("olap", "app"),
            "options win, alias still stripped"
        );
        let got = select(&[("database", "app@batch")], Some("olap"));
        assert_eq!(got.unwrap(), ok("batch", "app"));
        assert_eq!(
            select(&[("database", "app")], Some("olap")).unwrap(),
            ok("olap", "app")
        );
        assert_eq!(
            select(&[("database", "app")], None).unwrap(),
            ok("oltp", "app")
        );
        assert_eq!(
            select(&[("user", "alice")], None).unwrap(),
            ok("oltp", "alice"),
            "database defaults to the user name"
        );
        assert_eq!(
            select(&[("user", "alice"), ("database", "we@ird@olap")], None).unwrap(),
            ok("olap", "we@ird")
        );
    }

    #[test]
    fn unknown_service_is_fatal_08004() {
        for (pairs, listen) in [
            (vec![("database", "app@nope")], None),
            (
                vec![("database", "app"), ("options", "-c rustydb.service=nope")],
                None,
            ),
            (vec![("database", "app")], Some("nope")),
        ] {
            let err = select(&pairs, listen).unwrap_err();
            assert_eq!(err.sqlstate(), "08004");
            assert!(err.is_fatal());
            assert_eq!(
                err.to_string(),
                "unknown service \"nope\" (known: batch, olap, oltp)"
            );
        }
        let err = select(&[("database", "app@")], None).unwrap_err();
        assert_eq!(err.sqlstate(), "08004");
    }

    #[test]
    fn backend_options_drop_only_the_service() {
        assert_eq!(backend_options("-c rustydb.service=olap"), None);
        assert_eq!(
            backend_options("-c work_mem=4MB -c rustydb.service=olap --search_path=a\\ b"),
            Some("-c work_mem=4MB --search_path=a\\ b".to_string())
        );
        assert_eq!(
            backend_options("-crustydb.service=x -cgeqo=off"),
            Some("-cgeqo=off".to_string())
        );
        assert_eq!(split_options("  a\\ b  c\\\\ "), vec!["a b", "c\\"]);
    }
}
