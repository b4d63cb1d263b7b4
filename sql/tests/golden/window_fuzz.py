#!/usr/bin/env python3
"""Prints a random window-function workload (a table and 1,000 queries).

The differential fuzz for window functions: feed its output to
`window_expected.py HOST PORT --corpus FILE --out EXPECTED` to record
PostgreSQL 15's answers, then run
`RUSTYDB_WINDOW_EXPECTED=EXPECTED cargo test -p rustydb-sql --test window -- --ignored`.
Queries avoid answers PostgreSQL leaves undefined: functions that depend on
the order of peers (row_number, lag, first_value, string_agg, ...) and ROWS
frames get `id` as the last ORDER BY key, so only peer-insensitive results
see ties. Usage: window_fuzz.py [SEED] > fuzz.sql
"""
import random
import sys

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 12345
random.seed(SEED)
funcs = ["row_number()", "rank()", "dense_rank()", "percent_rank()", "cume_dist()", "ntile(3)", "ntile(2)",
         "lag(x)", "lead(x, 2)", "lag(s, 1, 'z')", "lead(y, 1, -1)", "first_value(x)", "last_value(s)", "nth_value(x, 2)",
         "count(*)", "count(x)", "sum(x)", "avg(x)", "min(s)", "max(y)", "sum(y)", "string_agg(s, ',')", "array_agg(x)",
         "bool_or(x > 5)", "sum(x) FILTER (WHERE g = 1)", "avg(y)", "count(s)", "max(x)", "min(x)", "lag(x, 3, 0)", "lead(s, 0)", "nth_value(s, 3)", "ntile(7)", "json_agg(x)", "bool_and(y > 2)", "count(*) FILTER (WHERE s > 'b')", "avg(x::numeric)", "var_pop(x)", "stddev_samp(x)"]
parts = ["", "PARTITION BY g", "PARTITION BY g % 2", "PARTITION BY s IS NULL", "PARTITION BY g, x > 5"]
orders = ["", "ORDER BY x", "ORDER BY x DESC", "ORDER BY x NULLS FIRST", "ORDER BY y DESC NULLS LAST", "ORDER BY s", "ORDER BY g, x", "ORDER BY x DESC NULLS LAST, y"]
bounds_s = ["UNBOUNDED PRECEDING", "1 PRECEDING", "2 PRECEDING", "CURRENT ROW", "1 FOLLOWING", "0 PRECEDING", "5 PRECEDING", "2 FOLLOWING"]
bounds_e = ["UNBOUNDED FOLLOWING", "1 FOLLOWING", "3 FOLLOWING", "CURRENT ROW", "1 PRECEDING", "0 FOLLOWING", "4 FOLLOWING", "3 PRECEDING"]
def frame(order):
    r = random.random()
    if r < 0.4 or not order:
        return ""
    units = random.choice(["ROWS", "GROUPS", "RANGE"])
    s = random.choice(bounds_s); e = random.choice(bounds_e)
    if units == "RANGE" and ("PRECEDING" in s and s[0].isdigit() or "FOLLOWING" in s and s[0].isdigit() or e[0].isdigit()):
        if "," in order or order.endswith(" s") or "BY s" in order:
            units = "ROWS"
    return f" {units} BETWEEN {s} AND {e}"
out = []
for i in range(800):
    n = random.randint(1, 3)
    items = []
    for k in range(n):
        f = random.choice(funcs)
        o = random.choice(orders)
        p = random.choice(parts)
        fr = frame(o)
        sensitive = any(f.startswith(n) for n in ["row_number", "lag", "lead", "first_value", "last_value", "nth_value", "ntile", "string_agg", "array_agg", "json_agg"])
        if sensitive or fr.startswith(" ROWS"):
            o = (o + ", id") if o else "ORDER BY id"
            if fr.startswith(" RANGE") and any(c.isdigit() for c in fr):
                fr = fr.replace(" RANGE", " ROWS")
        spec = " ".join(x for x in [p, o] if x) + fr
        items.append(f"{f} OVER ({spec})")
    where = random.choice(["", " WHERE x IS NOT NULL", " WHERE g <> 2", " WHERE id > 3"])
    out.append(f"SELECT id, {', '.join(items)} FROM wf{where} ORDER BY id;")
# Windows over GROUP BY: the window sees one row per group (the key is unique).
gfuncs = ["rank()", "dense_rank()", "row_number()", "percent_rank()", "cume_dist()", "ntile(2)",
          "sum(count(*))", "sum(sum(x))", "max(max(x))", "lag(count(*))", "lead(min(s), 1, '-')",
          "first_value(sum(x))", "avg(count(x))", "count(*)", "string_agg(max(s), ',')"]
gorders = ["ORDER BY K", "ORDER BY K DESC", "ORDER BY count(*), K", "ORDER BY sum(x) NULLS FIRST, K",
           "ORDER BY max(s), K", "ORDER BY K NULLS FIRST"]
gframes = ["", " ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING", " ROWS UNBOUNDED PRECEDING",
           " RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING", " GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW"]
for i in range(200):
    key = random.choice(["g", "x % 4", "s", "g * 10 + x % 3"])
    items = []
    for k in range(random.randint(1, 3)):
        f = random.choice(gfuncs)
        part = random.choice(["", "", "PARTITION BY count(*) > 2 "])
        order = random.choice(gorders).replace("K", key)
        items.append(f"{f} OVER ({part}{order}{random.choice(gframes)})")
    having = random.choice(["", " HAVING count(*) > 1", " HAVING sum(x) > 5"])
    out.append(f"SELECT {key} AS k, count(*), {', '.join(items)} FROM wf GROUP BY {key}{having} ORDER BY k;")
print("CREATE TABLE wf (id int, g int, x int, y double precision, s text);")
rows = []
random.seed(SEED + 1)
for i in range(1, 61):
    g = random.choice(["1", "2", "3", "NULL"])
    x = random.choice([str(random.randint(0, 12)), "NULL"])
    y = random.choice([str(random.randint(0, 40) / 4), "NULL"])
    s = random.choice(["'a'", "'b'", "'c'", "'d'", "NULL"])
    rows.append(f"({i}, {g}, {x}, {y}, {s})")
print("INSERT INTO wf VALUES " + ", ".join(rows) + ";")
print("\n".join(out))
