"""psycopg 3 scenario: text and binary formats, server-side prepares,
COPY, cancel, savepoints via conn.transaction()."""
import threading
import time

import psycopg
from psycopg.types.json import Json, Jsonb

from common import DB, HOST, PASSWORD, PORT, USER, check, err, norm, out, values


def conninfo(**kw):
    base = dict(host=HOST, port=PORT, user=USER, password=PASSWORD, dbname=DB, sslmode="disable")
    base.update(kw)
    return psycopg.conninfo.make_conninfo(**base)


def run():
    try:
        with psycopg.connect(conninfo(sslmode="require")) as c:
            out("connect.tls", "ok" if c.pgconn.ssl_in_use else "not encrypted")
    except Exception as e:  # noqa: BLE001
        out("connect.tls", err(e))
    try:
        conn = psycopg.connect(conninfo(), autocommit=True)
        out("connect.scram", "ok")
    except Exception as e:  # noqa: BLE001
        out("connect.scram", err(e))
        return
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS pg3_items")
    check("ddl.create", lambda: cur.execute("CREATE TABLE pg3_items (id int PRIMARY KEY, name text, qty int)").statusmessage)
    check("crud.insert", lambda: (cur.executemany("INSERT INTO pg3_items VALUES (%s, %s, %s)",
                                                 [(1, "a", 10), (2, "b", None), (3, None, 30)]), cur.rowcount)[1])
    check("crud.update", lambda: cur.execute("UPDATE pg3_items SET qty = qty + %s WHERE id = %s", (5, 1)).rowcount)
    check("crud.select", lambda: cur.execute("SELECT * FROM pg3_items WHERE id >= %s ORDER BY id", (1,)).fetchall())
    check("crud.delete", lambda: cur.execute("DELETE FROM pg3_items WHERE id = %s", (3,)).rowcount)
    check("nulls.select", lambda: cur.execute("SELECT NULL::int, %s::text, NULL IS NULL", (None,)).fetchone())
    check("nulls.where", lambda: cur.execute("SELECT id FROM pg3_items WHERE qty IS NULL").fetchall())

    # Transactions and savepoints.
    conn.autocommit = False
    try:
        cur.execute("INSERT INTO pg3_items VALUES (10, 'x', 1)")
        conn.rollback()
    except Exception as e:  # noqa: BLE001
        out("txn.rollback_error", err(e))
        conn.rollback()
    check("txn.rollback", lambda: cur.execute("SELECT count(*) FROM pg3_items").fetchone())
    conn.commit()
    conn.autocommit = True
    try:
        with conn.transaction():
            cur.execute("INSERT INTO pg3_items VALUES (11, 'y', 1)")
            try:
                with conn.transaction():  # a savepoint
                    cur.execute("INSERT INTO pg3_items VALUES (12, 'z', 1)")
                    cur.execute("SELECT 1/0")
            except psycopg.Error as e:
                out("savepoint.error", err(e))
    except Exception as e:  # noqa: BLE001
        out("txn.commit", err(e))
    check("savepoint.rows", lambda: cur.execute("SELECT id FROM pg3_items WHERE id >= 10 ORDER BY id").fetchall())

    # Prepared statement reused (prepare=True: named server-side statement).
    def reuse():
        s = 0
        for i in range(200):
            s += cur.execute("SELECT %s::int * 2", (i,), prepare=True).fetchone()[0]
        return s
    check("prepared.reuse", reuse)

    vals = values()
    for binary in (False, True):
        fmt = "binary" if binary else "text"
        bcur = conn.cursor(binary=binary)
        for name, cast in [("int", "int4"), ("bigint", "int8"), ("numeric", "numeric"), ("float", "float8"),
                           ("bool", "bool"), ("text", "text"), ("bytea", "bytea"), ("date", "date"),
                           ("timestamptz", "timestamptz"), ("interval", "interval"), ("uuid", "uuid"),
                           ("json", "json"), ("jsonb", "jsonb"), ("int_array", "int4[]"), ("text_array", "text[]")]:
            v = vals[name]
            if name == "json":
                v = Json(v)
            elif name == "jsonb":
                v = Jsonb(v)
            check(f"types.{name}.{fmt}", lambda: norm(bcur.execute(f"SELECT %s::{cast}", (v,)).fetchone()[0]))

    check("errors.unique", lambda: cur.execute("INSERT INTO pg3_items VALUES (1, 'dup', 0)"))
    check("errors.syntax", lambda: cur.execute("SELEC 1"))
    check("errors.undefined_table", lambda: cur.execute("SELECT * FROM pg3_missing"))
    check("errors.division_by_zero", lambda: cur.execute("SELECT 1/%s::int", (0,)))
    check("errors.invalid_text", lambda: cur.execute("SELECT %s::text::int", ("abc",)))
    check("errors.after_error", lambda: cur.execute("SELECT 'alive'").fetchone())

    cur.execute("DROP TABLE IF EXISTS pg3_copy")
    cur.execute("CREATE TABLE pg3_copy (id int, t text)")

    def copy_in():
        with cur.copy("COPY pg3_copy (id, t) FROM STDIN") as cp:
            cp.write_row((1, "one"))
            cp.write_row((2, None))
        return cur.rowcount
    check("copy.in", copy_in)

    def copy_out():
        data = b""
        with cur.copy("COPY (SELECT * FROM pg3_copy ORDER BY id) TO STDOUT") as cp:
            for chunk in cp:
                data += bytes(chunk)
        return data
    check("copy.out", copy_out)

    def cancel():
        t = threading.Timer(0.5, conn.cancel)
        t.start()
        try:
            cur.execute("SELECT pg_sleep(5)")
            return "not cancelled"
        except psycopg.Error as e:
            return err(e)
        finally:
            t.join()
    check("cancel.query", cancel)
    check("cancel.after", lambda: cur.execute("SELECT 'alive'").fetchone())

    def service():
        with psycopg.connect(conninfo(options="-c rustydb.service=olap")) as s:
            return s.execute("SELECT 1").fetchone()
    check("service.options", service)
    cur.execute("DROP TABLE IF EXISTS pg3_items")
    cur.execute("DROP TABLE IF EXISTS pg3_copy")
    conn.close()


if __name__ == "__main__":
    start = time.time()
    run()
