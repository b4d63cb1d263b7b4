"""asyncpg scenario: binary protocol throughout, prepared statements,
COPY records, cancel via task cancellation (asyncpg sends CancelRequest)."""
import asyncio
import ssl

import asyncpg

from common import DB, HOST, PASSWORD, PORT, USER, acheck, err, norm, out, values


def connect(**kw):
    return asyncpg.connect(host=HOST, port=PORT, user=USER, password=PASSWORD, database=DB, **kw)


async def run():
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = await connect(ssl=ctx)
        out("connect.tls", "ok" if c._transport.get_extra_info("sslcontext") is not None else "not encrypted")
        await c.close()
    except Exception as e:  # noqa: BLE001
        out("connect.tls", err(e))
    try:
        c = await connect(ssl=False)
        out("connect.scram", "ok")
    except Exception as e:  # noqa: BLE001
        out("connect.scram", err(e))
        return
    await c.execute("DROP TABLE IF EXISTS apg_items")
    await acheck("ddl.create", c.execute("CREATE TABLE apg_items (id int PRIMARY KEY, name text, qty int)"))

    async def insert():
        await c.executemany("INSERT INTO apg_items VALUES ($1, $2, $3)", [(1, "a", 10), (2, "b", None), (3, None, 30)])
        return await c.fetchval("SELECT count(*) FROM apg_items")
    await acheck("crud.insert", insert())
    await acheck("crud.update", c.execute("UPDATE apg_items SET qty = qty + $1 WHERE id = $2", 5, 1))
    await acheck("crud.select", _rows(c, "SELECT * FROM apg_items WHERE id >= $1 ORDER BY id", 1))
    await acheck("crud.delete", c.execute("DELETE FROM apg_items WHERE id = $1", 3))
    await acheck("nulls.select", _rows(c, "SELECT NULL::int, $1::text, NULL IS NULL", None))

    async def rollback():
        tr = c.transaction()
        await tr.start()
        await c.execute("INSERT INTO apg_items VALUES (10, 'x', 1)")
        await tr.rollback()
        return await c.fetchval("SELECT count(*) FROM apg_items")
    await acheck("txn.rollback", rollback())

    async def savepoint():
        async with c.transaction():
            await c.execute("INSERT INTO apg_items VALUES (11, 'y', 1)")
            try:
                async with c.transaction():  # nested = SAVEPOINT
                    await c.execute("INSERT INTO apg_items VALUES (12, 'z', 1)")
                    await c.execute("SELECT 1/0")
            except asyncpg.PostgresError as e:
                out("savepoint.error", err(e))
        return await _rows(c, "SELECT id FROM apg_items WHERE id >= 10 ORDER BY id")
    await acheck("savepoint.rows", savepoint())

    async def reuse():
        st = await c.prepare("SELECT $1::int * 2")
        s = 0
        for i in range(200):
            s += await st.fetchval(i)
        return s
    await acheck("prepared.reuse", reuse())

    vals = values()
    import json
    await c.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await c.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    for name, cast in [("int", "int4"), ("bigint", "int8"), ("numeric", "numeric"), ("float", "float8"),
                       ("bool", "bool"), ("text", "text"), ("bytea", "bytea"), ("date", "date"),
                       ("timestamptz", "timestamptz"), ("interval", "interval"), ("uuid", "uuid"),
                       ("json", "json"), ("jsonb", "jsonb"), ("int_array", "int4[]"), ("text_array", "text[]")]:
        async def rt(cast=cast, v=vals[name]):
            return norm(await c.fetchval(f"SELECT $1::{cast}", v))
        await acheck(f"types.{name}.binary", rt())

    await acheck("errors.unique", c.execute("INSERT INTO apg_items VALUES (1, 'dup', 0)"))
    await acheck("errors.syntax", c.execute("SELEC 1"))
    await acheck("errors.undefined_table", c.fetch("SELECT * FROM apg_missing"))
    await acheck("errors.division_by_zero", c.fetch("SELECT 1/$1::int", 0))
    await acheck("errors.invalid_text", c.fetch("SELECT $1::text::int", "abc"))
    await acheck("errors.after_error", c.fetchval("SELECT 'alive'"))

    await c.execute("DROP TABLE IF EXISTS apg_copy; CREATE TABLE apg_copy (id int, t text)")
    # copy_records_to_table uses COPY ... (FORMAT binary); copy_to_table text.
    await acheck("copy.in_binary", c.copy_records_to_table("apg_copy", records=[(1, "one"), (2, None)]))
    await c.execute("TRUNCATE apg_copy")
    import io
    await acheck("copy.in_text", c.copy_to_table("apg_copy", source=io.BytesIO(b"1\tone\n2\t\\N\n")))

    async def copy_out():
        chunks = []

        async def sink(b):
            chunks.append(bytes(b))
        await c.copy_from_query("SELECT * FROM apg_copy ORDER BY id", output=sink)
        return b"".join(chunks)
    await acheck("copy.out", copy_out())

    async def cancel():
        task = asyncio.ensure_future(c.execute("SELECT pg_sleep(5)"))
        await asyncio.sleep(0.5)
        task.cancel()
        try:
            await task
            return "not cancelled"
        except asyncio.CancelledError:
            return "cancelled"
    await acheck("cancel.task", cancel())
    await acheck("cancel.after", c.fetchval("SELECT 'alive'"))

    async def timeout():
        try:
            await c.execute("SELECT pg_sleep(5)", timeout=0.5)
            return "not cancelled"
        except asyncio.TimeoutError:
            return "timeout"
    await acheck("cancel.timeout", timeout())
    await acheck("cancel.after_timeout", c.fetchval("SELECT 'alive'"))

    async def service():
        s = await connect(ssl=False, server_settings={"rustydb.service": "olap"})
        try:
            return await s.fetchval("SELECT 1")
        finally:
            await s.close()
    await acheck("service.options", service())
    await c.execute("DROP TABLE IF EXISTS apg_items; DROP TABLE IF EXISTS apg_copy")
    await c.close()


async def _rows(c, sql, *args):
    return [tuple(r) for r in await c.fetch(sql, *args)]


if __name__ == "__main__":
    asyncio.run(run())
