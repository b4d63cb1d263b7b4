//! LIKE / ILIKE pattern matching.

use crate::error::Result;

/// SQL LIKE: `%` any run, `_` one character, `escape` quotes the next one.
pub fn like(
    text: &str,
    pattern: &str,
    escape: Option<char>,
    case_insensitive: bool,
) -> Result<bool> {
    let (t, p): (Vec<char>, Vec<char>) = if case_insensitive {
        (
            text.to_lowercase().chars().collect(),
            pattern.to_lowercase().chars().collect(),
        )
    } else {
        (text.chars().collect(), pattern.chars().collect())
    };
    Ok(matches(&t, &p, escape))
}

fn matches(t: &[char], p: &[char], esc: Option<char>) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('%') => (0..=t.len()).any(|i| matches(&t[i..], &p[1..], esc)),
        Some('_') => !t.is_empty() && matches(&t[1..], &p[1..], esc),
        Some(c) if Some(*c) == esc && p.len() > 1 => {
            t.first() == p.get(1) && matches(&t[1..], &p[2..], esc)
        }
        Some(c) => t.first() == Some(c) && matches(&t[1..], &p[1..], esc),
    }
}
