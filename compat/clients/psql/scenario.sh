#!/usr/bin/env bash
# psql scenario of the client compatibility suite: scripted psql with the
# meta-commands people use (\l, \dt, \d, \di, \copy, \x), SQL PREPARE/EXECUTE,
# transactions, COPY, cancel (SIGINT) and a service in the options.
# Prints `feature.detail: value` lines; multi-line output is joined with ⏎.
set -uo pipefail
H="${COMPAT_HOST:-127.0.0.1}" P="${COMPAT_PORT:-5432}" U="${COMPAT_USER:-compat}" D="${COMPAT_DB:-compat}"
export PGPASSWORD="${COMPAT_PASSWORD:-compat-pw}"
conn="host=$H port=$P user=$U dbname=$D sslmode=disable"
q() { # q KEY [psql args...]: runs psql, prints KEY: output (joined)
  local key="$1"; shift
  local out
  out="$(psql -X -v VERBOSITY=sqlstate "$@" 2>&1 | sed 's/[[:space:]]*$//' | sed ':a;N;$!ba;s/\n/ ⏎ /g')"
  echo "$key: $out"
}
q connect.tls "host=$H port=$P user=$U dbname=$D sslmode=require" -Atc "SELECT 'ok'"
q connect.scram "$conn" -Atc "SELECT 'ok'"
psql -X -q "$conn" -c "DROP TABLE IF EXISTS ps_items" >/dev/null 2>&1
q ddl.create "$conn" -c "CREATE TABLE ps_items (id int PRIMARY KEY, name varchar(20) NOT NULL DEFAULT 'x', qty numeric(8,2), at timestamptz)"
q ddl.index "$conn" -c "CREATE INDEX ps_items_name ON ps_items (name)"
# \l: the header and whether this database is listed (the other rows are
# each server's own databases).
echo "meta.l: $(psql -X -A "$conn" -c '\l' 2>&1 | sed -n 2p)"
echo "meta.l_row: $(psql -X -At "$conn" -c '\l' 2>&1 | grep "^$D|")"
q meta.dt "$conn" -c '\dt ps_*'
q meta.d "$conn" -c '\d ps_items'
q meta.di "$conn" -c '\di ps_*'
q crud.insert "$conn" -c "INSERT INTO ps_items VALUES (1, 'a', 1.5, '2024-02-29 12:00:00+00'), (2, 'b', NULL, NULL)"
q crud.select "$conn" -c "SELECT * FROM ps_items ORDER BY id"
q crud.update "$conn" -c "UPDATE ps_items SET qty = qty * 2 WHERE id = 1 RETURNING id, qty"
q meta.x "$conn" -c '\x on' -c "SELECT id, name, qty FROM ps_items WHERE id = 1"
q txn.script "$conn" -c "BEGIN" -c "INSERT INTO ps_items (id) VALUES (3)" -c "SAVEPOINT s" \
  -c "INSERT INTO ps_items (id) VALUES (3)" -c "ROLLBACK TO SAVEPOINT s" -c "COMMIT" -c "SELECT count(*) FROM ps_items"
q txn.rollback "$conn" -c "BEGIN" -c "DELETE FROM ps_items" -c "ROLLBACK" -c "SELECT count(*) FROM ps_items"
q prepared.sql "$conn" -c "PREPARE p(int) AS SELECT \$1 * 2" -c "EXECUTE p(21)" -c "EXECUTE p(5)" -c "DEALLOCATE p"
q nulls.display "$conn" -c '\pset null (null)' -c "SELECT NULL::int AS n, '' AS empty"
q types.text "$conn" -Atc "SELECT 42::int4, 12345.6789::numeric, 1.5::float8, true, 'héllo'::text, '\\x00ff10'::bytea, '2024-02-29'::date, '2024-02-29 12:34:56.789+00'::timestamptz, '1 day 02:03:04'::interval, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '{\"a\": [1, 2]}'::jsonb, ARRAY[1,NULL,3], '{\"k\":1}'::json"
q errors.division_by_zero "$conn" -c "SELECT 1/0"
q errors.undefined_table "$conn" -c "SELECT * FROM ps_missing"
q errors.unique "$conn" -c "INSERT INTO ps_items (id) VALUES (1)"
tmp="$(mktemp -d)"
printf '10\tten\t1.25\t\\N\n11\televen\t\\N\t2024-01-01 00:00:00+00\n' > "$tmp/in.tsv"
q copy.in "$conn" -c "\\copy ps_items FROM '$tmp/in.tsv'"
q copy.out "$conn" -c "\\copy (SELECT id, name, qty FROM ps_items ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)"
rm -rf "$tmp"
# Cancel: SIGINT to psql sends a CancelRequest.
out="$( (psql -X -v VERBOSITY=sqlstate "$conn" -c "SELECT pg_sleep(5)" 2>&1 & pid=$!; sleep 1; kill -INT $pid; wait $pid) | sed ':a;N;$!ba;s/\n/ ⏎ /g')"
echo "cancel.sigint: $out"
q service.options "host=$H port=$P user=$U dbname=$D sslmode=disable options='-c rustydb.service=olap'" -Atc "SELECT 1"
psql -X -q "$conn" -c "DROP TABLE IF EXISTS ps_items" >/dev/null 2>&1
