//! Pattern matching: LIKE/ILIKE, SIMILAR TO and POSIX regular expressions.
//!
//! LIKE is matched directly on characters (no regex): `%` is any run, `_`
//! one character, and the escape character (default `\`) makes the next
//! character literal; a pattern ending in the escape is `22025`.
//!
//! POSIX regexes (`~`, `regexp_replace`, ...) use the `regex` crate after
//! translating the PostgreSQL ARE spellings it lacks (`\m`, `\M`, `\y`,
//! `\Y` word boundaries). Back-references and look-around are not
//! supported and report `2201B`. Compiled regexes are cached per thread,
//! bounded, because the same pattern usually runs once per row.

use std::cell::RefCell;
use std::collections::HashMap;

use regex::Regex;

use crate::error::{Error, Result};
use crate::SqlState;

/// LIKE / ILIKE with PostgreSQL semantics.
pub fn like(
    text: &str,
    pattern: &str,
    escape: Option<char>,
    case_insensitive: bool,
) -> Result<bool> {
    let fold = |s: &str| {
        if case_insensitive {
            s.to_lowercase()
        } else {
            s.to_string()
        }
    };
    let t: Vec<char> = fold(text).chars().collect();
    let p = compile_like(&fold(pattern), escape)?;
    Ok(like_match(&t, &p))
}

#[derive(Debug, PartialEq)]
enum Tok {
    Lit(char),
    One,
    Any,
}

fn compile_like(pattern: &str, escape: Option<char>) -> Result<Vec<Tok>> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            match chars.next() {
                Some(n) => out.push(Tok::Lit(n)),
                None => {
                    return Err(Error::new(
                        SqlState::INVALID_ESCAPE_SEQUENCE,
                        "LIKE pattern must not end with escape character",
                    ))
                }
            }
        } else if c == '%' {
            if out.last() != Some(&Tok::Any) {
                out.push(Tok::Any);
            }
        } else if c == '_' {
            out.push(Tok::One);
        } else {
            out.push(Tok::Lit(c));
        }
    }
    Ok(out)
}

/// Iterative matcher with single backtrack point (classic wildcard match),
/// linear-ish and free of recursion depth issues.
fn like_match(t: &[char], p: &[Tok]) -> bool {
    let (mut ti, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(Tok::Lit(c)) if *c == t[ti] => {
                ti += 1;
                pi += 1;
            }
            Some(Tok::One) => {
                ti += 1;
                pi += 1;
            }
            Some(Tok::Any) => {
                star = Some((pi, ti));
                pi += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|t| *t == Tok::Any)
}

/// SIMILAR TO: translated to an anchored regex.
pub fn similar_to(text: &str, pattern: &str, escape: Option<char>) -> Result<bool> {
    let esc = escape.or(Some('\\'));
    let mut re = String::from("^(?:");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == esc {
            match chars.next() {
                Some(n) => re.push_str(&regex::escape(&n.to_string())),
                None => {
                    return Err(Error::new(
                        SqlState::INVALID_ESCAPE_SEQUENCE,
                        "invalid escape string",
                    ));
                }
            }
            continue;
        }
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            '|' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' => re.push(c),
            '.' | '^' | '$' => re.push_str(&regex::escape(&c.to_string())),
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push_str(")$");
    Ok(compiled(&re, false)?.is_match(text))
}

thread_local! {
    static CACHE: RefCell<HashMap<(String, bool), Regex>> = RefCell::new(HashMap::new());
}

/// Translates PostgreSQL ARE escapes the regex crate spells differently.
fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('m') | Some('M') | Some('y') => out.push_str("\\b"),
                Some('Y') => out.push_str("\\B"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A compiled (cached) regex for a PostgreSQL pattern.
pub fn compiled(pattern: &str, case_insensitive: bool) -> Result<Regex> {
    let key = (pattern.to_string(), case_insensitive);
    if let Some(r) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(r);
    }
    let src = translate(pattern);
    let re = regex::RegexBuilder::new(&src)
        .case_insensitive(case_insensitive)
        .size_limit(1 << 22)
        .build()
        .map_err(|e| {
            let reason = match e {
                regex::Error::CompiledTooBig(_) => "regular expression is too complex".to_string(),
                other => other
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("syntax error")
                    .trim()
                    .to_string(),
            };
            Error::new(
                SqlState::INVALID_REGULAR_EXPRESSION,
                format!("invalid regular expression: {reason}"),
            )
        })?;
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= 256 {
            c.clear();
        }
        c.insert(key, re.clone());
    });
    Ok(re)
}

/// `text ~ pattern` (or `~*`).
pub fn regex_match(text: &str, pattern: &str, case_insensitive: bool) -> Result<bool> {
    Ok(compiled(pattern, case_insensitive)?.is_match(text))
}

/// SQL `SIMILAR TO` pattern to an anchored POSIX regex: `%` is `.*`, `_` is
/// `.`, `\` escapes the next character, `.` `$` `^` are literal; the regex
/// operators (`|`, `*`, `+`, `?`, `()`, `{}`, `[]`) keep their meaning.
pub(crate) fn similar_to_regex(pattern: &str) -> String {
    let mut out = String::from("^(?:");
    let mut chars = pattern.chars();
    let mut in_bracket = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) if n.is_ascii_alphanumeric() => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push_str("\\\\"),
            },
            '[' => {
                in_bracket = true;
                out.push(c);
            }
            ']' => {
                in_bracket = false;
                out.push(c);
            }
            _ if in_bracket => out.push(c),
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '.' | '$' | '^' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push_str(")$");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_semantics() {
        let l = |t: &str, p: &str| like(t, p, Some('\\'), false).unwrap_or(false);
        assert!(l("hello", "h%o"));
        assert!(l("hello", "_ello"));
        assert!(!l("hello", "h_o"));
        assert!(l("50%", "50\\%"));
        assert!(!l("500", "50\\%"));
        assert!(l("", "%"));
        assert!(l("abcabc", "%abc"));
        assert!(like("HeLLo", "hello", Some('\\'), true).unwrap_or(false));
        let e = like("a", "a\\", Some('\\'), false).map_err(|e| e.state());
        assert_eq!(e, Err(SqlState::INVALID_ESCAPE_SEQUENCE));
        assert!(similar_to("abc", "%(b|x)%", None).unwrap_or(false));
        assert!(!similar_to("abc", "b", None).unwrap_or(true));
    }

    #[test]
    fn regexes() {
        assert_eq!(regex_match("abc", "b", false).ok(), Some(true));
        assert_eq!(regex_match("ABC", "b", true).ok(), Some(true));
        assert_eq!(regex_match("foo bar", "\\mbar", false).ok(), Some(true));
        assert_eq!(
            regex_match("x", "(", false).map_err(|e| e.state()).err(),
            Some(SqlState::INVALID_REGULAR_EXPRESSION)
        );
    }
}
