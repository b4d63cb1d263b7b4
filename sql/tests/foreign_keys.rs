//! FOREIGN KEY constraints on the engine over in-memory storage: DDL,
//! enforcement, referential actions, catalog output, and the messages
//! PostgreSQL 15 gives (checked against a real server when written).

use rustydb_sql::memory::MemoryStorage;
use rustydb_sql::session::Session;
use rustydb_sql::types::text;
use rustydb_sql::{Engine, Error, QueryResult};

fn session() -> Session {
    let engine = Engine::new(MemoryStorage::new()).expect("engine");
    engine.connect("postgres", "postgres").expect("connect")
}

fn run(s: &mut Session, sql: &str) -> Result<QueryResult, Error> {
    let mut results = s.simple_query(sql);
    assert_eq!(results.len(), 1, "one statement: {sql}");
    results.remove(0)
}

fn ok(s: &mut Session, sql: &str) {
    if let Err(e) = run(s, sql) {
        panic!("{sql}: {} ({:?})", e.message(), e.detail());
    }
}

fn rows(s: &mut Session, sql: &str) -> Vec<String> {
    match run(s, sql) {
        Ok(QueryResult::Rows { rows, .. }) => rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| {
                        if v.is_null() {
                            "NULL".into()
                        } else {
                            text::format(v)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect(),
        Ok(_) => panic!("{sql}: no rows"),
        Err(e) => panic!("{sql}: {}", e.message()),
    }
}

/// Runs a statement that must fail; returns (SQLSTATE, message, detail).
fn err(s: &mut Session, sql: &str) -> (String, String, String) {
    match run(s, sql) {
        Ok(_) => panic!("{sql}: succeeded"),
        Err(e) => (
            e.state().0.to_string(),
            e.message(),
            e.detail().unwrap_or_default().to_string(),
        ),
    }
}

fn parent_child(s: &mut Session) {
    ok(s, "CREATE TABLE p (id int PRIMARY KEY, name text UNIQUE)");
    ok(
        s,
        "CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p, x int)",
    );
    ok(s, "INSERT INTO p VALUES (1, 'a'), (2, 'b')");
}

#[test]
fn child_rows_need_a_parent() {
    let mut s = session();
    parent_child(&mut s);
    ok(&mut s, "INSERT INTO c VALUES (1, 1, 0), (2, NULL, 0)");
    let (state, msg, detail) = err(&mut s, "INSERT INTO c VALUES (3, 5, 0)");
    assert_eq!(state, "23503");
    assert_eq!(
        msg,
        "insert or update on table \"c\" violates foreign key constraint \"c_pid_fkey\""
    );
    assert_eq!(detail, "Key (pid)=(5) is not present in table \"p\".");
    let (state, _, detail) = err(&mut s, "UPDATE c SET pid = 9 WHERE id = 1");
    assert_eq!(state, "23503");
    assert_eq!(detail, "Key (pid)=(9) is not present in table \"p\".");
    // Updating other columns does not re-check; NULL is never checked.
    ok(&mut s, "UPDATE c SET x = 5");
    ok(&mut s, "UPDATE c SET pid = NULL WHERE id = 1");
    assert_eq!(rows(&mut s, "SELECT count(*) FROM c"), vec!["2"]);
}

#[test]
fn referenced_rows_block_delete_and_key_update() {
    let mut s = session();
    parent_child(&mut s);
    ok(&mut s, "INSERT INTO c VALUES (1, 1, 0)");
    let (state, msg, detail) = err(&mut s, "DELETE FROM p WHERE id = 1");
    assert_eq!(state, "23503");
    assert_eq!(
        msg,
        "update or delete on table \"p\" violates foreign key constraint \"c_pid_fkey\" on table \"c\""
    );
    assert_eq!(detail, "Key (id)=(1) is still referenced from table \"c\".");
    let (state, _, _) = err(&mut s, "UPDATE p SET id = 10 WHERE id = 1");
    assert_eq!(state, "23503");
    // Unreferenced rows and non-key columns are free.
    ok(&mut s, "DELETE FROM p WHERE id = 2");
    ok(&mut s, "UPDATE p SET name = 'z' WHERE id = 1");
    // Deleting the child first, in the same transaction, frees the parent.
    ok(&mut s, "BEGIN");
    ok(&mut s, "DELETE FROM c");
    ok(&mut s, "DELETE FROM p");
    ok(&mut s, "COMMIT");
    assert_eq!(rows(&mut s, "SELECT count(*) FROM p"), vec!["0"]);
}

#[test]
fn referential_actions() {
    let mut s = session();
    ok(&mut s, "CREATE TABLE a (id int PRIMARY KEY)");
    ok(
        &mut s,
        "CREATE TABLE b (id int PRIMARY KEY, aid int REFERENCES a ON DELETE CASCADE ON UPDATE CASCADE)",
    );
    ok(
        &mut s,
        "CREATE TABLE d (id int PRIMARY KEY, bid int DEFAULT 0 REFERENCES b ON DELETE SET DEFAULT)",
    );
    ok(
        &mut s,
        "CREATE TABLE e (id int PRIMARY KEY, bid int REFERENCES b ON DELETE SET NULL)",
    );
    ok(&mut s, "INSERT INTO a VALUES (1), (2)");
    ok(&mut s, "INSERT INTO b VALUES (0, NULL), (10, 1), (20, 2)");
    ok(&mut s, "INSERT INTO d VALUES (1, 10), (2, 20)");
    ok(&mut s, "INSERT INTO e VALUES (1, 10), (2, 20)");
    // a(1) goes: b(10) cascades, d(1) gets its default, e(1) NULL.
    ok(&mut s, "DELETE FROM a WHERE id = 1");
    assert_eq!(
        rows(&mut s, "SELECT id, aid FROM b ORDER BY id"),
        vec!["0|NULL", "20|2"]
    );
    assert_eq!(
        rows(&mut s, "SELECT id, bid FROM d ORDER BY id"),
        vec!["1|0", "2|20"]
    );
    assert_eq!(
        rows(&mut s, "SELECT id, bid FROM e ORDER BY id"),
        vec!["1|NULL", "2|20"]
    );
    // ON UPDATE CASCADE carries the new key.
    ok(&mut s, "UPDATE a SET id = 3 WHERE id = 2");
    assert_eq!(rows(&mut s, "SELECT aid FROM b WHERE id = 20"), vec!["3"]);
    // SET DEFAULT to a key that does not exist fails.
    ok(&mut s, "DELETE FROM d");
    ok(&mut s, "DELETE FROM b WHERE id = 0");
    ok(&mut s, "INSERT INTO b VALUES (5, NULL)");
    ok(&mut s, "INSERT INTO d VALUES (3, 5)");
    let (state, msg, detail) = err(&mut s, "DELETE FROM b WHERE id = 5");
    assert_eq!(state, "23503");
    assert_eq!(
        msg,
        "insert or update on table \"d\" violates foreign key constraint \"d_bid_fkey\""
    );
    assert_eq!(detail, "Key (bid)=(0) is not present in table \"b\".");
}

#[test]
fn on_conflict_update_and_restrict() {
    let mut s = session();
    ok(&mut s, "CREATE TABLE p (id int PRIMARY KEY)");
    ok(&mut s, "CREATE TABLE na (pid int REFERENCES p)");
    ok(&mut s, "INSERT INTO p VALUES (1)");
    ok(&mut s, "INSERT INTO na VALUES (1)");
    ok(
        &mut s,
        "INSERT INTO p VALUES (1) ON CONFLICT (id) DO UPDATE SET id = 1",
    );
    ok(
        &mut s,
        "CREATE TABLE r (pid int REFERENCES p ON DELETE RESTRICT)",
    );
    ok(&mut s, "INSERT INTO r VALUES (1)");
    let (state, _, _) = err(&mut s, "DELETE FROM p");
    assert_eq!(state, "23503");
}

#[test]
fn self_reference_and_composite_keys() {
    let mut s = session();
    ok(
        &mut s,
        "CREATE TABLE emp (id int PRIMARY KEY, boss int REFERENCES emp ON DELETE CASCADE)",
    );
    // Checked after the statement's rows: a row may point at a later one.
    ok(
        &mut s,
        "INSERT INTO emp VALUES (2, 1), (1, NULL), (3, 2), (4, 4)",
    );
    ok(&mut s, "DELETE FROM emp WHERE id = 1");
    assert_eq!(rows(&mut s, "SELECT id FROM emp ORDER BY id"), vec!["4"]);
    ok(
        &mut s,
        "CREATE TABLE pk2 (a int, b text, PRIMARY KEY (a, b))",
    );
    ok(
        &mut s,
        "CREATE TABLE ck2 (x int, y text, CONSTRAINT ck FOREIGN KEY (y, x) REFERENCES pk2 (b, a))",
    );
    ok(&mut s, "INSERT INTO pk2 VALUES (1, 'one')");
    ok(&mut s, "INSERT INTO ck2 VALUES (1, 'one'), (2, NULL)");
    let (state, _, detail) = err(&mut s, "INSERT INTO ck2 VALUES (2, 'one')");
    assert_eq!(state, "23503");
    assert_eq!(
        detail,
        "Key (y, x)=(one, 2) is not present in table \"pk2\"."
    );
}

#[test]
fn ddl_errors() {
    let mut s = session();
    ok(
        &mut s,
        "CREATE TABLE tp (i int PRIMARY KEY, t text UNIQUE, k int)",
    );
    let cases = [
        (
            "CREATE TABLE x (a int REFERENCES tp(k))",
            "42830",
            "there is no unique constraint matching given keys for referenced table \"tp\"",
        ),
        (
            "CREATE TABLE x (a int REFERENCES tp(t))",
            "42804",
            "foreign key constraint \"x_a_fkey\" cannot be implemented",
        ),
        (
            "CREATE TABLE x (a int REFERENCES nosuch)",
            "42P01",
            "relation \"nosuch\" does not exist",
        ),
        (
            "CREATE TABLE x (a int REFERENCES tp(zz))",
            "42703",
            "column \"zz\" referenced in foreign key constraint does not exist",
        ),
        (
            "CREATE TABLE x (a int, b int, FOREIGN KEY (a, b) REFERENCES tp(i))",
            "42830",
            "number of referencing and referenced columns for foreign key disagree",
        ),
        (
            "CREATE TABLE x (a int REFERENCES tp(i, i))",
            "42830",
            "foreign key referenced-columns list must not contain duplicates",
        ),
    ];
    for (sql, state, msg) in cases {
        let (st, m, _) = err(&mut s, sql);
        assert_eq!((st.as_str(), m.as_str()), (state, msg), "{sql}");
    }
    let (_, _, detail) = err(&mut s, "CREATE TABLE x (a int REFERENCES tp(t))");
    assert_eq!(
        detail,
        "Key columns \"a\" and \"t\" are of incompatible types: integer and text."
    );
    // Compatible types: bigint to int, varchar to text.
    ok(
        &mut s,
        "CREATE TABLE x (a bigint REFERENCES tp, b varchar(5) REFERENCES tp(t))",
    );
}

#[test]
fn alter_table_add_and_drop_constraint() {
    let mut s = session();
    ok(&mut s, "CREATE TABLE p (id int PRIMARY KEY)");
    ok(&mut s, "CREATE TABLE c (pid int)");
    ok(&mut s, "INSERT INTO p VALUES (1)");
    ok(&mut s, "INSERT INTO c VALUES (1), (2)");
    let (state, msg, detail) = err(
        &mut s,
        "ALTER TABLE c ADD CONSTRAINT c_fk FOREIGN KEY (pid) REFERENCES p",
    );
    assert_eq!(state, "23503");
    assert_eq!(
        msg,
        "insert or update on table \"c\" violates foreign key constraint \"c_fk\""
    );
    assert_eq!(detail, "Key (pid)=(2) is not present in table \"p\".");
    ok(&mut s, "DELETE FROM c WHERE pid = 2");
    ok(
        &mut s,
        "ALTER TABLE c ADD CONSTRAINT c_fk FOREIGN KEY (pid) REFERENCES p",
    );
    assert_eq!(err(&mut s, "DELETE FROM p").0, "23503");
    ok(&mut s, "ALTER TABLE c DROP CONSTRAINT c_fk");
    ok(&mut s, "DELETE FROM p");
    ok(&mut s, "INSERT INTO c VALUES (7)");
}

#[test]
fn drop_and_truncate_of_referenced_tables() {
    let mut s = session();
    parent_child(&mut s);
    let (state, msg, detail) = err(&mut s, "DROP TABLE p");
    assert_eq!(state, "2BP01");
    assert_eq!(
        msg,
        "cannot drop table p because other objects depend on it"
    );
    assert_eq!(
        detail,
        "constraint c_pid_fkey on table c depends on table p"
    );
    let (state, msg, detail) = err(&mut s, "TRUNCATE p");
    assert_eq!(state, "0A000");
    assert_eq!(
        msg,
        "cannot truncate a table referenced in a foreign key constraint"
    );
    assert_eq!(detail, "Table \"c\" references \"p\".");
    ok(&mut s, "INSERT INTO c VALUES (1, 1, 0)");
    ok(&mut s, "TRUNCATE p, c");
    ok(&mut s, "INSERT INTO p VALUES (1, 'a')");
    ok(&mut s, "INSERT INTO c VALUES (1, 1, 0)");
    ok(&mut s, "TRUNCATE p CASCADE");
    assert_eq!(rows(&mut s, "SELECT count(*) FROM c"), vec!["0"]);
    ok(&mut s, "DROP TABLE p CASCADE");
    // The constraint went with it: c accepts anything now.
    ok(&mut s, "INSERT INTO c VALUES (2, 99, 0)");
    ok(&mut s, "CREATE TABLE p2 (id int PRIMARY KEY)");
    ok(&mut s, "CREATE TABLE c2 (pid int REFERENCES p2)");
    ok(&mut s, "DROP TABLE p2, c2");
}

#[test]
fn rename_and_drop_column_keep_both_sides_consistent() {
    let mut s = session();
    ok(&mut s, "CREATE TABLE p (junk int, id int PRIMARY KEY)");
    ok(
        &mut s,
        "CREATE TABLE c (junk int, pid int REFERENCES p(id))",
    );
    ok(&mut s, "ALTER TABLE p RENAME TO parent");
    ok(&mut s, "ALTER TABLE c RENAME TO child");
    ok(&mut s, "ALTER TABLE parent DROP COLUMN junk");
    ok(&mut s, "ALTER TABLE child DROP COLUMN junk");
    ok(&mut s, "INSERT INTO parent VALUES (1)");
    ok(&mut s, "INSERT INTO child VALUES (1)");
    assert_eq!(
        err(&mut s, "INSERT INTO child VALUES (2)").2,
        "Key (pid)=(2) is not present in table \"parent\"."
    );
    assert_eq!(err(&mut s, "DELETE FROM parent").0, "23503");
    assert_eq!(
        rows(
            &mut s,
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f'"
        ),
        vec!["c_pid_fkey|FOREIGN KEY (pid) REFERENCES parent(id)"]
    );
    ok(&mut s, "ALTER TABLE child DROP COLUMN pid");
    ok(&mut s, "DELETE FROM parent");
    ok(&mut s, "DROP TABLE parent");
}

#[test]
fn catalog_shows_foreign_keys() {
    let mut s = session();
    ok(
        &mut s,
        "CREATE TABLE p (id int PRIMARY KEY, name text UNIQUE)",
    );
    ok(
        &mut s,
        "CREATE TABLE c (a int, b text, CONSTRAINT myfk FOREIGN KEY (a) REFERENCES p(id) ON DELETE CASCADE ON UPDATE SET NULL)",
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT conname, contype, confupdtype, confdeltype, confmatchtype, conkey, confkey, condeferrable, \
             confrelid = 'p'::regclass, pg_get_constraintdef(oid, true) FROM pg_constraint WHERE conrelid = 'c'::regclass"
        ),
        vec!["myfk|f|n|c|s|{1}|{1}|f|t|FOREIGN KEY (a) REFERENCES p(id) ON UPDATE SET NULL ON DELETE CASCADE"]
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT relname, relhastriggers FROM pg_class WHERE relname IN ('p', 'c') ORDER BY 1"
        ),
        vec!["c|t", "p|t"]
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT constraint_name, update_rule, delete_rule, unique_constraint_name FROM information_schema.referential_constraints"
        ),
        vec!["myfk|SET NULL|CASCADE|p_pkey"]
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT constraint_name, column_name, position_in_unique_constraint FROM information_schema.key_column_usage WHERE table_name = 'c'"
        ),
        vec!["myfk|a|1"]
    );
}

#[test]
fn not_valid_and_validate_constraint() {
    let mut s = session();
    ok(
        &mut s,
        "CREATE TABLE p (id int PRIMARY KEY, code text UNIQUE)",
    );
    ok(
        &mut s,
        "CREATE TABLE c (pid int, code text REFERENCES p (code))",
    );
    ok(&mut s, "INSERT INTO c VALUES (5, NULL)");
    ok(
        &mut s,
        "ALTER TABLE c ADD CONSTRAINT nv FOREIGN KEY (pid) REFERENCES p NOT VALID",
    );
    assert_eq!(
        rows(&mut s, "SELECT convalidated, pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'nv'"),
        vec!["f|FOREIGN KEY (pid) REFERENCES p(id) NOT VALID"]
    );
    assert_eq!(err(&mut s, "INSERT INTO c VALUES (6, NULL)").0, "23503");
    assert_eq!(
        err(&mut s, "ALTER TABLE c VALIDATE CONSTRAINT nv").2,
        "Key (pid)=(5) is not present in table \"p\"."
    );
    ok(&mut s, "DELETE FROM c");
    ok(&mut s, "ALTER TABLE c VALIDATE CONSTRAINT nv");
    assert_eq!(
        rows(
            &mut s,
            "SELECT convalidated FROM pg_constraint WHERE conname = 'nv'"
        ),
        vec!["t"]
    );
    // The unique key a foreign key uses cannot go without CASCADE.
    let (state, msg, detail) = err(&mut s, "ALTER TABLE p DROP CONSTRAINT p_code_key");
    assert_eq!(state, "2BP01");
    assert_eq!(
        msg,
        "cannot drop constraint p_code_key on table p because other objects depend on it"
    );
    assert_eq!(
        detail,
        "constraint c_code_fkey on table c depends on index p_code_key"
    );
    ok(&mut s, "ALTER TABLE p DROP CONSTRAINT p_code_key CASCADE");
    assert_eq!(
        rows(
            &mut s,
            "SELECT conname FROM pg_constraint WHERE contype = 'f'"
        ),
        vec!["nv"]
    );
}

/// The queries psql 15's `\d table` runs for foreign keys (taken from
/// `psql -E`), which need `pg_partition_ancestors` and `conparentid`.
#[test]
fn psql_describe_queries() {
    let mut s = session();
    ok(&mut s, "CREATE TABLE p (id int PRIMARY KEY)");
    ok(
        &mut s,
        "CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p)",
    );
    let oid =
        |s: &mut Session, t: &str| rows(s, &format!("SELECT '{t}'::regclass::oid"))[0].clone();
    let (p, c) = (oid(&mut s, "p"), oid(&mut s, "c"));
    assert_eq!(
        rows(
            &mut s,
            &format!(
                "SELECT true as sametable, conname,\n  pg_catalog.pg_get_constraintdef(r.oid, true) as condef,\n  conrelid::pg_catalog.regclass AS ontable\nFROM pg_catalog.pg_constraint r\nWHERE r.conrelid = '{c}' AND r.contype = 'f'\n     AND conparentid = 0\nORDER BY conname"
            )
        ),
        vec!["t|c_pid_fkey|FOREIGN KEY (pid) REFERENCES p(id)|c"]
    );
    assert_eq!(
        rows(
            &mut s,
            &format!(
                "SELECT conname, conrelid::pg_catalog.regclass AS ontable,\n       pg_catalog.pg_get_constraintdef(oid, true) AS condef\n  FROM pg_catalog.pg_constraint c\n WHERE confrelid IN (SELECT pg_catalog.pg_partition_ancestors('{p}')\n                     UNION ALL VALUES ('{p}'::pg_catalog.regclass))\n       AND contype = 'f' AND conparentid = 0\nORDER BY conname;"
            )
        ),
        vec!["c_pid_fkey|c|FOREIGN KEY (pid) REFERENCES p(id)"]
    );
    let triggers = format!(
        "SELECT t.tgname, pg_catalog.pg_get_triggerdef(t.oid, true), t.tgenabled, t.tgisinternal,\n  CASE WHEN t.tgparentid != 0 THEN\n    (SELECT u.tgrelid::pg_catalog.regclass\n     FROM pg_catalog.pg_trigger AS u,\n          pg_catalog.pg_partition_ancestors(t.tgrelid) WITH ORDINALITY AS a(relid, depth)\n     WHERE u.tgname = t.tgname AND u.tgrelid = a.relid\n           AND u.tgparentid = 0\n     ORDER BY a.depth LIMIT 1)\n  END AS parent\nFROM pg_catalog.pg_trigger t\nWHERE t.tgrelid = '{c}' AND (NOT t.tgisinternal OR (t.tgisinternal AND t.tgenabled = 'D'))\nORDER BY 1;"
    );
    assert_eq!(rows(&mut s, &triggers), Vec::<String>::new());
}

/// `WITH ORDINALITY` (psql's trigger query uses it on a correlated call).
#[test]
fn with_ordinality() {
    let mut s = session();
    assert_eq!(
        rows(
            &mut s,
            "SELECT v, n FROM generate_series(10, 12) WITH ORDINALITY AS g(v, n) ORDER BY n"
        ),
        vec!["10|1", "11|2", "12|3"]
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT x, v, n FROM (VALUES (2), (3)) t(x), generate_series(x, 4) WITH ORDINALITY AS g(v, n) ORDER BY x, n"
        ),
        vec!["2|2|1", "2|3|2", "2|4|3", "3|3|1", "3|4|2"]
    );
}

#[test]
fn drop_index_used_by_a_foreign_key() {
    let mut s = session();
    ok(&mut s, "CREATE TABLE p (id int, code int)");
    ok(&mut s, "CREATE UNIQUE INDEX p_idx ON p (code)");
    ok(&mut s, "CREATE TABLE c (code int REFERENCES p (code))");
    let (state, msg, detail) = err(&mut s, "DROP INDEX p_idx");
    assert_eq!(state, "2BP01");
    assert_eq!(
        msg,
        "cannot drop index p_idx because other objects depend on it"
    );
    assert_eq!(
        detail,
        "constraint c_code_fkey on table c depends on index p_idx"
    );
    ok(&mut s, "DROP INDEX p_idx CASCADE");
    assert_eq!(
        rows(
            &mut s,
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f'"
        ),
        vec!["0"]
    );
    ok(&mut s, "INSERT INTO c VALUES (42)");
    ok(&mut s, "DROP TABLE p");
}
