//! Recognising `SET`, `RESET` and `SHOW` of one setting in a statement
//! text, for the settings the proxy answers itself
//! (`rustydb.consistency`, `parallel_degree`).
//!
//! [`setting_statement`] splits `SET [SESSION] name {=|TO} value`,
//! `RESET name` and `SHOW name` (one statement, an optional trailing
//! semicolon; the name may be quoted and is folded to lower case, the
//! value is returned as written) into a [`SettingStatement`]; callers
//! compare the name and parse the value. Anything else (`SET LOCAL`,
//! several statements, other verbs) is `None` and goes to the backend.
//!
//! Every simple Query passes through here before routing, so the common
//! case (a statement that starts with another word) is decided from the
//! first word without allocating.

/// What the statement does with the setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingVerb {
    Set,
    Reset,
    Show,
}

/// One recognised statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingStatement {
    pub verb: SettingVerb,
    /// The setting's name, unquoted and in lower case.
    pub name: String,
    /// `SET`'s value as written (words joined by one space); empty for
    /// `RESET` and `SHOW`.
    pub value: String,
}

/// Splits a `SET`/`RESET`/`SHOW` of one setting (see the module essay).
pub fn setting_statement(sql: &str) -> Option<SettingStatement> {
    let text = sql.trim_start();
    let verb = match text.split_whitespace().next()? {
        w if w.eq_ignore_ascii_case("set") => SettingVerb::Set,
        w if w.eq_ignore_ascii_case("reset") => SettingVerb::Reset,
        w if w.eq_ignore_ascii_case("show") => SettingVerb::Show,
        _ => return None,
    };
    let text = text.trim_end().trim_end_matches(';').trim_end();
    if text.contains(';') {
        // Several statements: the backend sees them.
        return None;
    }
    let mut words = text.split_whitespace().skip(1);
    let mut name = words.next()?;
    if verb == SettingVerb::Set && name.eq_ignore_ascii_case("session") {
        name = words.next()?;
    }
    // `SET name=value` arrives as one word.
    let (name, glued) = match name.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (name, None),
    };
    let name = unquote(name).to_ascii_lowercase();
    let rest: Vec<&str> = words.collect();
    let value = match verb {
        SettingVerb::Reset | SettingVerb::Show => {
            if glued.is_some() || !rest.is_empty() {
                return None;
            }
            String::new()
        }
        SettingVerb::Set => match glued {
            Some(v) if !v.is_empty() => std::iter::once(v)
                .chain(rest.iter().copied())
                .collect::<Vec<_>>()
                .join(" "),
            Some(_) => rest.join(" "),
            None => {
                let (first, tail) = rest.split_first()?;
                if first.eq_ignore_ascii_case("to") || *first == "=" {
                    tail.join(" ")
                } else if let Some(v) = first.strip_prefix('=') {
                    std::iter::once(v)
                        .chain(tail.iter().copied())
                        .collect::<Vec<_>>()
                        .join(" ")
                } else {
                    return None;
                }
            }
        },
    };
    Some(SettingStatement { verb, name, value })
}

/// `'x'` or `"x"` to `x`.
pub fn unquote(s: &str) -> &str {
    for q in ['\'', '"'] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn st(verb: SettingVerb, name: &str, value: &str) -> Option<SettingStatement> {
        Some(SettingStatement {
            verb,
            name: name.into(),
            value: value.into(),
        })
    }

    #[test]
    fn forms_of_set_reset_show() {
        use SettingVerb::*;
        for sql in [
            "SET a = 3",
            "set a to 3;",
            "SET a=3",
            "SET a =3",
            "SET SESSION a TO 3",
            "  SET \"A\" = 3 ; ",
        ] {
            assert_eq!(setting_statement(sql), st(Set, "a", "3"), "{sql}");
        }
        assert_eq!(setting_statement("SET a = 'x y'"), st(Set, "a", "'x y'"));
        assert_eq!(setting_statement("SET a=x y"), st(Set, "a", "x y"));
        assert_eq!(setting_statement("RESET A"), st(Reset, "a", ""));
        assert_eq!(setting_statement("show A.B;"), st(Show, "a.b", ""));
        for other in [
            "SELECT 1",
            "SETTLE a",
            "SET a = 1; SELECT 1",
            "SHOW a, b",
            "RESET a b",
            "SET a 3",
            "SET",
            "",
            "SET LOCAL",
        ] {
            assert_eq!(setting_statement(other), None, "{other}");
        }
    }
}
