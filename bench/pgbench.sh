#!/usr/bin/env bash
# pgbench: a rustydb node against PostgreSQL 15 on this machine, in one run.
#
# Starts PostgreSQL 15 (fsync on, default shared_buffers) and a rustydb node
# (release build), each with a data dir under one temp dir (same filesystem)
# and a free loopback port; initialises pgbench at scale $BENCH_SCALE on both;
# then runs TPC-B and select-only (-S) against each, one server at a time,
# and prints TPS, mean latency and the ratio rustydb / PostgreSQL.
#
# Environment (defaults in brackets):
#   BENCH_SCALE [10]   pgbench -i -s
#   BENCH_T [30]       seconds per run
#   BENCH_CLIENTS [8]  -c
#   BENCH_JOBS [2]     -j
#   BENCH_DIR          parent of the temp dir [${TMPDIR:-/tmp}]
#   RUSTYDB_BIN        the rustydb binary [$CARGO_TARGET_DIR or target]/release/rustydb,
#                      built with `cargo build --release --bins` when missing
# Quick smoke run: BENCH_T=5 BENCH_SCALE=1 bench/pgbench.sh
set -euo pipefail

SCALE=${BENCH_SCALE:-10}
DURATION=${BENCH_T:-30}
CLIENTS=${BENCH_CLIENTS:-8}
JOBS=${BENCH_JOBS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PGCONNECT_TIMEOUT=10

log() { printf '[bench] %s\n' "$*" >&2; }

BIN=${RUSTYDB_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/rustydb}
if [[ ! -x $BIN ]]; then
    log "building $BIN (cargo build --release --bins)"
    (cd "$ROOT" && cargo build --release --bins)
fi
[[ -x $BIN ]] || { log "no rustydb binary at $BIN"; exit 1; }

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/rustydb-bench.XXXXXX")
NODE_PID=""
PG_STARTED=""

# PostgreSQL refuses to run as root: run its server programs as `postgres`.
as_pg() {
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
    set +e
    if [[ -n $NODE_PID ]]; then
        kill "$NODE_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$NODE_PID" 2>/dev/null
        wait "$NODE_PID" 2>/dev/null
    fi
    [[ -n $PG_STARTED ]] && as_pg pg_ctl stop -D "$WORK/pg" -m fast -s >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# A port nobody listens on (bash's /dev/tcp connect fails on a free port).
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    log "no free port found"
    exit 1
}

wait_ready() { # port name
    for _ in $(seq 300); do
        pg_isready -q -h 127.0.0.1 -p "$1" -U postgres -d postgres -t 2 && return 0
        sleep 0.1
    done
    log "$2 did not accept connections on port $1"
    return 1
}

PG_PORT=$(free_port)
log "PostgreSQL: initdb + start on port $PG_PORT (data in $WORK/pg)"
[[ $(id -u) -eq 0 ]] && chown postgres: "$WORK"
as_pg initdb -A trust -U postgres -E UTF8 --locale=C -D "$WORK/pg" >/dev/null
as_pg pg_ctl start -w -s -D "$WORK/pg" -l "$WORK/pg.log" \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $WORK -c fsync=on -c max_connections=100" >/dev/null
PG_STARTED=1
wait_ready "$PG_PORT" PostgreSQL

NODE_PORT=$(free_port)
while [[ $NODE_PORT == "$PG_PORT" ]]; do NODE_PORT=$(free_port); done
log "rustydb: node on port $NODE_PORT (data in $WORK/node)"
"$BIN" node --data-dir "$WORK/node" --listen "127.0.0.1:$NODE_PORT" >"$WORK/node.log" 2>&1 &
NODE_PID=$!
wait_ready "$NODE_PORT" rustydb || { tail -n 30 "$WORK/node.log" >&2; exit 1; }

pgb() { # port args...
    local port=$1
    shift
    pgbench -h 127.0.0.1 -p "$port" -U postgres "$@" postgres
}

# Prints "tps latency_ms" from pgbench output on stdin; fails on failed transactions.
parse() {
    awk '
        /^number of failed transactions:/ { failed = $5 }
        /^latency average =/ { lat = $4 }
        /^tps =/ { tps = $3 }
        END {
            if (tps == "") exit 1
            if (failed != "" && failed != 0) { print "failed transactions: " failed > "/dev/stderr"; exit 2 }
            printf "%s %s\n", tps, lat
        }'
}

for side in postgres rustydb; do
    port=$PG_PORT
    [[ $side == rustydb ]] && port=$NODE_PORT
    log "$side: pgbench -i -s $SCALE"
    pgb "$port" -i -s "$SCALE" -q >"$WORK/init-$side.log" 2>&1 || { cat "$WORK/init-$side.log" >&2; exit 1; }
done

declare -A RESULT
for workload in tpcb select; do
    extra=()
    [[ $workload == select ]] && extra=(-S)
    for side in postgres rustydb; do
        port=$PG_PORT
        [[ $side == rustydb ]] && port=$NODE_PORT
        log "$side: $workload -c $CLIENTS -j $JOBS -T $DURATION"
        out="$WORK/$workload-$side.log"
        if ! pgb "$port" -c "$CLIENTS" -j "$JOBS" -T "$DURATION" "${extra[@]}" >"$out" 2>&1; then
            cat "$out" >&2
            exit 1
        fi
        RESULT[$workload-$side]=$(parse <"$out") || { cat "$out" >&2; exit 1; }
    done
done

printf '\nscale %s, %s clients, %s threads, %s s per run, fsync on for both\n\n' "$SCALE" "$CLIENTS" "$JOBS" "$DURATION"
printf '%-8s %14s %12s %14s %12s %8s\n' workload "postgres tps" "pg lat ms" "rustydb tps" "rdb lat ms" ratio
for workload in tpcb select; do
    read -r pg_tps pg_lat <<<"${RESULT[$workload-postgres]}"
    read -r rdb_tps rdb_lat <<<"${RESULT[$workload-rustydb]}"
    ratio=$(awk -v a="$rdb_tps" -v b="$pg_tps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    printf '%-8s %14.1f %12.3f %14.1f %12.3f %8s\n' "$workload" "$pg_tps" "$pg_lat" "$rdb_tps" "$rdb_lat" "$ratio"
done
