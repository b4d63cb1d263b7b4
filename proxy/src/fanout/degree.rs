//! The degree of parallelism: where it comes from and how a client sets it.
//!
//! Three sources, strongest first: a `/*+ parallel(N) */` comment at the
//! very start of the statement, the session's `SET parallel_degree = N`
//! (kept by the proxy, never sent to a backend), and the service's
//! `parallel_degree` key (`auto` = one fragment per healthy node). `1`
//! disables fan-out. The proxy answers `SET`, `RESET` and `SHOW` of the
//! setting itself ([`DegreeCommand`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::routing::setting_stmt::{setting_statement, SettingVerb};

/// Largest degree accepted (more fragments than this only add overhead).
pub const MAX_DEGREE: u32 = 64;

/// A configured or session degree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParallelDegree {
    /// A fixed number of fragments (`1` = no fan-out).
    Fixed(u32),
    /// `"auto"`: one fragment per healthy node.
    Auto(AutoWord),
}

/// The literal word `auto` in TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoWord {
    Auto,
}

impl ParallelDegree {
    pub const AUTO: ParallelDegree = ParallelDegree::Auto(AutoWord::Auto);

    /// The number of fragments given the healthy node count.
    pub fn resolve(self, healthy_nodes: usize) -> u32 {
        match self {
            ParallelDegree::Fixed(n) => n.clamp(1, MAX_DEGREE),
            ParallelDegree::Auto(_) => (healthy_nodes as u32).clamp(1, MAX_DEGREE),
        }
    }

    /// Whether this can mean more than one fragment.
    pub fn may_split(self) -> bool {
        !matches!(self, ParallelDegree::Fixed(0 | 1))
    }

    /// Parses a value given to `SET` (`3`, `'3'`, `auto`, `default`).
    fn parse(text: &str) -> Option<Option<ParallelDegree>> {
        let v = text.trim().trim_matches('\'').trim_matches('"').trim();
        if v.eq_ignore_ascii_case("default") {
            return Some(None);
        }
        if v.eq_ignore_ascii_case("auto") {
            return Some(Some(ParallelDegree::AUTO));
        }
        let n: u32 = v.parse().ok()?;
        (1..=MAX_DEGREE)
            .contains(&n)
            .then_some(Some(ParallelDegree::Fixed(n)))
    }
}

impl fmt::Display for ParallelDegree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParallelDegree::Fixed(n) => write!(f, "{n}"),
            ParallelDegree::Auto(_) => f.write_str("auto"),
        }
    }
}

/// A statement about the setting, answered by the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DegreeCommand {
    /// `SET parallel_degree = v` (`None`: back to the service default).
    Set(Option<ParallelDegree>),
    /// `SET` with a value out of range or not a number.
    Invalid(String),
    Reset,
    Show,
}

/// Recognises `SET [SESSION] parallel_degree {=|TO} v`, `RESET
/// parallel_degree`, `SHOW parallel_degree` (also with the `rustydb.`
/// prefix), one statement, an optional trailing semicolon.
pub fn degree_command(sql: &str) -> Option<DegreeCommand> {
    let statement = setting_statement(sql)?;
    if statement.name != "parallel_degree" && statement.name != "rustydb.parallel_degree" {
        return None;
    }
    Some(match statement.verb {
        SettingVerb::Show => DegreeCommand::Show,
        SettingVerb::Reset => DegreeCommand::Reset,
        SettingVerb::Set => match ParallelDegree::parse(&statement.value) {
            Some(d) => DegreeCommand::Set(d),
            None => DegreeCommand::Invalid(statement.value),
        },
    })
}

/// The `/*+ parallel(N) */` hint at the start of a statement, if any.
pub fn hint_degree(sql: &str) -> Option<u32> {
    let body = sql.trim_start().strip_prefix("/*+")?;
    let end = body.find("*/")?;
    let hint = body[..end].to_ascii_lowercase();
    let at = hint.find("parallel")?;
    let args = hint[at + "parallel".len()..]
        .trim_start()
        .strip_prefix('(')?;
    let close = args.find(')')?;
    let n: u32 = args[..close].trim().parse().ok()?;
    (1..=MAX_DEGREE).contains(&n).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_show_reset_are_recognised() {
        use DegreeCommand as C;
        let three = Some(ParallelDegree::Fixed(3));
        assert_eq!(
            degree_command("SET parallel_degree = 3"),
            Some(C::Set(three))
        );
        assert_eq!(
            degree_command("set parallel_degree to '3';"),
            Some(C::Set(three))
        );
        assert_eq!(degree_command("SET parallel_degree=3"), Some(C::Set(three)));
        assert_eq!(
            degree_command("SET parallel_degree =3"),
            Some(C::Set(three))
        );
        assert_eq!(
            degree_command("SET SESSION rustydb.parallel_degree TO auto"),
            Some(C::Set(Some(ParallelDegree::AUTO)))
        );
        assert_eq!(
            degree_command("SET parallel_degree = default"),
            Some(C::Set(None))
        );
        assert_eq!(
            degree_command("SET parallel_degree = 0"),
            Some(C::Invalid("0".into()))
        );
        assert_eq!(
            degree_command("SET parallel_degree = lots"),
            Some(C::Invalid("lots".into()))
        );
        assert_eq!(degree_command("RESET parallel_degree"), Some(C::Reset));
        assert_eq!(degree_command("show PARALLEL_DEGREE;"), Some(C::Show));
        assert_eq!(degree_command("SET work_mem = 3"), None);
        assert_eq!(degree_command("SHOW parallel_degree, x"), None);
        assert_eq!(degree_command("SELECT 1"), None);
        assert_eq!(degree_command("SET parallel_degree = 3; SELECT 1"), None);
    }

    #[test]
    fn hints_and_resolution() {
        assert_eq!(hint_degree("/*+ parallel(3) */ SELECT 1"), Some(3));
        assert_eq!(hint_degree("  /*+PARALLEL( 2 )*/SELECT 1"), Some(2));
        assert_eq!(hint_degree("/* parallel(3) */ SELECT 1"), None);
        assert_eq!(hint_degree("SELECT /*+ parallel(3) */ 1"), None);
        assert_eq!(hint_degree("/*+ parallel(999) */ SELECT 1"), None);
        assert_eq!(ParallelDegree::AUTO.resolve(3), 3);
        assert_eq!(ParallelDegree::AUTO.resolve(0), 1);
        assert_eq!(ParallelDegree::Fixed(4).resolve(1), 4);
        assert!(!ParallelDegree::Fixed(1).may_split());
        let t: toml::Value = toml::from_str("a = \"auto\"\nb = 3").unwrap();
        let a: ParallelDegree = t["a"].clone().try_into().unwrap();
        let b: ParallelDegree = t["b"].clone().try_into().unwrap();
        assert_eq!((a, b), (ParallelDegree::AUTO, ParallelDegree::Fixed(3)));
        assert_eq!(a.to_string(), "auto");
    }
}
