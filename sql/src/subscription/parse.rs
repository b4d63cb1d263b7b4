//! Parsing `CREATE | ALTER | DROP SUBSCRIPTION` (sqlparser does not know them).
//!
//! The text is split into tokens by sqlparser's tokenizer (so quoting,
//! comments and escapes follow PostgreSQL's lexical rules) and the small
//! grammar below is read by hand:
//!
//! ```text
//! CREATE SUBSCRIPTION name CONNECTION 'conninfo' PUBLICATION p [, ...] [WITH (opt [= v], ...)]
//! ALTER SUBSCRIPTION name ENABLE | DISABLE | CONNECTION 'conninfo'
//!                       | SET PUBLICATION p [, ...] [WITH (...)]
//!                       | ADD | DROP PUBLICATION p [, ...] [WITH (...)]
//!                       | REFRESH PUBLICATION [WITH (...)]
//!                       | SET (opt [= v], ...) | SKIP (lsn = 'X/Y' | NONE)
//! DROP SUBSCRIPTION [IF EXISTS] name [CASCADE | RESTRICT]
//! ```
//!
//! `detect` answers cheaply whether a text is one of these (only a single
//! statement, optionally ended by `;`); anything else goes to sqlparser.
//! Option values are kept as written (`Opt`) and validated by `options`,
//! which knows each statement's allowed parameters.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::{Error, Result};

/// A parsed subscription statement.
#[derive(Debug, Clone, PartialEq)]
pub enum SubStatement {
    Create {
        name: String,
        conninfo: String,
        publications: Vec<String>,
        options: Vec<Opt>,
    },
    Alter {
        name: String,
        action: AlterAction,
    },
    Drop {
        if_exists: bool,
        name: String,
    },
}

/// What an ALTER SUBSCRIPTION does.
#[derive(Debug, Clone, PartialEq)]
pub enum AlterAction {
    Enable,
    Disable,
    Connection(String),
    SetPublication(Vec<String>, Vec<Opt>),
    AddPublication(Vec<String>, Vec<Opt>),
    DropPublication(Vec<String>, Vec<Opt>),
    Refresh(Vec<Opt>),
    Set(Vec<Opt>),
    Skip(Vec<Opt>),
}

/// One `name [= value]` option, the value as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Opt {
    pub name: String,
    pub value: Option<OptValue>,
}

/// An option's value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum OptValue {
    /// A bare word (`true`, `off`, `none`), lower-cased.
    Word(String),
    /// A quoted string.
    Str(String),
    /// A number as written.
    Number(String),
}

impl OptValue {
    /// The value as PostgreSQL's `defGetString` would see it.
    pub fn text(&self) -> &str {
        match self {
            OptValue::Word(s) | OptValue::Str(s) | OptValue::Number(s) => s,
        }
    }
}

/// Whether `sql` is a single subscription statement; parses it if so.
pub fn detect(sql: &str) -> Option<Result<SubStatement>> {
    let tokens = tokens(sql).ok()?;
    let head: Vec<String> = tokens
        .iter()
        .take(2)
        .filter_map(|t| match t {
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_lowercase()),
            _ => None,
        })
        .collect();
    if head.len() != 2 || head[1] != "subscription" {
        return None;
    }
    if !matches!(head[0].as_str(), "create" | "alter" | "drop") {
        return None;
    }
    // A second statement after a `;` is left to the general parser (which
    // reports the syntax error) rather than half-run here.
    if let Some(pos) = tokens.iter().position(|t| *t == Token::SemiColon) {
        if pos + 1 < tokens.len() {
            return None;
        }
    }
    let mut p = Parser { tokens, pos: 2 };
    Some(p.statement(&head[0]))
}

fn tokens(sql: &str) -> Result<Vec<Token>> {
    let dialect = PostgreSqlDialect {};
    let all = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| Error::syntax(e.to_string()))?;
    Ok(all
        .into_iter()
        // Comments are whitespace tokens too.
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect())
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    /// A syntax error at the current token, PostgreSQL-style.
    fn error(&self) -> Error {
        match self.peek() {
            None | Some(Token::SemiColon) => Error::syntax("syntax error at end of input"),
            Some(t) => Error::syntax(format!("syntax error at or near \"{t}\"")),
        }
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
    }

    fn keyword(&mut self, kw: &str) -> Result<()> {
        if self.is_keyword(kw) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn eat(&mut self, kw: &str) -> bool {
        let yes = self.is_keyword(kw);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn token(&mut self, t: Token) -> Result<()> {
        if self.peek() == Some(&t) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// An identifier: unquoted names fold to lower case.
    fn ident(&mut self) -> Result<String> {
        match self.peek() {
            Some(Token::Word(w)) => {
                let name = if w.quote_style.is_some() {
                    w.value.clone()
                } else {
                    w.value.to_lowercase()
                };
                self.pos += 1;
                Ok(name)
            }
            _ => Err(self.error()),
        }
    }

    fn string(&mut self) -> Result<String> {
        match self.peek() {
            Some(Token::SingleQuotedString(s)) | Some(Token::EscapedStringLiteral(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.error()),
        }
    }

    fn end(&mut self) -> Result<()> {
        if self.peek() == Some(&Token::SemiColon) {
            self.pos += 1;
        }
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error()),
        }
    }

    fn statement(&mut self, verb: &str) -> Result<SubStatement> {
        let stmt = match verb {
            "create" => self.create()?,
            "alter" => self.alter()?,
            _ => self.drop()?,
        };
        self.end()?;
        Ok(stmt)
    }

    fn create(&mut self) -> Result<SubStatement> {
        let name = self.ident()?;
        self.keyword("connection")?;
        let conninfo = self.string()?;
        self.keyword("publication")?;
        let publications = self.name_list()?;
        let options = self.with_options()?;
        Ok(SubStatement::Create {
            name,
            conninfo,
            publications,
            options,
        })
    }

    fn alter(&mut self) -> Result<SubStatement> {
        let name = self.ident()?;
        let action = if self.eat("enable") {
            AlterAction::Enable
        } else if self.eat("disable") {
            AlterAction::Disable
        } else if self.eat("connection") {
            AlterAction::Connection(self.string()?)
        } else if self.eat("refresh") {
            self.keyword("publication")?;
            AlterAction::Refresh(self.with_options()?)
        } else if self.eat("skip") {
            AlterAction::Skip(self.option_list()?)
        } else if self.eat("add") {
            self.keyword("publication")?;
            let names = self.name_list()?;
            AlterAction::AddPublication(names, self.with_options()?)
        } else if self.eat("drop") {
            self.keyword("publication")?;
            let names = self.name_list()?;
            AlterAction::DropPublication(names, self.with_options()?)
        } else if self.eat("set") {
            if self.eat("publication") {
                let names = self.name_list()?;
                AlterAction::SetPublication(names, self.with_options()?)
            } else {
                AlterAction::Set(self.option_list()?)
            }
        } else {
            return Err(self.error());
        };
        Ok(SubStatement::Alter { name, action })
    }

    fn drop(&mut self) -> Result<SubStatement> {
        let if_exists = if self.eat("if") {
            self.keyword("exists")?;
            true
        } else {
            false
        };
        let name = self.ident()?;
        // CASCADE / RESTRICT are accepted and change nothing, as in PostgreSQL.
        if !self.eat("cascade") {
            self.eat("restrict");
        }
        Ok(SubStatement::Drop { if_exists, name })
    }

    fn name_list(&mut self) -> Result<Vec<String>> {
        let mut names = vec![self.ident()?];
        while self.peek() == Some(&Token::Comma) {
            self.pos += 1;
            names.push(self.ident()?);
        }
        Ok(names)
    }

    fn with_options(&mut self) -> Result<Vec<Opt>> {
        if self.eat("with") {
            self.option_list()
        } else {
            Ok(vec![])
        }
    }

    /// `( name [= value] [, ...] )`
    fn option_list(&mut self) -> Result<Vec<Opt>> {
        self.token(Token::LParen)?;
        let mut out = vec![];
        loop {
            let name = self.ident()?;
            let value = if self.peek() == Some(&Token::Eq) {
                self.pos += 1;
                Some(self.value()?)
            } else {
                None
            };
            out.push(Opt { name, value });
            match self.next() {
                Some(Token::Comma) => continue,
                Some(Token::RParen) => break,
                _ => {
                    self.pos -= 1;
                    return Err(self.error());
                }
            }
        }
        Ok(out)
    }

    fn value(&mut self) -> Result<OptValue> {
        let v = match self.peek() {
            Some(Token::Word(w)) if w.quote_style.is_none() => {
                OptValue::Word(w.value.to_lowercase())
            }
            Some(Token::Word(w)) => OptValue::Str(w.value.clone()),
            Some(Token::Number(n, _)) => OptValue::Number(n.clone()),
            Some(Token::SingleQuotedString(s)) | Some(Token::EscapedStringLiteral(s)) => {
                OptValue::Str(s.clone())
            }
            _ => return Err(self.error()),
        };
        self.pos += 1;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> Result<SubStatement> {
        detect(sql).unwrap_or_else(|| Err(Error::internal("not detected")))
    }

    #[test]
    fn create_with_options() {
        let s = parse("create subscription \"S1\" connection 'host=a port=1' publication p, Q with (copy_data = false, slot_name='x', enabled);").unwrap();
        assert_eq!(
            s,
            SubStatement::Create {
                name: "S1".into(),
                conninfo: "host=a port=1".into(),
                publications: vec!["p".into(), "q".into()],
                options: vec![
                    Opt {
                        name: "copy_data".into(),
                        value: Some(OptValue::Word("false".into()))
                    },
                    Opt {
                        name: "slot_name".into(),
                        value: Some(OptValue::Str("x".into()))
                    },
                    Opt {
                        name: "enabled".into(),
                        value: None
                    },
                ],
            }
        );
    }

    #[test]
    fn alter_forms() {
        let a = |sql: &str| match parse(sql).unwrap() {
            SubStatement::Alter { action, .. } => action,
            other => panic!("{other:?}"),
        };
        assert_eq!(a("ALTER SUBSCRIPTION s ENABLE"), AlterAction::Enable);
        assert_eq!(a("ALTER SUBSCRIPTION s disable"), AlterAction::Disable);
        assert_eq!(
            a("ALTER SUBSCRIPTION s CONNECTION 'host=b'"),
            AlterAction::Connection("host=b".into())
        );
        assert_eq!(
            a("ALTER SUBSCRIPTION s REFRESH PUBLICATION"),
            AlterAction::Refresh(vec![])
        );
        assert_eq!(
            a("ALTER SUBSCRIPTION s SET PUBLICATION a, b"),
            AlterAction::SetPublication(vec!["a".into(), "b".into()], vec![])
        );
        assert_eq!(
            a("ALTER SUBSCRIPTION s SKIP (lsn = '0/1A')"),
            AlterAction::Skip(vec![Opt {
                name: "lsn".into(),
                value: Some(OptValue::Str("0/1A".into()))
            }])
        );
        assert_eq!(
            a("ALTER SUBSCRIPTION s SKIP (lsn = 42)"),
            AlterAction::Skip(vec![Opt {
                name: "lsn".into(),
                value: Some(OptValue::Number("42".into()))
            }])
        );
    }

    #[test]
    fn drop_forms() {
        assert_eq!(
            parse("DROP SUBSCRIPTION IF EXISTS s CASCADE").unwrap(),
            SubStatement::Drop {
                if_exists: true,
                name: "s".into()
            }
        );
        assert_eq!(
            parse("drop subscription s").unwrap(),
            SubStatement::Drop {
                if_exists: false,
                name: "s".into()
            }
        );
    }

    #[test]
    fn errors_and_non_matches() {
        assert!(detect("SELECT 1").is_none());
        assert!(detect("CREATE TABLE subscription (a int)").is_none());
        assert!(detect("DROP SUBSCRIPTION s; SELECT 1").is_none());
        let e = parse("CREATE SUBSCRIPTION s CONNECTION 'x'").unwrap_err();
        assert_eq!(e.message(), "syntax error at end of input");
        let e = parse("ALTER SUBSCRIPTION s FLY").unwrap_err();
        assert_eq!(e.message(), "syntax error at or near \"FLY\"");
    }
}
