//! Parsing `CREATE / ALTER / DROP PUBLICATION`.
//!
//! sqlparser does not know publications, so this is a small recursive
//! descent parser over sqlparser's *tokens* (so quoting, string escapes and
//! comments follow the same rules as everywhere else). Row-filter
//! expressions are handed back to sqlparser's `Parser::parse_expr`, so they
//! are the same `ast::Expr` the binder checks for CHECK constraints.
//!
//! Grammar (PostgreSQL 15, plus the `MASK` clause, our extension):
//!
//! ```text
//! CREATE PUBLICATION name
//!     [ FOR ALL TABLES | FOR TABLE [ONLY] t [(col, ...)] [WHERE (expr)] [, [TABLE] ...] ]
//!     [ WITH (option = value, ...) ]
//!     [ MASK (table.column = hash | redact | null | partial(prefix, suffix), ...) ]
//! ALTER PUBLICATION name ADD | SET | DROP TABLE t [...] , ...
//! ALTER PUBLICATION name SET (option = value, ...)
//! ALTER PUBLICATION name SET MASK (...)          -- replaces all masks
//! ALTER PUBLICATION name RENAME TO new | OWNER TO role
//! DROP PUBLICATION [IF EXISTS] name [, ...] [CASCADE | RESTRICT]
//! ```
//!
//! `recognize` only claims statements that start with one of these three
//! keyword pairs; everything else goes to sqlparser untouched.

use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::mask::Mask;
use crate::error::{Error, Result};
use crate::SqlState;

/// One table entry of a publication statement.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    pub name: String,
    pub columns: Option<Vec<String>>,
    pub filter: Option<ast::Expr>,
}

/// `table.column = mask`.
#[derive(Debug, Clone, PartialEq)]
pub struct MaskSpec {
    pub table: String,
    pub column: String,
    pub mask: Mask,
}

/// What a publication covers.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Nothing,
    AllTables,
    Tables(Vec<TableSpec>),
}

/// The ALTER PUBLICATION actions.
#[derive(Debug, Clone, PartialEq)]
pub enum AlterAction {
    AddTables(Vec<TableSpec>),
    SetTables(Vec<TableSpec>),
    DropTables(Vec<TableSpec>),
    SetOptions(Vec<(String, String)>),
    SetMask(Vec<MaskSpec>),
    RenameTo(String),
    OwnerTo(String),
}

/// A parsed publication statement.
#[derive(Debug, Clone, PartialEq)]
pub enum PubStatement {
    Create {
        name: String,
        target: Target,
        options: Vec<(String, String)>,
        masks: Vec<MaskSpec>,
    },
    Alter {
        name: String,
        action: AlterAction,
    },
    Drop {
        names: Vec<String>,
        if_exists: bool,
    },
}

/// Claims `sql` if it is a publication statement (`None` otherwise).
pub fn recognize(sql: &str) -> Option<Result<PubStatement>> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql).tokenize().ok()?;
    let tokens: Vec<Token> = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let word = |i: usize| match tokens.get(i) {
        Some(Token::Word(w)) if w.quote_style.is_none() => Some(w.value.to_lowercase()),
        _ => None,
    };
    let verb = word(0)?;
    if !matches!(verb.as_str(), "create" | "alter" | "drop") || word(1)? != "publication" {
        return None;
    }
    let mut p = Cursor { tokens, pos: 2 };
    Some(p.statement(&verb))
}

struct Cursor {
    tokens: Vec<Token>,
    pos: usize,
}

fn near(t: Option<&Token>) -> Error {
    match t {
        None | Some(Token::EOF) | Some(Token::SemiColon) => {
            Error::syntax("syntax error at end of input")
        }
        Some(t) => Error::syntax(format!("syntax error at or near \"{t}\"")),
    }
}

impl Cursor {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    /// Whether the next token is the keyword `kw` (consumed if so).
    fn eat(&mut self, kw: &str) -> bool {
        match self.peek() {
            Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn expect(&mut self, kw: &str) -> Result<()> {
        if self.eat(kw) {
            Ok(())
        } else {
            Err(near(self.peek()))
        }
    }

    fn eat_token(&mut self, tok: &Token) -> bool {
        if self.peek() == Some(tok) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_token(&mut self, tok: &Token) -> Result<()> {
        if self.eat_token(tok) {
            Ok(())
        } else {
            Err(near(self.peek()))
        }
    }

    /// An identifier: unquoted words fold to lower case, as in PostgreSQL.
    fn ident(&mut self) -> Result<String> {
        match self.peek() {
            Some(Token::Word(w)) => {
                let v = if w.quote_style.is_some() {
                    w.value.clone()
                } else {
                    w.value.to_lowercase()
                };
                self.pos += 1;
                Ok(v)
            }
            other => Err(near(other)),
        }
    }

    /// A table name, `public.` or `pg_catalog.`-less (we have one schema).
    fn table_name(&mut self) -> Result<String> {
        let first = self.ident()?;
        if self.eat_token(&Token::Period) {
            let second = self.ident()?;
            if first != "public" {
                return Err(Error::new(
                    SqlState::UNDEFINED_TABLE,
                    format!("relation \"{first}.{second}\" does not exist"),
                ));
            }
            return Ok(second);
        }
        Ok(first)
    }

    /// The end of the statement: nothing, or one `;` and nothing after it.
    fn finish(&mut self) -> Result<()> {
        self.eat_token(&Token::SemiColon);
        match self.peek() {
            None | Some(Token::EOF) => Ok(()),
            Some(_) => Err(Error::unsupported(
                "a PUBLICATION command must be sent as a statement of its own",
            )),
        }
    }

    fn statement(&mut self, verb: &str) -> Result<PubStatement> {
        let stmt = match verb {
            "create" => self.create()?,
            "alter" => self.alter()?,
            _ => self.drop()?,
        };
        self.finish()?;
        Ok(stmt)
    }

    fn create(&mut self) -> Result<PubStatement> {
        let name = self.ident()?;
        let mut target = Target::Nothing;
        if self.eat("for") {
            if self.eat("all") {
                self.expect("tables")?;
                target = Target::AllTables;
            } else if self.eat("table") {
                target = Target::Tables(self.table_list()?);
            } else if self.eat("tables") {
                return Err(Error::unsupported(
                    "FOR TABLES IN SCHEMA is not supported (RustyDB has one schema: use FOR ALL TABLES)",
                ));
            } else {
                return Err(near(self.peek()));
            }
        }
        let mut options = Vec::new();
        let mut masks = Vec::new();
        loop {
            if self.eat("with") {
                options = self.options()?;
            } else if self.eat("mask") {
                masks = self.masks()?;
            } else {
                break;
            }
        }
        Ok(PubStatement::Create {
            name,
            target,
            options,
            masks,
        })
    }

    fn alter(&mut self) -> Result<PubStatement> {
        let name = self.ident()?;
        let action = if self.eat("add") {
            self.expect("table")?;
            AlterAction::AddTables(self.table_list()?)
        } else if self.eat("drop") {
            self.expect("table")?;
            let list = self.table_list()?;
            if list.iter().any(|t| t.columns.is_some()) {
                return Err(Error::syntax(
                    "column list must not be specified in ALTER PUBLICATION ... DROP",
                ));
            }
            if list.iter().any(|t| t.filter.is_some()) {
                return Err(Error::syntax(
                    "cannot use a WHERE clause when removing a table from a publication",
                ));
            }
            AlterAction::DropTables(list)
        } else if self.eat("set") {
            if self.eat("table") {
                AlterAction::SetTables(self.table_list()?)
            } else if self.eat("mask") {
                AlterAction::SetMask(self.masks()?)
            } else if self.peek() == Some(&Token::LParen) {
                AlterAction::SetOptions(self.options()?)
            } else {
                return Err(near(self.peek()));
            }
        } else if self.eat("rename") {
            self.expect("to")?;
            AlterAction::RenameTo(self.ident()?)
        } else if self.eat("owner") {
            self.expect("to")?;
            AlterAction::OwnerTo(self.ident()?)
        } else {
            return Err(near(self.peek()));
        };
        Ok(PubStatement::Alter { name, action })
    }

    fn drop(&mut self) -> Result<PubStatement> {
        let if_exists = if self.eat("if") {
            self.expect("exists")?;
            true
        } else {
            false
        };
        let mut names = vec![self.ident()?];
        while self.eat_token(&Token::Comma) {
            names.push(self.ident()?);
        }
        if !self.eat("cascade") {
            self.eat("restrict");
        }
        Ok(PubStatement::Drop { names, if_exists })
    }

    /// `[ONLY] t [(cols)] [WHERE (expr)] [, [TABLE] ...]`
    fn table_list(&mut self) -> Result<Vec<TableSpec>> {
        let mut out = Vec::new();
        loop {
            self.eat("only");
            let name = self.table_name()?;
            self.eat_token(&Token::Mul);
            let columns = if self.eat_token(&Token::LParen) {
                let mut cols = vec![self.ident()?];
                while self.eat_token(&Token::Comma) {
                    cols.push(self.ident()?);
                }
                self.expect_token(&Token::RParen)?;
                Some(cols)
            } else {
                None
            };
            let filter = if self.eat("where") {
                Some(self.paren_expr()?)
            } else {
                None
            };
            out.push(TableSpec {
                name,
                columns,
                filter,
            });
            if !self.eat_token(&Token::Comma) {
                return Ok(out);
            }
            self.eat("table");
        }
    }

    /// `( expr )`: the tokens up to the matching parenthesis, parsed by
    /// sqlparser.
    fn paren_expr(&mut self) -> Result<ast::Expr> {
        self.expect_token(&Token::LParen)?;
        let start = self.pos;
        let mut depth = 1usize;
        while depth > 0 {
            match self.next() {
                Some(Token::LParen) => depth += 1,
                Some(Token::RParen) => depth -= 1,
                None | Some(Token::EOF) => return Err(near(None)),
                Some(_) => {}
            }
        }
        let inner: Vec<Token> = self.tokens[start..self.pos - 1].to_vec();
        if inner.is_empty() {
            return Err(near(self.tokens.get(start)));
        }
        let dialect = PostgreSqlDialect {};
        let mut parser = Parser::new(&dialect).with_tokens(inner);
        let expr = parser
            .parse_expr()
            .map_err(|e| Error::syntax(e.to_string().trim_start_matches("sql parser error: ")))?;
        if parser.peek_token().token != Token::EOF {
            return Err(near(Some(&parser.peek_token().token)));
        }
        Ok(expr)
    }

    /// `( name = value, ... )`, names lower-cased, values as text.
    fn options(&mut self) -> Result<Vec<(String, String)>> {
        self.expect_token(&Token::LParen)?;
        let mut out = Vec::new();
        loop {
            let name = self.ident()?;
            let value = if self.eat_token(&Token::Eq) {
                match self.next() {
                    Some(Token::SingleQuotedString(s)) => s,
                    Some(Token::Number(n, _)) => n,
                    Some(Token::Word(w)) => w.value.to_lowercase(),
                    other => return Err(near(other.as_ref())),
                }
            } else {
                // `WITH (replicate_ddl)` means true, as for boolean options.
                "true".to_string()
            };
            out.push((name, value));
            if !self.eat_token(&Token::Comma) {
                break;
            }
        }
        self.expect_token(&Token::RParen)?;
        Ok(out)
    }

    /// `( table.column = mask, ... )`.
    fn masks(&mut self) -> Result<Vec<MaskSpec>> {
        self.expect_token(&Token::LParen)?;
        let mut out = Vec::new();
        loop {
            let table = self.ident()?;
            self.expect_token(&Token::Period)?;
            let column = self.ident()?;
            self.expect_token(&Token::Eq)?;
            let kind = self.ident()?;
            let mut args = Vec::new();
            if self.eat_token(&Token::LParen) {
                loop {
                    match self.next() {
                        Some(Token::Number(n, _)) => args.push(n),
                        other => return Err(near(other.as_ref())),
                    }
                    if !self.eat_token(&Token::Comma) {
                        break;
                    }
                }
                self.expect_token(&Token::RParen)?;
            }
            out.push(MaskSpec {
                table,
                column,
                mask: Mask::from_parts(&kind, &args)?,
            });
            if !self.eat_token(&Token::Comma) {
                break;
            }
        }
        self.expect_token(&Token::RParen)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> Result<PubStatement> {
        recognize(sql).unwrap_or_else(|| Err(Error::syntax("not recognized")))
    }

    #[test]
    fn ignores_other_statements() {
        assert!(recognize("select 1").is_none());
        assert!(recognize("create table publication (x int)").is_none());
    }

    #[test]
    fn parses_create_with_everything() {
        let s = parse(
            "CREATE PUBLICATION p FOR TABLE users (id, email) WHERE (active AND id > 2), \
             TABLE orders WITH (publish = 'insert,update', mask_salt = 's') \
             MASK (users.email = hash, users.name = partial(1, 0));",
        );
        let Ok(PubStatement::Create {
            name,
            target: Target::Tables(tables),
            options,
            masks,
        }) = s
        else {
            panic!("unexpected {s:?}");
        };
        assert_eq!(name, "p");
        assert_eq!(tables.len(), 2);
        assert_eq!(
            tables[0].columns.as_deref(),
            Some(&["id".to_string(), "email".to_string()][..])
        );
        assert!(tables[0].filter.is_some());
        assert_eq!(tables[1].name, "orders");
        assert_eq!(options.len(), 2);
        assert_eq!(masks[1].mask, Mask::Partial(1, 0));
    }

    #[test]
    fn alter_drop_refuses_column_lists() {
        let e = parse("alter publication p drop table t (a)").unwrap_err();
        assert_eq!(e.state(), SqlState::SYNTAX_ERROR);
    }

    #[test]
    fn syntax_errors_name_the_token() {
        let e = parse("create publication p for tablez t").unwrap_err();
        assert_eq!(e.message(), "syntax error at or near \"tablez\"");
        let e = parse("drop publication").unwrap_err();
        assert_eq!(e.message(), "syntax error at end of input");
    }
}
