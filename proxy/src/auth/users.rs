//! The users file: PgBouncer's `userlist.txt` format.
//!
//! One user per line, `"name" "secret"`, both double-quoted, a doubled
//! quote (`""`) standing for one quote inside a field. Blank lines and
//! lines starting with `;` or `#` are comments; after the two fields only
//! whitespace or a comment may follow. Any other line is a configuration
//! error that names the file and line, so a typo is found at startup or
//! reload, not by a user who cannot log in.
//!
//! A secret is classified once, here:
//! - `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`: a PostgreSQL
//!   SCRAM verifier (parsed and checked now; malformed is an error);
//! - `md5` followed by 32 hex digits: PostgreSQL's md5(password || user);
//! - anything else: a plain password, usable with every method and as the
//!   password towards backends.

use std::collections::HashMap;
use std::path::Path;

use super::scram::Verifier;
use crate::error::{ProxyError, Result};

/// What the proxy knows about a user's password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    Scram(Verifier),
    /// The 32 lowercase hex digits after `md5`.
    Md5(String),
    Plain(String),
}

impl Secret {
    fn classify(s: &str) -> std::result::Result<Secret, String> {
        if s.starts_with("SCRAM-SHA-256$") {
            return Verifier::parse(s).map(Secret::Scram);
        }
        if let Some(hex) = s.strip_prefix("md5") {
            if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(Secret::Md5(hex.to_ascii_lowercase()));
            }
        }
        if s.is_empty() {
            return Err("empty secret".into());
        }
        Ok(Secret::Plain(s.to_string()))
    }
}

/// Reads and parses a users file.
pub fn load(path: &Path) -> Result<HashMap<String, Secret>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ProxyError::Config(format!("users file {}: {e}", path.display())))?;
    parse(&text, &path.display().to_string())
}

/// Parses users-file text; `origin` names the file in errors.
pub fn parse(text: &str, origin: &str) -> Result<HashMap<String, Secret>> {
    let mut users = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let bad = |what: &str| ProxyError::Config(format!("users file {origin}:{}: {what}", i + 1));
        let rest = line.trim_start();
        if rest.is_empty() || rest.starts_with(';') || rest.starts_with('#') {
            continue;
        }
        let (name, rest) = quoted(rest).map_err(|e| bad(&e))?;
        let (secret, rest) = quoted(rest.trim_start()).map_err(|e| bad(&e))?;
        let rest = rest.trim_start();
        if !(rest.is_empty() || rest.starts_with(';') || rest.starts_with('#')) {
            return Err(bad("unexpected text after the secret"));
        }
        if name.is_empty() {
            return Err(bad("empty user name"));
        }
        let secret = Secret::classify(&secret).map_err(|e| bad(&e))?;
        if users.insert(name.clone(), secret).is_some() {
            return Err(bad(&format!("user {name:?} is listed twice")));
        }
    }
    Ok(users)
}

/// Splits one `"..."` field (with `""` escapes) off the front of `s`.
fn quoted(s: &str) -> std::result::Result<(String, &str), String> {
    let Some(body) = s.strip_prefix('"') else {
        return Err("expected a double-quoted field (\"user\" \"secret\")".into());
    };
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '"' {
            out.push(c);
            continue;
        }
        if body[i + 1..].starts_with('"') {
            out.push('"');
            chars.next();
            continue;
        }
        return Ok((out, &body[i + 1..]));
    }
    Err("unterminated quoted field".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quotes_comments_and_secret_kinds() {
        let verifier = super::super::scram_verifier("pw");
        let text = format!(
            "; PgBouncer style comment\n\
             # hash comment\n\
             \n\
             \"alice\" \"{verifier}\"\n\
             \"bob\"   \"md5D41D8CD98F00B204E9800998ECF8427E\"   ; trailing comment\n\
             \"quo\"\"te\" \"pa ss\"\"word\"\n\
             \"carol\" \"md5notreallyhex\"\n"
        );
        let users = parse(&text, "u.txt").unwrap();
        assert_eq!(users.len(), 4);
        assert!(matches!(users.get("alice"), Some(Secret::Scram(_))));
        assert_eq!(
            users.get("bob"),
            Some(&Secret::Md5("d41d8cd98f00b204e9800998ecf8427e".into()))
        );
        assert_eq!(
            users.get("quo\"te"),
            Some(&Secret::Plain("pa ss\"word".into()))
        );
        assert_eq!(
            users.get("carol"),
            Some(&Secret::Plain("md5notreallyhex".into()))
        );
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        for (text, line, needle) in [
            ("\"a\" \"x\"\nalice secret\n", 2, "double-quoted"),
            ("# c\n\"a\" \"x\n", 2, "unterminated"),
            ("\"a\"\n", 1, "double-quoted"),
            ("\"a\" \"x\" junk\n", 1, "after the secret"),
            ("\"a\" \"\"\n", 1, "empty secret"),
            ("\"\" \"x\"\n", 1, "empty user"),
            ("\"a\" \"x\"\n\"a\" \"y\"\n", 2, "twice"),
            ("\"a\" \"SCRAM-SHA-256$4096:c2FsdA==$bad\"\n", 1, "SCRAM"),
        ] {
            let err = parse(text, "users.txt").unwrap_err().to_string();
            assert!(
                err.contains(&format!("users.txt:{line}:")) && err.contains(needle),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn missing_file_is_named() {
        let err = load(Path::new("/nonexistent/userlist.txt"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/userlist.txt"), "{err}");
    }
}
