#!/usr/bin/env bash
# pgbench: a rustydb node against PostgreSQL 15 on this machine, in one run.
#
# Starts PostgreSQL 15 (fsync on, default shared_buffers) and a rustydb node
# (release build), each with a data dir under one temp dir (same filesystem)
# and a free loopback port; initialises pgbench at scale $BENCH_SCALE on both;
# then runs TPC-B and select-only (-S) against each, one server at a time,
# and prints TPS, mean latency and the ratio rustydb / PostgreSQL.
#
# A single pair of runs on a shared 2-core machine swings by 10-20 % with
# whatever else runs, so the runs are repeated in rounds ($BENCH_ROUNDS),
# alternating which server goes first, and the median of the per-round
# ratios is printed beside each round's figures.
#
# Environment (defaults in brackets):
#   BENCH_SCALE [10]   pgbench -i -s
#   BENCH_T [30]       seconds per run
#   BENCH_CLIENTS [8]  -c
#   BENCH_JOBS [2]     -j
#   BENCH_ROUNDS [3]   rounds of (PostgreSQL, rustydb) runs per workload
#   BENCH_DIR          parent of the temp dir [${TMPDIR:-/tmp}]
#   RUSTYDB_BIN        the rustydb binary [$CARGO_TARGET_DIR or target]/release/rustydb,
#                      built with `cargo build --release --bins` when missing
# Quick smoke run: BENCH_T=5 BENCH_SCALE=1 bench/pgbench.sh
set -euo pipefail

SCALE=${BENCH_SCALE:-10}
DURATION=${BENCH_T:-30}
CLIENTS=${BENCH_CLIENTS:-8}
JOBS=${BENCH_JOBS:-2}
ROUNDS=${BENCH_ROUNDS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

find_bin "$ROOT"

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/rustydb-bench.XXXXXX")
NODE_PID=""
PG_STARTED=""

cleanup() {
    set +e
    stop_pid "$NODE_PID"
    [[ -n $PG_STARTED ]] && pg_stop "$WORK/pg"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port PG_PORT
log "PostgreSQL: initdb + start on port $PG_PORT (data in $WORK/pg)"
[[ $(id -u) -eq 0 ]] && chown postgres: "$WORK"
pg_initdb "$WORK/pg"
PG_STARTED=1
pg_start "$WORK/pg" "$PG_PORT"
wait_ready "$PG_PORT" PostgreSQL || die "PostgreSQL not ready" "$WORK/pg.log"

free_port NODE_PORT
log "rustydb: node on port $NODE_PORT (data in $WORK/node)"
"$BIN" node --data-dir "$WORK/node" --listen "127.0.0.1:$NODE_PORT" >"$WORK/node.log" 2>&1 &
NODE_PID=$!
wait_ready "$NODE_PORT" rustydb "$NODE_PID" || die "rustydb node did not start" "$WORK/node.log"

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
    for round in $(seq 1 "$ROUNDS"); do
        order="postgres rustydb"
        ((round % 2 == 0)) && order="rustydb postgres"
        for side in $order; do
            port=$PG_PORT
            [[ $side == rustydb ]] && port=$NODE_PORT
            log "round $round/$ROUNDS, $side: $workload -c $CLIENTS -j $JOBS -T $DURATION"
            out="$WORK/$workload-$side-$round.log"
            if ! pgb "$port" -c "$CLIENTS" -j "$JOBS" -T "$DURATION" "${extra[@]}" >"$out" 2>&1; then
                cat "$out" >&2
                exit 1
            fi
            RESULT[$workload-$side-$round]=$(parse <"$out") || { cat "$out" >&2; exit 1; }
        done
    done
done

printf '\nscale %s, %s clients, %s threads, %s s per run, %s rounds, fsync on for both\n\n' \
    "$SCALE" "$CLIENTS" "$JOBS" "$DURATION" "$ROUNDS"
printf '%-8s %5s %14s %12s %14s %12s %8s\n' workload round "postgres tps" "pg lat ms" "rustydb tps" "rdb lat ms" ratio
for workload in tpcb select; do
    ratios=()
    for round in $(seq 1 "$ROUNDS"); do
        read -r pg_tps pg_lat <<<"${RESULT[$workload-postgres-$round]}"
        read -r rdb_tps rdb_lat <<<"${RESULT[$workload-rustydb-$round]}"
        ratio=$(awk -v a="$rdb_tps" -v b="$pg_tps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        ratios+=("$ratio")
        printf '%-8s %5s %14.1f %12.3f %14.1f %12.3f %8s\n' "$workload" "$round" "$pg_tps" "$pg_lat" "$rdb_tps" "$rdb_lat" "$ratio"
    done
    median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
    printf '%-8s %5s %14s %12s %14s %12s %8s\n' "$workload" median "" "" "" "" "$median"
done
