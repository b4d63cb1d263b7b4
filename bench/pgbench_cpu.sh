#!/usr/bin/env bash
# CPU cost per pgbench transaction: rustydb node vs PostgreSQL 15.
#
# On a shared machine wall-clock TPS swings with other load; server CPU time
# per transaction does much less. This script starts both servers (as
# bench/pgbench.sh does), initialises pgbench at scale $BENCH_SCALE, then for
# each workload runs a fixed number of transactions (-t) against each server
# and reads the servers' CPU time (utime+stime, from /proc) before and after:
#   - rustydb: the node process (all its threads);
#   - PostgreSQL: every process of the postmaster's tree plus the
#     postmaster's cutime+cstime (backends that exited during the run were
#     reaped by it, so their time lands there).
# It prints µs of server CPU per transaction and the wall-clock TPS.
#
# Environment (defaults in brackets):
#   BENCH_SCALE [10]  BENCH_CLIENTS [8]  BENCH_JOBS [2]
#   BENCH_TXNS_TPCB [2000]    transactions per client, TPC-B
#   BENCH_TXNS_SELECT [10000] transactions per client, -S
#   BENCH_SIDES ["postgres rustydb"]
#   BENCH_WORKLOADS ["tpcb select"]
#   BENCH_DIR, RUSTYDB_BIN as in bench/pgbench.sh
set -euo pipefail

SCALE=${BENCH_SCALE:-10}
CLIENTS=${BENCH_CLIENTS:-8}
JOBS=${BENCH_JOBS:-2}
TX_TPCB=${BENCH_TXNS_TPCB:-2000}
TX_SELECT=${BENCH_TXNS_SELECT:-10000}
SIDES=${BENCH_SIDES:-postgres rustydb}
WORKLOADS=${BENCH_WORKLOADS:-tpcb select}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_TAG=pgbench-cpu
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

find_bin "$ROOT"

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/rustydb-cpu.XXXXXX")
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

TICK=$(getconf CLK_TCK)

# utime+stime (+cutime+cstime with $2 = all) of one pid, in clock ticks.
ticks() { # pid [all]
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    # Fields after the ")" that closes the command name: 3=state ... 14=utime.
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat "${2:-}"
    if [[ ${!#} == all ]]; then echo $((${12} + ${13} + ${14} + ${15})); else echo $((${12} + ${13})); fi
}

# CPU ticks of a server: the node, or the postmaster's whole tree.
server_ticks() { # side
    if [[ $1 == rustydb ]]; then
        ticks "$NODE_PID"
        return
    fi
    local pm total child
    pm=$(head -1 "$WORK/pg/postmaster.pid")
    total=$(ticks "$pm" all)
    for child in $(pgrep -P "$pm"); do
        total=$((total + $(ticks "$child")))
    done
    echo "$total"
}

for side in $SIDES; do
    if [[ $side == postgres ]]; then
        free_port PG_PORT
        [[ $(id -u) -eq 0 ]] && chown postgres: "$WORK"
        pg_initdb "$WORK/pg"
        PG_STARTED=1
        pg_start "$WORK/pg" "$PG_PORT"
        wait_ready "$PG_PORT" PostgreSQL || die "PostgreSQL not ready" "$WORK/pg.log"
        port=$PG_PORT
    else
        free_port NODE_PORT
        "$BIN" node --data-dir "$WORK/node" --listen "127.0.0.1:$NODE_PORT" >"$WORK/node.log" 2>&1 &
        NODE_PID=$!
        wait_ready "$NODE_PORT" rustydb "$NODE_PID" || die "rustydb node did not start" "$WORK/node.log"
        port=$NODE_PORT
    fi
    log "$side: pgbench -i -s $SCALE"
    pgb "$port" -i -s "$SCALE" -q >"$WORK/init-$side.log" 2>&1 || { cat "$WORK/init-$side.log" >&2; exit 1; }
done

port_of() { if [[ $1 == rustydb ]]; then echo "$NODE_PORT"; else echo "$PG_PORT"; fi; }

printf '\nscale %s, %s clients, %s threads; server CPU per transaction (pgbench client CPU excluded)\n' "$SCALE" "$CLIENTS" "$JOBS"
printf 'load average before: %s\n\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-9s %10s %12s %12s %10s\n' workload server txns "cpu s" "us/txn" tps
for workload in $WORKLOADS; do
    extra=()
    per_client=$TX_TPCB
    if [[ $workload == select ]]; then
        extra=(-S)
        per_client=$TX_SELECT
    fi
    for side in $SIDES; do
        port=$(port_of "$side")
        out="$WORK/$workload-$side.log"
        before=$(server_ticks "$side")
        if ! pgb "$port" -c "$CLIENTS" -j "$JOBS" -t "$per_client" "${extra[@]}" >"$out" 2>&1; then
            cat "$out" >&2
            exit 1
        fi
        sleep 0.2
        after=$(server_ticks "$side")
        read -r tps _ < <(parse <"$out")
        txns=$((per_client * CLIENTS))
        awk -v w="$workload" -v s="$side" -v n="$txns" -v t=$((after - before)) -v hz="$TICK" -v tps="$tps" \
            'BEGIN { printf "%-8s %-9s %10d %12.2f %12.1f %10.1f\n", w, s, n, t / hz, t / hz / n * 1e6, tps }'
    done
done
