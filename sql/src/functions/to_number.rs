//! `to_number(text, format)`: reading a number through a to_char-style
//! numeric template, as PostgreSQL's `NUM_processor` does in input mode.
//!
//! The template is walked left to right with a cursor in the input:
//! - `9` / `0` take one digit; a character that is not a digit is skipped
//!   in that slot (so `'1e3'` through `'9999'` reads 13, as in
//!   PostgreSQL), except that a sign (`-`, `+`, or `<` when the template
//!   has `PR`) met before the first digit is read as the sign and the slot
//!   still takes the next character;
//! - `D` / `.` take the decimal point if it is there; digits after it go
//!   to the fraction (its scale is the number of fraction digits read);
//! - `G` / `,` skip one non-digit (a group separator, or a space);
//! - `S`, `MI`, `PL`, `SG` read a sign; `PR` a closing `>`; `L` a
//!   currency symbol; `FM`, `TH`, `B` and the like read nothing;
//! - any other template character skips one input character.
//!
//! Input left over when the template ends is ignored. Reading no digit at
//! all is PostgreSQL's `invalid input syntax for type numeric: " "`.

use rust_decimal::Decimal;

use crate::error::{Error, Result};
use crate::types::Value;
use crate::SqlState;

/// Reads `input` through the numeric template `format`.
pub fn to_number(input: &str, format: &str) -> Result<Value> {
    if format.is_empty() {
        return Ok(Value::Null);
    }
    let chars: Vec<char> = input.chars().collect();
    let fmt: Vec<char> = format.to_uppercase().chars().collect();
    let bracket = format.to_uppercase().contains("PR");
    let mut pos = 0;
    let mut f = 0;
    let mut negative = false;
    let mut int_digits = String::new();
    let mut frac_digits = String::new();
    let mut after_point = false;
    let any_digit = |i: &String, fr: &String| !i.is_empty() || !fr.is_empty();
    while let Some(&c) = fmt.get(f) {
        let rest: String = fmt[f..].iter().take(4).collect();
        let current = chars.get(pos).copied();
        match c {
            '9' | '0' => {
                // A sign before the first digit does not use up the slot.
                if let Some(s) = current {
                    if !any_digit(&int_digits, &frac_digits)
                        && (s == '-' || s == '+' || (bracket && s == '<'))
                    {
                        negative = s != '+';
                        pos += 1;
                    }
                }
                match chars.get(pos) {
                    Some(d) if d.is_ascii_digit() => {
                        if after_point {
                            frac_digits.push(*d);
                        } else {
                            int_digits.push(*d);
                        }
                        pos += 1;
                    }
                    Some(_) => pos += 1,
                    None => {}
                }
                f += 1;
            }
            'D' | '.' => {
                if current == Some('.') {
                    pos += 1;
                }
                after_point = true;
                f += 1;
            }
            'G' | ',' => {
                if current.is_some_and(|x| !x.is_ascii_digit()) {
                    pos += 1;
                }
                f += 1;
            }
            _ if rest.starts_with("FM") || rest.starts_with("TH") || rest.starts_with("PL") => {
                if rest.starts_with("PL") && current == Some('+') {
                    pos += 1;
                }
                f += 2;
            }
            _ if rest.starts_with("MI") || rest.starts_with("SG") || c == 'S' => {
                if let Some(s @ ('-' | '+')) = current {
                    negative = s == '-';
                    pos += 1;
                }
                f += if c == 'S' && !rest.starts_with("SG") {
                    1
                } else {
                    2
                };
            }
            _ if rest.starts_with("PR") => {
                if current == Some('>') {
                    pos += 1;
                }
                f += 2;
            }
            'L' => {
                if current.is_some_and(|x| !x.is_ascii_digit() && x != '-' && x != '+') {
                    pos += 1;
                }
                f += 1;
            }
            'B' | 'V' => f += 1,
            _ => {
                if current.is_some() {
                    pos += 1;
                }
                f += 1;
            }
        }
    }
    if !any_digit(&int_digits, &frac_digits) {
        return Err(Error::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            "invalid input syntax for type numeric: \" \"",
        ));
    }
    let text = if frac_digits.is_empty() {
        int_digits
    } else {
        format!(
            "{}.{frac_digits}",
            if int_digits.is_empty() {
                "0"
            } else {
                &int_digits
            }
        )
    };
    let mut d: Decimal = text
        .parse()
        .map_err(|_| crate::types::numeric::overflow())?;
    if negative && !d.is_zero() {
        d.set_sign_negative(true);
    }
    Ok(Value::Numeric(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(input: &str, format: &str) -> String {
        match to_number(input, format) {
            Ok(v) => crate::types::text::format(&v),
            Err(e) => format!("error {}", e.state().0),
        }
    }

    #[test]
    fn reads_like_postgres() {
        // Answers recorded from PostgreSQL 15.
        assert_eq!(n("1,234.5", "9G999D9"), "1234.5");
        assert_eq!(n("12,454.8-", "99G999D9S"), "-12454.8");
        assert_eq!(n("-34,338,492", "99G999G999"), "-34338492");
        assert_eq!(n("$1,234.56", "L9G999D99"), "1234.56");
        assert_eq!(n("1234.5678", "9999.99"), "1234.56");
        assert_eq!(n("  12", "9999"), "12");
        assert_eq!(n("5", "9.99"), "5");
        assert_eq!(n("1.5", "9"), "1");
        assert_eq!(n("abc", "999"), "error 22P02");
        assert_eq!(n("<123>", "999PR"), "-123");
        assert_eq!(n("12345", "999"), "123");
        assert_eq!(n("1 234", "9G999"), "1234");
        assert_eq!(n("-12.5", "S99.9"), "-12.5");
        assert_eq!(n("12.5", "FM99.99"), "12.5");
        assert_eq!(n("1e3", "9999"), "13");
        assert_eq!(n("", "999"), "error 22P02");
        assert_eq!(n("0.05", "9.99"), "0.05");
        assert_eq!(n("-.5", "9.9"), "-0.5");
    }
}
