//! Column masks: our extension to publications.
//!
//! A publication may declare, per published column, a mask applied to every
//! value it sends (initial copy and change stream alike). Masks work on the
//! value's PostgreSQL text form, because that is what the stream carries:
//!
//! | mask | result |
//! |---|---|
//! | `hash` | lower-case hex SHA-256 of `salt ‖ text`, salt = the publication's `mask_salt` |
//! | `redact` | `****` (text-like columns only) |
//! | `partial(p, s)` | keep `p` leading and `s` trailing characters, `*` for each one between (text-like only) |
//! | `null` | NULL |
//!
//! NULL stays NULL under every mask (there is nothing to hide). Which masks
//! fit which column type is checked when the publication is defined
//! (`check_type`), so the stream never meets a mask it cannot apply.

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::error::{Error, Result};
use crate::types::DataType;
use crate::SqlState;

/// One column's mask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mask {
    Hash,
    Redact,
    Partial(u32, u32),
    Null,
}

impl Mask {
    /// Builds a mask from its name and numeric arguments (`22023` when the
    /// arguments do not fit, `42704` for an unknown mask).
    pub fn from_parts(kind: &str, args: &[String]) -> Result<Mask> {
        let no_args = |m: Mask| {
            if args.is_empty() {
                Ok(m)
            } else {
                Err(Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!("mask \"{kind}\" takes no arguments"),
                ))
            }
        };
        match kind {
            "hash" => no_args(Mask::Hash),
            "redact" => no_args(Mask::Redact),
            "null" => no_args(Mask::Null),
            "partial" => {
                let [p, s] = args else {
                    return Err(Error::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        "mask \"partial\" takes two arguments: partial(prefix, suffix)",
                    ));
                };
                let num = |t: &String| {
                    t.parse::<u32>().map_err(|_| {
                        Error::new(
                            SqlState::INVALID_PARAMETER_VALUE,
                            format!("invalid partial mask length: \"{t}\""),
                        )
                    })
                };
                Ok(Mask::Partial(num(p)?, num(s)?))
            }
            other => Err(Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!("mask \"{other}\" does not exist"),
            )
            .with_hint("Masks are hash, redact, partial(prefix, suffix) and null.")),
        }
    }

    /// Its SQL spelling, as `rustydb_publication_masks` and `\dRp+` show it.
    pub fn display(&self) -> String {
        match self {
            Mask::Hash => "hash".into(),
            Mask::Redact => "redact".into(),
            Mask::Partial(p, s) => format!("partial({p}, {s})"),
            Mask::Null => "null".into(),
        }
    }

    /// Whether the mask may be declared on a column of type `ty`: `redact`
    /// and `partial` keep the column's type, so only text-like columns
    /// take them.
    pub fn check_type(&self, column: &str, ty: &DataType) -> Result<()> {
        let text_like = matches!(
            ty,
            DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Name
        );
        match self {
            Mask::Hash | Mask::Null => Ok(()),
            Mask::Redact | Mask::Partial(..) if text_like => Ok(()),
            _ => Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!(
                    "mask \"{}\" cannot be applied to column \"{column}\" of type {}",
                    self.display(),
                    crate::types::oid::type_name(ty)
                ),
            )
            .with_hint("Only hash and null masks apply to columns that are not text.")),
        }
    }

    /// Applies the mask to a value in text form (`None` is NULL).
    pub fn apply(&self, salt: &str, value: Option<String>) -> Option<String> {
        let v = value?;
        match self {
            Mask::Null => None,
            Mask::Redact => Some("****".to_string()),
            Mask::Hash => {
                let mut h = sha2::Sha256::new();
                h.update(salt.as_bytes());
                h.update(v.as_bytes());
                Some(hex::encode(h.finalize()))
            }
            Mask::Partial(p, s) => {
                let chars: Vec<char> = v.chars().collect();
                let (p, s) = (*p as usize, *s as usize);
                if p + s >= chars.len() {
                    return Some(v);
                }
                let mut out: String = chars.iter().take(p).collect();
                out.extend(std::iter::repeat_n('*', chars.len() - p - s));
                out.extend(chars.iter().skip(chars.len() - s));
                Some(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_values() {
        assert_eq!(
            Mask::Redact.apply("", Some("abc".into())),
            Some("****".into())
        );
        assert_eq!(Mask::Null.apply("", Some("abc".into())), None);
        assert_eq!(Mask::Hash.apply("x", None), None);
        assert_eq!(
            Mask::Partial(1, 2).apply("", Some("abcdef".into())),
            Some("a***ef".into())
        );
        assert_eq!(
            Mask::Partial(3, 3).apply("", Some("abc".into())),
            Some("abc".into())
        );
        // sha256("s" || "v")
        let mut h = sha2::Sha256::new();
        h.update(b"sv");
        assert_eq!(
            Mask::Hash.apply("s", Some("v".into())),
            Some(hex::encode(h.finalize()))
        );
    }

    #[test]
    fn refuses_bad_masks() {
        assert_eq!(
            Mask::from_parts("scramble", &[]).unwrap_err().state(),
            SqlState::UNDEFINED_OBJECT
        );
        assert!(Mask::from_parts("partial", &["1".into()]).is_err());
        assert!(Mask::Redact.check_type("n", &DataType::Int4).is_err());
        assert!(Mask::Hash.check_type("n", &DataType::Int4).is_ok());
    }
}
