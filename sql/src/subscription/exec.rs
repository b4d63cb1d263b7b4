//! Running CREATE / ALTER / DROP SUBSCRIPTION, as PostgreSQL 15 does.
//!
//! Order of work in CREATE (as `CreateSubscription`): options are checked,
//! then the name (`42710`), then the connection string's syntax; with
//! `create_slot` the slots are made on the publisher *before* the catalog
//! row commits (so a failure leaves nothing behind locally), and for that
//! reason such a CREATE refuses to run in a transaction block (`25001`).
//! DROP removes the row, tells the node (which stops the worker) and then
//! drops the slots. Statements that only change the row (ENABLE, DISABLE,
//! CONNECTION, SET (...), SKIP) run in the block's transaction like any DDL;
//! the node's reconcile loop picks the change up once it commits.

use std::sync::Arc;

use super::catalog::{self, SubscriptionDef};
use super::options::{exclusive, options};
use super::parse::{AlterAction, Opt, SubStatement};
use super::{conninfo, SubscriptionControl};
use crate::error::{Error, Result};
use crate::session::{QueryResult, Session};
use crate::storage::{Transaction, TxnOptions};
use crate::SqlState;

fn tag(t: &str) -> Result<QueryResult> {
    Ok(QueryResult::Command { tag: t.to_string() })
}

fn no_block(session: &Session, what: &str) -> Result<()> {
    if session.block.is_some() {
        return Err(Error::new(
            SqlState::ACTIVE_SQL_TRANSACTION,
            format!("{what} cannot run inside a transaction block"),
        ));
    }
    Ok(())
}

fn control(session: &Session) -> Result<Arc<dyn SubscriptionControl>> {
    session.engine.subscription_control().ok_or_else(|| {
        Error::new(
            SqlState("08006"),
            "could not connect to the publisher: this server runs no subscription workers",
        )
    })
}

/// Runs `f` in the statement's transaction: the block's, or an implicit one
/// committed here.
fn with_txn<T>(
    session: &mut Session,
    f: impl FnOnce(&mut dyn Transaction) -> Result<T>,
) -> Result<T> {
    if let Some(block) = &session.block {
        let Some(txn) = &block.txn else {
            return Err(Error::new(
                SqlState::IN_FAILED_SQL_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        };
        let mut guard = txn.lock();
        guard.new_statement();
        return f(&mut **guard);
    }
    let mut txn = session.engine.storage.begin(TxnOptions::default())?;
    let out = f(&mut *txn)?;
    txn.commit()?;
    Ok(out)
}

fn missing(name: &str) -> Error {
    Error::new(
        SqlState::UNDEFINED_OBJECT,
        format!("subscription \"{name}\" does not exist"),
    )
}

/// Runs `sql` if it is a subscription statement (the simple-query path
/// calls this before sqlparser, which has no grammar for them). Errors
/// fail the open block like any statement's.
pub(crate) fn intercept(session: &mut Session, sql: &str) -> Option<Result<QueryResult>> {
    let parsed = super::parse::detect(sql)?;
    if session.block.as_ref().is_some_and(|b| b.failed) {
        return Some(Err(Error::new(
            SqlState::IN_FAILED_SQL_TRANSACTION,
            "current transaction is aborted, commands ignored until end of transaction block",
        )));
    }
    let r = parsed.and_then(|stmt| execute(session, stmt));
    if r.is_err() {
        session.fail_block();
    }
    Some(r)
}

/// Runs one subscription statement.
pub(crate) fn execute(session: &mut Session, stmt: SubStatement) -> Result<QueryResult> {
    let verb = match &stmt {
        SubStatement::Create { .. } => "CREATE SUBSCRIPTION",
        SubStatement::Alter { .. } => "ALTER SUBSCRIPTION",
        SubStatement::Drop { .. } => "DROP SUBSCRIPTION",
    };
    let read_only =
        session.engine.storage.in_recovery() || session.block.as_ref().is_some_and(|b| b.read_only);
    if read_only {
        return Err(Error::new(
            SqlState::READ_ONLY_SQL_TRANSACTION,
            format!("cannot execute {verb} in a read-only transaction"),
        ));
    }
    match stmt {
        SubStatement::Create {
            name,
            conninfo,
            publications,
            options,
        } => create(session, name, conninfo, publications, &options),
        SubStatement::Alter { name, action } => alter(session, &name, action),
        SubStatement::Drop { if_exists, name } => drop(session, &name, if_exists),
    }
}

fn create(
    session: &mut Session,
    name: String,
    conninfo_text: String,
    publications: Vec<String>,
    opts: &[Opt],
) -> Result<QueryResult> {
    let o = options(
        opts,
        &[
            "connect",
            "enabled",
            "create_slot",
            "copy_data",
            "slot_name",
            "binary",
            "streaming",
            "synchronous_commit",
            "two_phase",
            "disable_on_error",
        ],
    )?;
    let connect = o.connect.unwrap_or(true);
    if !connect {
        for (set, label) in [
            (o.enabled, "enabled = true"),
            (o.create_slot, "create_slot = true"),
            (o.copy_data, "copy_data = true"),
        ] {
            if set == Some(true) {
                return Err(exclusive("connect = false", label));
            }
        }
    }
    let enabled = o.enabled.unwrap_or(connect);
    let create_slot = o.create_slot.unwrap_or(connect);
    let copy_data = o.copy_data.unwrap_or(connect);
    let slot_name = match o.slot_name.clone() {
        Some(s) => s,
        None => Some(name.clone()),
    };
    if slot_name.is_none() {
        if o.enabled == Some(true) {
            return Err(exclusive("slot_name = NONE", "enabled = true"));
        }
        if o.create_slot == Some(true) {
            return Err(exclusive("slot_name = NONE", "create_slot = true"));
        }
        if enabled {
            return Err(Error::syntax(
                "subscription with slot_name = NONE must also set enabled = false",
            ));
        }
    }
    let create_slot = create_slot && slot_name.is_some();
    if create_slot {
        no_block(session, "CREATE SUBSCRIPTION ... WITH (create_slot = true)")?;
    }
    let exists = with_txn(session, |txn| catalog::get(txn, &name))?;
    if exists.is_some() {
        return Err(Error::new(
            SqlState::DUPLICATE_OBJECT,
            format!("subscription \"{name}\" already exists"),
        ));
    }
    let info = conninfo::parse(&conninfo_text)?;
    let mut def = SubscriptionDef {
        oid: 0,
        name: name.clone(),
        database: session.db.name.clone(),
        database_oid: session.db.id,
        owner: session.user.clone(),
        conninfo: conninfo_text,
        publications: dedup(publications)?,
        enabled,
        slot_name,
        copy_data,
        create_slot,
        skip_lsn: 0,
        disable_on_error: o.disable_on_error.unwrap_or(false),
    };
    if create_slot {
        let control = control(session)?;
        let mut made: Vec<String> = vec![];
        for p in &def.publications {
            let Some(slot) = def.slot_for(p) else {
                continue;
            };
            if let Err(e) = control.create_slot(&info, &slot, p) {
                // Leave nothing behind on the publisher either.
                for s in &made {
                    let _ = control.drop_slot(&info, s);
                }
                return Err(e);
            }
            made.push(slot);
        }
    }
    let stored = with_txn(session, |txn| {
        def.oid = crate::catalog::allocate_oid(txn)?;
        catalog::put(txn, &def)
    });
    if let Err(e) = stored {
        if create_slot {
            if let Ok(control) = control(session) {
                for p in &def.publications {
                    if let Some(slot) = def.slot_for(p) {
                        let _ = control.drop_slot(&info, &slot);
                    }
                }
            }
        }
        return Err(e);
    }
    notify(session);
    tag("CREATE SUBSCRIPTION")
}

/// PostgreSQL refuses a publication named twice.
fn dedup(names: Vec<String>) -> Result<Vec<String>> {
    let mut out: Vec<String> = vec![];
    for n in names {
        if out.contains(&n) {
            return Err(Error::new(
                SqlState::DUPLICATE_OBJECT,
                format!("publication name \"{n}\" used more than once"),
            ));
        }
        out.push(n);
    }
    Ok(out)
}

/// Tells the node about a change (outside a block; in a block the node's
/// periodic reconcile sees it after COMMIT).
fn notify(session: &Session) {
    if session.block.is_none() {
        if let Some(c) = session.engine.subscription_control() {
            c.changed();
        }
    }
}

fn alter(session: &mut Session, name: &str, action: AlterAction) -> Result<QueryResult> {
    let refresh_in_block = match &action {
        AlterAction::Refresh(_) => Some("ALTER SUBSCRIPTION ... REFRESH"),
        AlterAction::SetPublication(_, o)
        | AlterAction::AddPublication(_, o)
        | AlterAction::DropPublication(_, o) => {
            let refresh = options(o, &["refresh", "copy_data"])?
                .refresh
                .unwrap_or(true);
            refresh.then_some("ALTER SUBSCRIPTION with refresh")
        }
        _ => None,
    };
    let Some(mut def) = with_txn(session, |txn| catalog::get(txn, name))? else {
        return Err(missing(name));
    };
    let mut new_slots: Vec<String> = vec![];
    let mut restart = false;
    let mut refresh_copy: Option<bool> = None;
    match action {
        AlterAction::Enable => {
            if def.slot_name.is_none() {
                return Err(Error::new(
                    SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "cannot enable subscription that does not have a slot name",
                ));
            }
            def.enabled = true;
        }
        AlterAction::Disable => def.enabled = false,
        AlterAction::Connection(c) => {
            conninfo::parse(&c)?;
            def.conninfo = c;
        }
        AlterAction::Refresh(o) => {
            refresh_copy = Some(options(&o, &["copy_data"])?.copy_data.unwrap_or(true));
            if !def.enabled {
                return Err(Error::new(
                    SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "ALTER SUBSCRIPTION ... REFRESH is not allowed for disabled subscriptions",
                ));
            }
            if let Some(what) = refresh_in_block {
                no_block(session, what)?;
            }
            restart = true;
        }
        AlterAction::SetPublication(names, o) => {
            def.publications =
                change_publications(session, &def, names, &o, ListOp::Set, refresh_in_block)?;
            restart = true;
        }
        AlterAction::AddPublication(names, o) => {
            def.publications =
                change_publications(session, &def, names, &o, ListOp::Add, refresh_in_block)?;
            restart = true;
        }
        AlterAction::DropPublication(names, o) => {
            def.publications =
                change_publications(session, &def, names, &o, ListOp::Drop, refresh_in_block)?;
            restart = true;
        }
        AlterAction::Set(o) => {
            let opts = options(
                &o,
                &[
                    "slot_name",
                    "binary",
                    "streaming",
                    "synchronous_commit",
                    "disable_on_error",
                ],
            )?;
            if let Some(slot) = opts.slot_name {
                if slot.is_none() && def.enabled {
                    return Err(Error::new(
                        SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "cannot set slot_name = NONE for enabled subscription",
                    ));
                }
                def.slot_name = slot;
                restart = true;
            }
            if let Some(d) = opts.disable_on_error {
                def.disable_on_error = d;
            }
        }
        AlterAction::Skip(o) => {
            let opts = options(&o, &["lsn"])?;
            let Some(lsn) = opts.lsn else {
                return Err(Error::syntax("lsn requires a parameter"));
            };
            let lsn = lsn.unwrap_or(0);
            if lsn != 0 {
                let origin = with_txn(session, |txn| {
                    let mut min: Option<u64> = None;
                    for p in &def.publications {
                        let at = catalog::progress(txn, name, p)?.map(|p| p.lsn).unwrap_or(0);
                        min = Some(min.map_or(at, |m: u64| m.min(at)));
                    }
                    Ok(min.unwrap_or(0))
                })?;
                if lsn <= origin {
                    return Err(Error::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!(
                            "skip WAL location (LSN {}) must be greater than origin LSN {}",
                            super::format_lsn(lsn),
                            super::format_lsn(origin)
                        ),
                    ));
                }
            }
            def.skip_lsn = lsn;
        }
    }
    // Publications that appeared need their slot on the publisher.
    let old = with_txn(session, |txn| catalog::get(txn, name))?;
    if let Some(old) = &old {
        for p in &def.publications {
            if !old.publications.contains(p) && def.create_slot {
                if let Some(slot) = def.slot_for(p) {
                    new_slots.push(slot);
                }
            }
        }
    }
    if !new_slots.is_empty() {
        let info = conninfo::parse(&def.conninfo)?;
        let control = control(session)?;
        for (p, slot) in def
            .publications
            .iter()
            .filter(|p| old.as_ref().is_some_and(|o| !o.publications.contains(p)))
            .zip(new_slots.iter())
        {
            control.create_slot(&info, slot, p)?;
        }
    }
    let removed: Vec<String> = old
        .map(|o| {
            o.publications
                .into_iter()
                .filter(|p| !def.publications.contains(p))
                .collect()
        })
        .unwrap_or_default();
    with_txn(session, |txn| {
        for p in &removed {
            catalog::remove_progress(txn, name, p)?;
        }
        // REFRESH: the worker (restarted below) compares the publication's
        // tables with the synchronised ones and copies the new ones.
        if let Some(copy) = refresh_copy {
            // A stream without a state yet learns its tables when it
            // (re)starts; there is nothing to compare against before that.
            for p in &def.publications {
                if let Some(mut state) = catalog::sync_state(txn, name, p)? {
                    state.refresh = Some(copy);
                    catalog::put_sync_state(txn, name, p, &state)?;
                }
            }
        }
        catalog::put(txn, &def)
    })?;
    notify(session);
    if restart && session.block.is_none() {
        if let Some(c) = session.engine.subscription_control() {
            c.restart(name);
        }
    }
    tag("ALTER SUBSCRIPTION")
}

/// Which list operation an ALTER ... PUBLICATION is.
enum ListOp {
    Set,
    Add,
    Drop,
}

/// The publication list after SET / ADD / DROP PUBLICATION, with
/// PostgreSQL's checks.
fn change_publications(
    session: &Session,
    def: &SubscriptionDef,
    names: Vec<String>,
    o: &[Opt],
    op: ListOp,
    refresh_in_block: Option<&str>,
) -> Result<Vec<String>> {
    let opts = options(o, &["refresh", "copy_data"])?;
    let names = dedup(names)?;
    let refresh = opts.refresh.unwrap_or(true);
    if refresh && !def.enabled {
        return Err(Error::new(
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "ALTER SUBSCRIPTION with refresh is not allowed for disabled subscriptions",
        )
        .with_hint("Use ALTER SUBSCRIPTION ... SET PUBLICATION ... WITH (refresh = false)."));
    }
    if let Some(what) = refresh_in_block {
        no_block(session, what)?;
    }
    let current = def.publications.clone();
    let out: Vec<String> = match op {
        ListOp::Set => names,
        ListOp::Add => {
            if let Some(n) = names.iter().find(|n| current.contains(n)) {
                return Err(Error::new(
                    SqlState::DUPLICATE_OBJECT,
                    format!(
                        "publication \"{n}\" is already in subscription \"{}\"",
                        def.name
                    ),
                ));
            }
            current.into_iter().chain(names).collect()
        }
        ListOp::Drop => {
            if let Some(n) = names.iter().find(|n| !current.contains(n)) {
                return Err(Error::new(
                    SqlState::UNDEFINED_OBJECT,
                    format!(
                        "publication \"{n}\" is not in subscription \"{}\"",
                        def.name
                    ),
                ));
            }
            let rest: Vec<String> = current.into_iter().filter(|p| !names.contains(p)).collect();
            if rest.is_empty() {
                return Err(Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    "cannot drop all the publications from a subscription",
                ));
            }
            rest
        }
    };
    Ok(out)
}

fn drop(session: &mut Session, name: &str, if_exists: bool) -> Result<QueryResult> {
    let Some(def) = with_txn(session, |txn| catalog::get(txn, name))? else {
        if if_exists {
            return tag("DROP SUBSCRIPTION");
        }
        return Err(missing(name));
    };
    if def.slot_name.is_some() {
        no_block(session, "DROP SUBSCRIPTION")?;
    }
    with_txn(session, |txn| catalog::remove(txn, name))?;
    notify(session);
    if let (Some(_), Some(control)) = (&def.slot_name, session.engine.subscription_control()) {
        if let Ok(info) = conninfo::parse(&def.conninfo) {
            for p in &def.publications {
                let Some(slot) = def.slot_for(p) else {
                    continue;
                };
                match control.drop_slot(&info, &slot) {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(
                        subscription = name,
                        slot,
                        "publisher unreachable: replication slot left on the publisher"
                    ),
                    Err(e) => {
                        tracing::warn!(subscription = name, slot, error = %e.message(), "could not drop replication slot on publisher")
                    }
                }
            }
        }
    }
    tag("DROP SUBSCRIPTION")
}
