//! The differential SQL corpus on disk: `compat/sql/NN_topic.sql`.
//!
//! A file is a sequence of `;`-terminated statements. `--` comments run to
//! the end of the line; single-quoted strings (with `''`), `E'...'` strings
//! (with backslash escapes) and double-quoted identifiers may contain `;`.
//! Dollar quoting is not supported (the corpus does not use it).
//!
//! A comment of the form `-- error: SQLSTATE` inside or just before a
//! statement declares that PostgreSQL must reject it with that code; the
//! harness checks this on the reference server, so a corpus statement that
//! errors for the wrong reason (a typo, say) is caught. A statement without
//! the annotation must succeed on PostgreSQL.
//!
//! A `-- status-only` comment makes the harness compare only success vs
//! error (and the SQLSTATE), not the rows: for EXPLAIN, whose plan text is
//! the implementation's own.
//!
//! Statement indexes are 1-based within their file and are what
//! `compat/known_failures.txt` refers to.

use std::path::{Path, PathBuf};

/// One statement of a corpus file.
#[derive(Clone, Debug)]
pub struct Statement {
    /// 1-based position in the file.
    pub index: usize,
    /// Line where the statement starts (for messages).
    pub line: usize,
    /// Text sent to the servers, comments removed.
    pub sql: String,
    /// SQLSTATE PostgreSQL must answer with, from `-- error: XXXXX`.
    pub expect_error: Option<String>,
    /// From `-- status-only`: compare success/SQLSTATE but not rows (for
    /// output that legitimately differs, like EXPLAIN plans).
    pub status_only: bool,
}

/// A parsed corpus file.
#[derive(Clone, Debug)]
pub struct CorpusFile {
    /// File name, e.g. `03_insert.sql`.
    pub name: String,
    pub statements: Vec<Statement>,
}

impl CorpusFile {
    /// The per-file database name, `corpus_<stem>` lowercased and sanitised.
    pub fn database(&self) -> String {
        let stem = self.name.trim_end_matches(".sql");
        let clean: String = stem
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("corpus_{clean}")
    }
}

/// `<workspace>/compat`, found from this crate's manifest dir.
pub fn compat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|p| p.join("compat"))
        .unwrap_or_else(|| PathBuf::from("compat"))
}

/// Loads every `compat/sql/*.sql` in name order; `RUSTYDB_CORPUS_FILTER`
/// (a substring of the file name) narrows the set for quick runs.
pub fn load_corpus() -> Vec<CorpusFile> {
    let dir = compat_dir().join("sql");
    let filter = std::env::var("RUSTYDB_CORPUS_FILTER").unwrap_or_default();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            if !name.contains(&filter) {
                return None;
            }
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
            Some(CorpusFile {
                name,
                statements: split_statements(&text),
            })
        })
        .collect()
}

/// Splits SQL text into statements (see the module docs for the rules).
pub fn split_statements(text: &str) -> Vec<Statement> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut expect: Option<String> = None;
    let mut status_only = false;
    let mut line = 1usize;
    let mut start_line: Option<usize> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '-' && next == Some('-') {
            let end = chars[i..]
                .iter()
                .position(|&x| x == '\n')
                .map_or(chars.len(), |p| i + p);
            let comment: String = chars[i + 2..end].iter().collect();
            if let Some(code) = comment.trim().strip_prefix("error:") {
                expect = Some(code.trim().to_string());
            }
            if comment.trim() == "status-only" {
                status_only = true;
            }
            i = end;
            continue;
        }
        if c == '\n' {
            line += 1;
        }
        if !c.is_whitespace() && start_line.is_none() && c != ';' {
            start_line = Some(line);
        }
        match c {
            '\'' | '"' => {
                // Copy the quoted span verbatim. `E'..'` allows `\'`.
                let backslash = c == '\''
                    && i > 0
                    && matches!(chars[i - 1], 'E' | 'e')
                    && (i < 2 || !chars[i - 2].is_alphanumeric());
                cur.push(c);
                i += 1;
                while i < chars.len() {
                    let d = chars[i];
                    cur.push(d);
                    if d == '\n' {
                        line += 1;
                    }
                    if backslash && d == '\\' {
                        if let Some(&e) = chars.get(i + 1) {
                            cur.push(e);
                            i += 2;
                            continue;
                        }
                    }
                    if d == c {
                        if chars.get(i + 1) == Some(&c) {
                            cur.push(c);
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            ';' => {
                let sql = cur.trim().to_string();
                if !sql.is_empty() {
                    out.push(Statement {
                        index: out.len() + 1,
                        line: start_line.unwrap_or(line),
                        sql,
                        expect_error: expect.take(),
                        status_only,
                    });
                }
                expect = None;
                status_only = false;
                cur.clear();
                start_line = None;
                i += 1;
            }
            _ => {
                cur.push(c);
                i += 1;
            }
        }
    }
    let sql = cur.trim().to_string();
    if !sql.is_empty() {
        out.push(Statement {
            index: out.len() + 1,
            line: start_line.unwrap_or(line),
            sql,
            expect_error: expect,
            status_only,
        });
    }
    out
}

/// True when the statement's result order is defined: an `ORDER BY` at
/// parenthesis depth 0 (so `string_agg(x ORDER BY x)` or an ordered
/// subquery does not count). Quoted text is ignored.
pub fn is_ordered(sql: &str) -> bool {
    let mut depth = 0i32;
    let mut flat = String::new();
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => flat.push(c.to_ascii_lowercase()),
            _ => {}
        }
    }
    let words: Vec<&str> = flat.split_whitespace().collect();
    words.windows(2).any(|w| w[0] == "order" && w[1] == "by")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_with_comments_strings_and_annotations() {
        let text = "-- header\nCREATE TABLE t (a int); -- trailing\n\
                    SELECT 'a;b', \"x;y\" FROM t;\n-- error: 42P01\nSELECT * FROM nope;\n\
                    SELECT E'it\\'s;';\nSELECT 'it''s;'";
        let s = split_statements(text);
        assert_eq!(s.len(), 5, "{s:?}");
        assert_eq!(s[0].sql, "CREATE TABLE t (a int)");
        assert_eq!(s[1].sql, "SELECT 'a;b', \"x;y\" FROM t");
        assert_eq!(s[1].line, 3);
        assert_eq!(s[2].expect_error.as_deref(), Some("42P01"));
        assert_eq!(s[1].expect_error, None);
        assert_eq!(s[3].sql, "SELECT E'it\\'s;'");
        assert_eq!(s[4].sql, "SELECT 'it''s;'");
        assert_eq!(s[4].index, 5);
    }

    #[test]
    fn corpus_is_large_and_well_formed() {
        let dir = compat_dir().join("sql");
        let mut total = 0;
        for entry in std::fs::read_dir(&dir).expect("compat/sql") {
            let path = entry.expect("dir entry").path();
            let text = std::fs::read_to_string(&path).expect("read corpus file");
            let stmts = split_statements(&text);
            assert!(!stmts.is_empty(), "{} has no statements", path.display());
            for s in &stmts {
                assert!(
                    !s.sql.contains('\u{0}'),
                    "{}:{} contains NUL",
                    path.display(),
                    s.index
                );
            }
            total += stmts.len();
        }
        assert!(total >= 450, "corpus has only {total} statements");
    }

    #[test]
    fn order_detection() {
        assert!(is_ordered("select a from t order by a"));
        assert!(!is_ordered("select string_agg(a, ',' order by a) from t"));
        assert!(!is_ordered("select * from (select a from t order by a) s"));
        assert!(!is_ordered("select 'order by' from t"));
        assert!(is_ordered(
            "select a from t union select b from u\nORDER  BY 1"
        ));
    }
}
