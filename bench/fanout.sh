#!/usr/bin/env bash
# fanout: parallel fan-out of aggregate and scan queries over replicas
# (issue 8, section Benchmark), beside PostgreSQL 15's parallel plans.
#
# Servers (data dirs under one temp dir, loopback, fsync on):
#   rustydb   a primary and two replicas (--follow PRIMARY), and a static-mode
#             `rustydb proxy` in front of the three (--backends).
#   postgres  one PostgreSQL 15 (max_worker_processes 8).
# Data: t(id int8 PRIMARY KEY, k int4, v int8, f int4, pad text), ROWS rows
# (2 million), loaded on the rustydb primary in batches and with one INSERT
# ... SELECT on PostgreSQL (then VACUUM ANALYZE). Replicas must catch up
# before any run.
# Queries:
#   agg   SELECT k, count(*), sum(v), avg(v) FROM t WHERE f < 500 GROUP BY k ORDER BY k
#   topn  SELECT id, v FROM t WHERE f = 7 ORDER BY v DESC, id LIMIT 10
# Runs, each query REPS times in one session (median of the timings, ms):
#   node        straight to the rustydb primary (one node, full table)
#   dop1, dop3  through the proxy with SET parallel_degree = 1 / 3
#               (needs the proxy's fan-out; when SET parallel_degree fails,
#               these columns say n/a and the rest still runs)
#   pg0, pg2    PostgreSQL with max_parallel_workers_per_gather 0 / 2
# Prints the table and the ratios dop1/dop3 (goal >= 1.7) and pg2/dop3
# (goal > 1: faster than PostgreSQL's parallel plan). Results are compared
# across targets (same rows) so a fast wrong answer does not count.
#
# Environment (defaults in brackets):
#   ROWS [2000000]  REPS [5]  BATCH [100000] (rows per INSERT on rustydb)
#   PARTS [rustydb,postgres]   which servers to run
#   BENCH_DIR  parent of the temp dir [${TMPDIR:-/tmp}]   KEEP [0] keep it
#   RUSTYDB_BIN  as in bench/pgbench.sh
# Quick smoke run: ROWS=200000 REPS=3 bench/fanout.sh
set -euo pipefail

ROWS=${ROWS:-2000000}
REPS=${REPS:-5}
BATCH=${BATCH:-100000}
PARTS=${PARTS:-rustydb,postgres}
KEEP=${KEEP:-0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_TAG=fanout
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

has_part() { [[ ",$PARTS," == *",$1,"* ]]; }
has_part rustydb && find_bin "$ROOT"

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/rustydb-fanout.XXXXXX")
[[ $(id -u) -eq 0 ]] && chown postgres: "$WORK"
PIDS=()
PG_DIR=""
cleanup() {
    set +e
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
    [[ -n $PG_DIR ]] && pg_stop "$PG_DIR"
    if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

Q_AGG="SELECT k, count(*), sum(v), avg(v) FROM t WHERE f < 500 GROUP BY k ORDER BY k"
Q_TOPN="SELECT id, v FROM t WHERE f = 7 ORDER BY v DESC, id LIMIT 10"
CREATE="CREATE TABLE t (id int8 PRIMARY KEY, k int4 NOT NULL, v int8 NOT NULL, f int4 NOT NULL, pad text)"
# Row g: 100 groups, v spread by a multiplicative hash, f uniform in 0..999.
select_rows() { # from to
    echo "SELECT g, g % 100, (g * 7919) % 100003, (g * 31) % 1000, 'row-' || g FROM generate_series($1::int8, $2::int8) g"
}

declare -A MS=()    # "query target" -> median ms, or n/a
declare -A OUT=()   # "query target" -> checksum of the result rows

# Runs `query` REPS times in one psql session after the `setup` statements;
# stores the median time and a checksum of the (last) result.
time_query() { # target port setup query-name query [PGOPTIONS]
    local target=$1 port=$2 setup=$3 name=$4 sql=$5 opts=${6:-} script out times
    script="$WORK/$target-$name.sql"
    {
        [[ -n $setup ]] && echo "$setup;"
        echo "\\o $WORK/$target-$name.rows"
        echo "\\timing on"
        for _ in $(seq "$REPS"); do echo "$sql;"; done
    } >"$script"
    out="$WORK/$target-$name.out"
    if ! PGOPTIONS="$opts" timeout 1800 psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" \
        -U postgres -d postgres -f "$script" >"$out" 2>&1; then
        log "$target $name failed: $(tail -n 3 "$out" | tr '\n' ' ')"
        MS[$name $target]="n/a"
        return 1
    fi
    times=$(grep -o 'Time: [0-9.]*' "$out" | awk '{ print $2 }' | sort -n)
    MS[$name $target]=$(awk -v n="$REPS" 'NR == int((n + 1) / 2) { printf "%.1f", $1 }' <<<"$times")
    # Every repetition wrote its rows: keep one copy for the comparison.
    OUT[$name $target]=$(awk -v n="$REPS" '{ a[NR] = $0 } END { per = NR / n; for (i = 1; i <= per; i++) print a[i] }' \
        "$WORK/$target-$name.rows" | md5sum | cut -c1-12)
    log "$target $name: median ${MS[$name $target]} ms"
}

run_all() { # target port setup [PGOPTIONS]
    time_query "$1" "$2" "$3" agg "$Q_AGG" "${4:-}" || true
    time_query "$1" "$2" "$3" topn "$Q_TOPN" "${4:-}" || true
}

# ---------------------------------------------------------------- rustydb ---
if has_part rustydb; then
    declare -A PORT=() ADMIN=()
    start_node() { # name [args...]
        local name=$1 p
        shift
        free_port p
        PORT[$name]=$p
        free_port p
        ADMIN[$name]=$p
        "$BIN" node --node-name "$name" --data-dir "$WORK/$name" --listen "127.0.0.1:${PORT[$name]}" \
            --admin-listen "127.0.0.1:${ADMIN[$name]}" "$@" >>"$WORK/$name.log" 2>&1 &
        PIDS+=($!)
        wait_ready "${PORT[$name]}" "rustydb $name" "$!" || die "rustydb $name did not start" "$WORK/$name.log"
    }
    lsn_of() { curl -sf -m 5 "http://127.0.0.1:${ADMIN[$1]}/status" | jq -r '.lsn_number // 0'; }
    start_node p
    start_node r1 --follow "127.0.0.1:${PORT[p]}"
    start_node r2 --follow "127.0.0.1:${PORT[p]}"

    log "loading $ROWS rows on the rustydb primary (batches of $BATCH)"
    q "${PORT[p]}" "$CREATE" >/dev/null
    t0=$SECONDS
    for ((from = 1; from <= ROWS; from += BATCH)); do
        to=$((from + BATCH - 1))
        ((to > ROWS)) && to=$ROWS
        q "${PORT[p]}" "INSERT INTO t $(select_rows "$from" "$to")" >/dev/null ||
            die "load failed at row $from" "$WORK/p.log"
    done
    log "loaded in $((SECONDS - t0)) s; waiting for the replicas"
    deadline=$((SECONDS + 900))
    target=$(lsn_of p)
    for r in r1 r2; do
        until [[ $(lsn_of "$r") -ge $target ]]; do
            ((SECONDS < deadline)) || die "replica $r did not catch up" "$WORK/$r.log"
            sleep 0.5
        done
    done
    q "${PORT[p]}" "SELECT * FROM rustydb_split_points('t', 3)" >"$WORK/split.txt" || true
    log "split points for 3 ranges: $(tr '\n' ' ' <"$WORK/split.txt")"

    free_port PX
    free_port PX_ADMIN
    printf 'backends = ["127.0.0.1:%s", "127.0.0.1:%s", "127.0.0.1:%s"]\n' \
        "${PORT[p]}" "${PORT[r1]}" "${PORT[r2]}" >"$WORK/proxy.toml"
    "$BIN" proxy --config "$WORK/proxy.toml" --listen "127.0.0.1:$PX" --admin-listen "127.0.0.1:$PX_ADMIN" \
        >"$WORK/proxy.log" 2>&1 &
    PIDS+=($!)
    wait_ready "$PX" "rustydb proxy" "$!" || die "rustydb proxy not ready" "$WORK/proxy.log"
    for _ in $(seq 100); do q "$PX" "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done

    run_all node "${PORT[p]}" ""
    run_all dop1 "$PX" "SET parallel_degree = 1" "-c rustydb.service=olap"
    run_all dop3 "$PX" "SET parallel_degree = 3" "-c rustydb.service=olap"
fi

# --------------------------------------------------------------- postgres ---
if has_part postgres; then
    PG_DIR="$WORK/pg"
    free_port PGP
    pg_initdb "$PG_DIR"
    pg_start "$PG_DIR" "$PGP" -c shared_buffers=512MB -c max_worker_processes=8 -c max_parallel_workers=8
    log "loading $ROWS rows on PostgreSQL"
    q "$PGP" "$CREATE" >/dev/null
    q "$PGP" "INSERT INTO t $(select_rows 1 "$ROWS")" >/dev/null
    q "$PGP" "VACUUM ANALYZE t" >/dev/null
    run_all pg0 "$PGP" "SET max_parallel_workers_per_gather = 0"
    run_all pg2 "$PGP" "SET max_parallel_workers_per_gather = 2"
fi

# ----------------------------------------------------------------- report ---
ratio() { # a b -> a/b or n/a
    awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'
}
printf '\nfan-out benchmark: %s rows, median of %s runs (ms)\n' "$ROWS" "$REPS"
printf '%-6s %10s %10s %10s %10s %10s %10s %10s\n' query node dop1 dop3 pg0 pg2 dop1/dop3 pg2/dop3
for name in agg topn; do
    printf '%-6s %10s %10s %10s %10s %10s %10s %10s\n' "$name" \
        "${MS[$name node]:-n/a}" "${MS[$name dop1]:-n/a}" "${MS[$name dop3]:-n/a}" \
        "${MS[$name pg0]:-n/a}" "${MS[$name pg2]:-n/a}" \
        "$(ratio "${MS[$name dop1]:-}" "${MS[$name dop3]:-}")" \
        "$(ratio "${MS[$name pg2]:-}" "${MS[$name dop3]:-}")"
done
# Same answers everywhere (avg formatting is identical: numeric, 20 digits).
MISMATCH=0
for name in agg topn; do
    ref=""
    for target in node dop1 dop3 pg0 pg2; do
        sum=${OUT[$name $target]:-}
        [[ -z $sum ]] && continue
        if [[ -z $ref ]]; then
            ref=$sum
        elif [[ $sum != "$ref" ]]; then
            log "MISMATCH: $name on $target differs from the first target's rows"
            MISMATCH=1
        fi
    done
done
((MISMATCH == 0)) || exit 1
