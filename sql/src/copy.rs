//! COPY: bulk load from and dump to the client, in text, CSV and binary
//! formats (the binary layout lives in `copy_binary`).
//!
//! `COPY t FROM STDIN` answers `CopyIn`; the server then streams CopyData
//! chunks to `copy_in_data`, which splits them into lines (a line may span
//! chunks), parses fields and inserts rows in batches through the normal
//! INSERT path (so constraints and indexes apply). `copy_in_done` inserts the
//! rest and commits an implicit transaction. `COPY ... TO STDOUT` formats
//! every row up front.

use std::sync::Arc;

use parking_lot::Mutex;
use sqlparser::ast;

use crate::copy_binary::{self, BinaryItem};
use crate::ddl::object_name;
use crate::error::{Error, Result};
use crate::exec::ExecCtx;
use crate::expr::Expr;
use crate::plan::bind::ident;
use crate::plan::dml::{DmlPlan, InsertPlan, InsertSource};
use crate::plan::scope::Scope;
use crate::session::{CopyFormat, QueryResult, Session};
use crate::storage::Transaction;
use crate::types::{binary, text, DataType, Value};
use crate::SqlState;

const BATCH: usize = 1000;

/// Parsing options of a COPY.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub format: CopyFormat,
    pub delimiter: char,
    pub null: String,
    pub header: bool,
    pub quote: char,
    pub escape: char,
}

/// An open COPY FROM STDIN.
pub struct CopyIn {
    options: CopyOptions,
    plan: InsertPlan,
    types: Vec<DataType>,
    buffer: Vec<u8>,
    pending: Vec<Vec<Option<Expr>>>,
    rows: u64,
    header_skipped: bool,
    ctx: ExecCtx,
    /// The implicit transaction, when not inside a block.
    pub(crate) implicit_txn: Option<Arc<Mutex<Box<dyn Transaction>>>>,
    failed: Option<Error>,
    /// The binary-format parser's position (header read, trailer seen).
    binary: copy_binary::BinaryReader,
}

fn parse_options(
    options: &[ast::CopyOption],
    legacy: &[ast::CopyLegacyOption],
) -> Result<CopyOptions> {
    let mut o = CopyOptions {
        format: CopyFormat::Text,
        delimiter: '\t',
        null: "\\N".into(),
        header: false,
        quote: '"',
        escape: '"',
    };
    let mut delimiter = None;
    let mut null = None;
    for opt in options {
        match opt {
            ast::CopyOption::Format(f) => {
                o.format = match f.value.to_lowercase().as_str() {
                    "text" => CopyFormat::Text,
                    "csv" => CopyFormat::Csv,
                    "binary" => CopyFormat::Binary,
                    other => {
                        return Err(Error::unsupported(format!(
                            "COPY format \"{other}\" is not supported"
                        )))
                    }
                }
            }
            ast::CopyOption::Delimiter(c) => delimiter = Some(*c),
            ast::CopyOption::Null(n) => null = Some(n.clone()),
            ast::CopyOption::Header(h) => o.header = *h,
            ast::CopyOption::Quote(c) => o.quote = *c,
            ast::CopyOption::Escape(c) => o.escape = *c,
            ast::CopyOption::Freeze(_) | ast::CopyOption::Encoding(_) => {}
            other => return Err(Error::unsupported(format!("COPY option {other}"))),
        }
    }
    for opt in legacy {
        match opt {
            ast::CopyLegacyOption::Csv(_) => o.format = CopyFormat::Csv,
            ast::CopyLegacyOption::Binary => o.format = CopyFormat::Binary,
            ast::CopyLegacyOption::Delimiter(c) => delimiter = Some(*c),
            ast::CopyLegacyOption::Null(n) => null = Some(n.clone()),
            _ => {}
        }
    }
    if o.format == CopyFormat::Binary {
        let conflict = [
            (delimiter.is_some(), "DELIMITER"),
            (null.is_some(), "NULL"),
            (o.header, "HEADER"),
        ];
        if let Some((_, what)) = conflict.iter().find(|(set, _)| *set) {
            return Err(Error::syntax(format!(
                "cannot specify {what} in BINARY mode"
            )));
        }
    }
    if o.format == CopyFormat::Csv {
        o.delimiter = delimiter.unwrap_or(',');
        o.null = null.unwrap_or_default();
    } else {
        o.delimiter = delimiter.unwrap_or('\t');
        o.null = null.unwrap_or_else(|| "\\N".into());
    }
    Ok(o)
}

/// Starts a COPY statement.
pub fn start(
    session: &mut Session,
    ctx: &ExecCtx,
    source: &ast::CopySource,
    to: bool,
    target: &ast::CopyTarget,
    options: &[ast::CopyOption],
    legacy: &[ast::CopyLegacyOption],
) -> Result<QueryResult> {
    let opts = parse_options(options, legacy)?;
    match (to, target) {
        (false, ast::CopyTarget::Stdin) => {}
        (true, ast::CopyTarget::Stdout) => return copy_out(session, ctx, source, &opts),
        _ => {
            return Err(Error::new(
                SqlState::INSUFFICIENT_PRIVILEGE,
                "COPY to or from a file or program is not allowed",
            )
            .with_hint("Use COPY ... FROM STDIN / TO STDOUT, or psql's \\copy."))
        }
    }
    let ast::CopySource::Table {
        table_name,
        columns,
    } = source
    else {
        return Err(Error::syntax("COPY FROM needs a table"));
    };
    let name = object_name(table_name);
    let table = ctx.with_catalog(|c| c.table(&name))?;
    let targets: Vec<usize> = if columns.is_empty() {
        (0..table.columns.len()).collect()
    } else {
        columns
            .iter()
            .map(|c| {
                let n = ident(c);
                table.column_index(&n).ok_or_else(|| {
                    Error::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!("column \"{n}\" of relation \"{name}\" does not exist"),
                    )
                })
            })
            .collect::<Result<_>>()?
    };
    let (defaults, checks) = {
        let mut guard = ctx.txn.lock();
        let view = crate::statement::View { session };
        let mut b = session.binder(&mut **guard, &view, &[]);
        b.table_rules(&table)?
    };
    let types: Vec<DataType> = targets
        .iter()
        .map(|i| table.columns[*i].data_type.clone())
        .collect();
    let plan = InsertPlan {
        db: ctx.db,
        table,
        targets: targets.clone(),
        source: InsertSource::Values(vec![]),
        source_types: types.clone(),
        defaults,
        checks,
        on_conflict: None,
        returning: None,
        fk: None,
    };
    session.copy = Some(CopyIn {
        options: opts.clone(),
        plan,
        types,
        buffer: Vec::new(),
        pending: Vec::new(),
        rows: 0,
        header_skipped: !opts.header,
        ctx: ctx.clone(),
        implicit_txn: None,
        failed: None,
        binary: copy_binary::BinaryReader::default(),
    });
    Ok(QueryResult::CopyIn {
        columns: targets.len(),
        format: opts.format,
    })
}

fn copy_out(
    session: &mut Session,
    ctx: &ExecCtx,
    source: &ast::CopySource,
    opts: &CopyOptions,
) -> Result<QueryResult> {
    let sql = match source {
        ast::CopySource::Table {
            table_name,
            columns,
        } => {
            let cols = if columns.is_empty() {
                "*".to_string()
            } else {
                columns
                    .iter()
                    .map(|c| format!("\"{}\"", ident(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!("SELECT {cols} FROM {table_name}")
        }
        ast::CopySource::Query(q) => q.to_string(),
    };
    let stmts = crate::parse::parse(&sql)?;
    let Some(ast::Statement::Query(q)) = stmts.first() else {
        return Err(Error::syntax("COPY needs a query"));
    };
    let (plan, scope) = {
        let mut guard = ctx.txn.lock();
        let view = crate::statement::View { session };
        let mut b = session.binder(&mut **guard, &view, &[]);
        b.query(q)?
    };
    let rows = crate::exec::collect(&plan, ctx)?;
    let lines = if opts.format == CopyFormat::Binary {
        binary_lines(&rows, &scope)?
    } else {
        text_lines(&rows, &scope, opts)
    };
    Ok(QueryResult::CopyOut {
        columns: scope.len(),
        format: opts.format,
        lines,
        tag: format!("COPY {}", rows.len()),
    })
}

/// COPY TO's binary stream: header, one tuple per row, trailer.
fn binary_lines(rows: &[Vec<Value>], scope: &Scope) -> Result<Vec<Vec<u8>>> {
    let types: Vec<DataType> = scope.columns.iter().map(|c| c.data_type.clone()).collect();
    let mut lines = Vec::with_capacity(rows.len() + 2);
    lines.push(copy_binary::header());
    for r in rows {
        lines.push(copy_binary::encode_row(r, &types)?);
    }
    lines.push(copy_binary::trailer());
    Ok(lines)
}

/// COPY TO's text or CSV lines (with the CSV header when asked).
fn text_lines(rows: &[Vec<Value>], scope: &Scope, opts: &CopyOptions) -> Vec<Vec<u8>> {
    let mut lines = Vec::with_capacity(rows.len() + 1);
    if opts.header && opts.format == CopyFormat::Csv {
        let names: Vec<String> = scope
            .columns
            .iter()
            .map(|c| csv_field(&c.name, opts))
            .collect();
        lines.push(format!("{}\n", names.join(&opts.delimiter.to_string())).into_bytes());
    }
    for r in rows {
        let fields: Vec<String> = r
            .iter()
            .map(|v| match (v, opts.format) {
                (Value::Null, _) => opts.null.clone(),
                (v, CopyFormat::Csv) => csv_field(&text::format(v), opts),
                (v, _) => escape_text(&text::format(v), opts.delimiter),
            })
            .collect();
        lines.push(format!("{}\n", fields.join(&opts.delimiter.to_string())).into_bytes());
    }
    lines
}

fn escape_text(s: &str, delim: char) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == delim => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn csv_field(s: &str, o: &CopyOptions) -> String {
    let needs = s.is_empty()
        || s.contains(o.delimiter)
        || s.contains(o.quote)
        || s.contains('\n')
        || s.contains('\r')
        || s == o.null;
    if !needs {
        return s.to_string();
    }
    let q = o.quote.to_string();
    format!(
        "{q}{}{q}",
        s.replace(o.quote, &format!("{}{}", o.escape, o.quote))
    )
}

/// Splits a text-format line into fields (None = NULL).
fn text_fields(line: &str, o: &CopyOptions) -> Result<Vec<Option<String>>> {
    let mut fields = Vec::new();
    for raw in line.split(o.delimiter) {
        if raw == o.null {
            fields.push(None);
            continue;
        }
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some('v') => out.push('\u{b}'),
                Some(other) => out.push(other),
                None => {}
            }
        }
        fields.push(Some(out));
    }
    Ok(fields)
}

/// Splits CSV records. Returns the fields and whether the record is complete
/// (a quoted field may continue on the next line).
fn csv_fields(record: &str, o: &CopyOptions) -> Option<Vec<Option<String>>> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = record.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == o.escape && chars.peek() == Some(&o.quote) {
                chars.next();
                cur.push(o.quote);
            } else if c == o.quote {
                quoted = false;
            } else {
                cur.push(c);
            }
        } else if c == o.quote {
            quoted = true;
            was_quoted = true;
        } else if c == o.delimiter {
            fields.push(if !was_quoted && cur == o.null {
                None
            } else {
                Some(std::mem::take(&mut cur))
            });
            cur.clear();
            was_quoted = false;
        } else {
            cur.push(c);
        }
    }
    if quoted {
        return None;
    }
    fields.push(if !was_quoted && cur == o.null {
        None
    } else {
        Some(cur)
    });
    Some(fields)
}

impl CopyIn {
    fn add_record(&mut self, fields: Vec<Option<String>>) -> Result<()> {
        if !self.header_skipped {
            self.header_skipped = true;
            return Ok(());
        }
        if fields.len() != self.types.len() {
            let what = if fields.len() < self.types.len() {
                "missing data for column"
            } else {
                "extra data after last expected column"
            };
            return Err(
                Error::new(SqlState("22P04"), what.to_string()).with_detail(format!(
                    "COPY {}, line {}",
                    self.plan.table.name,
                    self.rows + 1
                )),
            );
        }
        let mut row = Vec::with_capacity(fields.len());
        for (f, ty) in fields.into_iter().zip(&self.types) {
            row.push(Some(Expr::Literal(match f {
                None => Value::Null,
                Some(s) => text::parse(&s, &strip(ty))?,
            })));
        }
        self.push_row(row)
    }

    /// Queues one parsed row, inserting a batch once enough have gathered.
    fn push_row(&mut self, row: Vec<Option<Expr>>) -> Result<()> {
        self.pending.push(row);
        self.rows += 1;
        if self.pending.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn add_binary_record(&mut self, fields: Vec<Option<Vec<u8>>>) -> Result<()> {
        let mut row = Vec::with_capacity(fields.len());
        for (f, ty) in fields.into_iter().zip(&self.types) {
            row.push(Some(Expr::Literal(match f {
                None => Value::Null,
                Some(bytes) => binary::decode(&bytes, &strip(ty))?,
            })));
        }
        self.push_row(row)
    }

    /// Consumes complete binary tuples from `buf[*pos..]`, advancing `pos`.
    fn feed_binary(&mut self, buf: &[u8], pos: &mut usize) -> Result<()> {
        while let BinaryItem::Tuple(fields) = self.binary.next(buf, pos, self.types.len())? {
            self.add_binary_record(fields)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut plan = self.plan.clone();
        plan.source = InsertSource::Values(std::mem::take(&mut self.pending));
        crate::exec::dml::execute(&DmlPlan::Insert(plan), &self.ctx)?;
        Ok(())
    }

    fn feed(&mut self, data: &[u8]) -> Result<()> {
        self.buffer.extend_from_slice(data);
        let buffer = std::mem::take(&mut self.buffer);
        let mut pos = 0;
        let result = if self.options.format == CopyFormat::Binary {
            self.feed_binary(&buffer, &mut pos)
        } else {
            self.feed_lines(&buffer, &mut pos)
        };
        // Keep only the incomplete tail (one copy per chunk, not per line).
        self.buffer = buffer[pos..].to_vec();
        result
    }

    /// Consumes complete records from `buf[*pos..]`, advancing `pos`.
    fn feed_lines(&mut self, buf: &[u8], pos: &mut usize) -> Result<()> {
        loop {
            let rest = &buf[*pos..];
            let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
                return Ok(());
            };
            let mut end = nl;
            if self.options.format == CopyFormat::Csv {
                // A quoted field may hold newlines: find a complete record.
                let mut search = 0;
                loop {
                    let Some(p) = rest[search..].iter().position(|b| *b == b'\n') else {
                        return Ok(());
                    };
                    end = search + p;
                    let text = String::from_utf8_lossy(&rest[..end]);
                    if csv_fields(text.trim_end_matches('\r'), &self.options).is_some() {
                        break;
                    }
                    search = end + 1;
                }
            }
            let line = std::str::from_utf8(&rest[..end]).map_err(|_| {
                Error::new(
                    SqlState::CHARACTER_NOT_IN_REPERTOIRE,
                    "invalid byte sequence for encoding \"UTF8\"",
                )
            })?;
            *pos += end + 1;
            let line = line.trim_end_matches('\r');
            if self.options.format == CopyFormat::Text && line == "\\." {
                continue;
            }
            let fields = match self.options.format {
                CopyFormat::Text | CopyFormat::Binary => text_fields(line, &self.options)?,
                CopyFormat::Csv => csv_fields(line, &self.options).ok_or_else(|| {
                    Error::new(SqlState("22P04"), "unterminated CSV quoted field")
                })?,
            };
            self.add_record(fields)?;
        }
    }
}

fn strip(t: &DataType) -> DataType {
    match t {
        DataType::Varchar(_) | DataType::Char(_) => DataType::Text,
        other => other.clone(),
    }
}

impl Session {
    pub(crate) fn copy_data(&mut self, data: &[u8]) -> Result<()> {
        self.enter_zone();
        let Some(copy) = &mut self.copy else {
            return Err(Error::new(
                SqlState::PROTOCOL_VIOLATION,
                "unexpected COPY data",
            ));
        };
        if copy.failed.is_some() {
            return Ok(());
        }
        if let Err(e) = copy.feed(data) {
            copy.failed = Some(e);
        }
        Ok(())
    }

    pub(crate) fn copy_done(&mut self) -> Result<String> {
        self.enter_zone();
        let Some(mut copy) = self.copy.take() else {
            return Err(Error::new(
                SqlState::PROTOCOL_VIOLATION,
                "unexpected CopyDone",
            ));
        };
        let result = match copy.failed.take() {
            Some(e) => Err(e),
            None => {
                // A last line without a newline still counts.
                let r = if copy.options.format == CopyFormat::Binary {
                    copy.binary.finish(&copy.buffer)
                } else if copy.buffer.is_empty() {
                    Ok(())
                } else {
                    copy.feed(b"\n")
                };
                r.and_then(|_| copy.flush())
                    .map(|_| format!("COPY {}", copy.rows))
            }
        };
        let implicit = copy.implicit_txn.take();
        drop(copy);
        match (result, implicit) {
            (Ok(tag), Some(txn)) => match Arc::try_unwrap(txn) {
                Ok(m) => self.commit_txn(m.into_inner()).map(|_| tag),
                Err(_) => Err(Error::internal("COPY transaction still in use")),
            },
            (Ok(tag), None) => Ok(tag),
            (Err(e), implicit) => {
                if let Some(txn) = implicit {
                    if let Ok(m) = Arc::try_unwrap(txn) {
                        m.into_inner().rollback();
                    }
                } else {
                    self.fail_block();
                }
                Err(e)
            }
        }
    }

    pub(crate) fn copy_fail(&mut self, reason: &str) -> Error {
        if let Some(mut copy) = self.copy.take() {
            if let Some(txn) = copy.implicit_txn.take() {
                drop(copy);
                if let Ok(m) = Arc::try_unwrap(txn) {
                    m.into_inner().rollback();
                }
            } else if let Some(b) = &mut self.block {
                b.failed = true;
            }
        }
        Error::new(
            SqlState::QUERY_CANCELED,
            format!("COPY from stdin failed: {reason}"),
        )
    }
}
