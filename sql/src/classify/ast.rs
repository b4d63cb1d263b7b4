//! Classification of a statement sqlparser understood.
//!
//! Two steps. The statement's kind gives a base verdict (an allow-list:
//! only queries, SHOW, EXPLAIN, COPY … TO, read-only BEGIN may reach a
//! replica). Then a [`Visitor`] walks the whole tree, however deep —
//! subqueries in any expression, CTEs, table functions, window and filter
//! clauses — looking for what turns a read into a write: a locking clause
//! (`FOR UPDATE/SHARE`), `SELECT INTO`, a nested INSERT/UPDATE/DELETE/MERGE
//! (a data-modifying CTE), or a call to a listed function (which may also
//! pin the session). The walk runs on every statement kind, so an
//! `INSERT … SELECT pg_advisory_lock(1)` pins as well as writes.
//!
//! `EXPLAIN` without `ANALYZE` executes nothing, so its inner statement is
//! not walked; with `ANALYZE` the inner statement decides.

use std::ops::ControlFlow;

use sqlparser::ast::{
    CopySource, DiscardObject, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectName,
    OnCommit, Query, Reset, Select, Set, SetExpr, Statement, TableFactor, TransactionAccessMode,
    TransactionIsolationLevel, TransactionMode, UtilityOption, Value, Visit, Visitor,
};

use super::{FunctionEffect, Part, PrimaryFunctions, SessionEffect, Target, TxnControl};

/// Classifies one parsed statement.
pub(super) fn classify(stmt: &Statement, functions: &PrimaryFunctions) -> Part {
    let mut part = base(stmt);
    if let Statement::Explain {
        analyze, options, ..
    } = stmt
    {
        if !*analyze && !options_analyze(options.as_deref()) {
            return part;
        }
    }
    let mut scan = Scan {
        functions,
        root_seen: false,
        write: false,
        pin: false,
    };
    // The visitor never breaks early: a later pinning call still counts.
    let _ = stmt.visit(&mut scan);
    if scan.write {
        part.target = Target::Primary;
    }
    if scan.pin {
        part.target = Target::Primary;
        part.session = Some(SessionEffect::Pin);
    }
    part
}

/// The verdict from the statement's kind alone.
fn base(stmt: &Statement) -> Part {
    match stmt {
        Statement::Query(_) => Part::replica(),
        Statement::Explain {
            analyze,
            options,
            statement,
            ..
        } => {
            if *analyze || options_analyze(options.as_deref()) {
                Part {
                    txn: None,
                    ..base(statement)
                }
            } else {
                Part::replica()
            }
        }
        Statement::ShowVariable { .. } | Statement::ShowVariables { .. } => Part::replica(),
        Statement::Copy {
            to: true, source, ..
        } => match source {
            CopySource::Table { .. } | CopySource::Query(_) => Part::replica(),
        },
        Statement::StartTransaction {
            modes, statements, ..
        } if statements.is_empty() => begin(modes),
        Statement::Commit { .. } => Part::txn(TxnControl::Commit, Target::Primary),
        Statement::Rollback {
            savepoint: None, ..
        } => Part::txn(TxnControl::Rollback, Target::Primary),
        Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => Part::txn(TxnControl::Other, Target::Primary),
        Statement::Set(set) => set_statement(set),
        Statement::Reset(reset) => Part::session(SessionEffect::Reset {
            name: match &reset.reset {
                Reset::ALL => None,
                Reset::SessionAuthorization => Some("session_authorization".into()),
                Reset::ConfigurationParameter(name) => Some(object_name(name)),
            },
        }),
        Statement::Discard {
            object_type: DiscardObject::ALL,
        } => Part::session(SessionEffect::Reset { name: None }),
        Statement::Declare { stmts } if stmts.iter().any(|d| d.hold == Some(true)) => {
            Part::session(SessionEffect::Pin)
        }
        Statement::Prepare { .. } | Statement::LISTEN { .. } | Statement::Load { .. } => {
            Part::session(SessionEffect::Pin)
        }
        Statement::CreateTable(t)
            if (t.temporary || in_pg_temp(&t.name)) && t.on_commit != Some(OnCommit::Drop) =>
        {
            Part::session(SessionEffect::Pin)
        }
        Statement::CreateView(v) if v.temporary || in_pg_temp(&v.name) => {
            Part::session(SessionEffect::Pin)
        }
        Statement::CreateSequence {
            temporary, name, ..
        } if *temporary || in_pg_temp(name) => Part::session(SessionEffect::Pin),
        _ => Part::primary(),
    }
}

/// `BEGIN` modes: a replica only for READ ONLY below SERIALIZABLE.
fn begin(modes: &[TransactionMode]) -> Part {
    let mut read_only = false;
    let mut serializable = false;
    for mode in modes {
        match mode {
            TransactionMode::AccessMode(TransactionAccessMode::ReadOnly) => read_only = true,
            TransactionMode::AccessMode(TransactionAccessMode::ReadWrite) => read_only = false,
            TransactionMode::IsolationLevel(level) => {
                serializable = matches!(level, TransactionIsolationLevel::Serializable)
            }
        }
    }
    let target = if read_only && !serializable {
        Target::Replica
    } else {
        Target::Primary
    };
    Part::txn(TxnControl::Begin { read_only }, target)
}

/// The keyword pre-check reads every well-formed SET; what reaches here
/// it could not read, so only the plainly transaction-scoped forms are
/// trusted and the rest pins (correct whatever the statement did).
fn set_statement(set: &Set) -> Part {
    use sqlparser::ast::ContextModifier;
    match set {
        Set::SingleAssignment {
            scope: Some(ContextModifier::Local),
            ..
        }
        | Set::SetTimeZone { local: true, .. }
        | Set::SetRole {
            context_modifier: Some(ContextModifier::Local),
            ..
        }
        | Set::SetTransaction { session: false, .. } => Part::primary(),
        _ => Part::session(SessionEffect::Pin),
    }
}

/// `EXPLAIN (ANALYZE [true|on|1], …)`: on unless explicitly off.
fn options_analyze(options: Option<&[UtilityOption]>) -> bool {
    options.unwrap_or_default().iter().any(|o| {
        o.name.value.eq_ignore_ascii_case("analyze")
            && !o.arg.as_ref().is_some_and(|arg| {
                let s = arg.to_string().to_ascii_lowercase();
                matches!(s.trim_matches('\''), "false" | "off" | "0" | "no")
            })
    })
}

fn object_name(name: &ObjectName) -> String {
    name.0
        .iter()
        .map(|p| p.to_string().trim_matches('"').to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(".")
}

fn name_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|p| match p.as_ident() {
            Some(ident) => ident.value.clone(),
            None => p.to_string(),
        })
        .collect()
}

fn in_pg_temp(name: &ObjectName) -> bool {
    name.0.len() > 1
        && name.0.first().is_some_and(|p| {
            p.as_ident()
                .is_some_and(|i| i.value.to_ascii_lowercase().starts_with("pg_temp"))
        })
}

/// What the tree walk found.
struct Scan<'f> {
    functions: &'f PrimaryFunctions,
    /// The statement being classified is visited first; statements met
    /// after it are nested (e.g. the INSERT of a writing CTE).
    root_seen: bool,
    write: bool,
    pin: bool,
}

impl Scan<'_> {
    fn call(&mut self, name: &ObjectName, args: Option<&FunctionArguments>) {
        match self.functions.lookup(&name_parts(name)) {
            None => {}
            Some(FunctionEffect::Primary) => self.write = true,
            Some(FunctionEffect::Pin) => self.pin = true,
            Some(FunctionEffect::SetConfig) => {
                self.write = true;
                if !is_local_literal(args) {
                    self.pin = true;
                }
            }
        }
    }
}

/// `set_config`'s third argument is the literal `true`.
fn is_local_literal(args: Option<&FunctionArguments>) -> bool {
    let Some(FunctionArguments::List(list)) = args else {
        return false;
    };
    matches!(
        list.args.get(2),
        Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v))))
            if matches!(v.value, Value::Boolean(true))
    )
}

impl Visitor for Scan<'_> {
    type Break = ();

    fn pre_visit_statement(&mut self, stmt: &Statement) -> ControlFlow<()> {
        if !self.root_seen {
            self.root_seen = true;
        } else if !matches!(stmt, Statement::Query(_)) {
            self.write = true;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if !query.locks.is_empty() {
            self.write = true;
        }
        if matches!(
            *query.body,
            SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_)
        ) {
            self.write = true;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        if let Some(into) = &select.into {
            self.write = true;
            if into.temporary {
                self.pin = true;
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::Function(f) = expr {
            self.call(&f.name, Some(&f.args));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, .. } => self.call(name, None),
            _ => {}
        }
        ControlFlow::Continue(())
    }
}
