#!/usr/bin/env bash
# pgbench scenario: -i (COPY load, ALTER TABLE, VACUUM), then TPC-B-like and
# select-only runs with the simple, extended and prepared protocols, over
# SCRAM and over TLS. Prints the processed/failed transaction counts.
set -uo pipefail
export PGHOST="${COMPAT_HOST:-127.0.0.1}" PGPORT="${COMPAT_PORT:-5432}" PGUSER="${COMPAT_USER:-compat}"
export PGDATABASE="${COMPAT_DB:-compat}" PGPASSWORD="${COMPAT_PASSWORD:-compat-pw}"
summary() { grep -E "^(number of transactions actually processed|number of failed transactions)" | sed -E 's/ \(.*//' | paste -sd ';' -; }
init="$(PGSSLMODE=disable pgbench -i -s 1 -q 2>&1)"
if echo "$init" | grep -q "^done in"; then echo "connect.scram: ok"; echo "init.load: ok"; else echo "init.load: $(echo "$init" | tail -1)"; fi
for mode in simple extended prepared; do
  echo "tpcb.$mode: $(PGSSLMODE=disable pgbench -n -M $mode -c 2 -t 50 2>&1 | summary)"
  echo "select_only.$mode: $(PGSSLMODE=disable pgbench -n -S -M $mode -c 2 -t 100 2>&1 | summary)"
done
echo "connect.tls: $(PGSSLMODE=require pgbench -n -S -M prepared -c 1 -t 20 2>&1 | summary)"
echo "check.balance: $(PGSSLMODE=disable psql -X -Atc "SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT sum(delta) FROM pgbench_history), (SELECT count(*) FROM pgbench_history)" 2>&1)"
