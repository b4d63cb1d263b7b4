#!/usr/bin/env bash
# Connection pooler overhead: pgbench directly against PostgreSQL 15, through
# PgBouncer (transaction mode) and through the RustyDB proxy (transaction
# mode), all in front of the same PostgreSQL, in one run.
#
# Starts one PostgreSQL 15 (fsync on, max_connections 300), PgBouncer (the
# Debian package, installed with apt-get when missing; pool_mode=transaction,
# default_pool_size=$BENCH_POOL, max_client_conn=2000) and `rustydb proxy
# --backends <pg> --pool-mode transaction` (pool.max_size=$BENCH_POOL), each
# on a free loopback port; `pgbench -i -s $BENCH_SCALE` once (directly); then
# for select-only (-S) and TPC-B, at 1, 8 and 64 clients, one run against each
# target in turn. Prints TPS, mean latency and the ratios proxy/pgbouncer,
# proxy/direct and pgbouncer/direct; then the resident memory (RSS) of the
# proxy and of PgBouncer holding 1,000 idle client connections (each did the
# full startup handshake, bench/idle_clients.py).
#
# When the rustydb binary has no `proxy` subcommand yet, the proxy columns
# print "-" and the rest still runs.
#
# CPU per transaction (BENCH_CPU_TXNS > 0): TPS on a machine shared with
# other work swings with the load; CPU time per transaction much less. For
# each client count, pgbench runs a fixed number of -S transactions per
# client (-t) through PgBouncer and through the proxy, and the script reads
# the pooler's utime+stime from /proc/PID/stat before and after; it prints
# µs of pooler CPU per transaction (and, for reference, PostgreSQL's: the
# postmaster tree, exited backends included) next to the TPS of that run.
# BENCH_WORKLOADS= BENCH_IDLE=0 BENCH_CPU_TXNS=5000 bench/proxy.sh runs only
# this part.
#
# Environment (defaults in brackets):
#   BENCH_T [15]              seconds per pgbench run
#   BENCH_SCALE [10]          pgbench -i -s
#   BENCH_CLIENTS ["1 8 64"]  client counts
#   BENCH_POOL [20]           server connections per pool (both poolers)
#   BENCH_IDLE [1000]         idle clients for the memory figure (0: skip)
#   BENCH_WORKLOADS ["select tpcb"]  (empty: no TPS table)
#   BENCH_CPU_TXNS [0]        -S transactions per client for the CPU table
#   BENCH_LANES [2]           the proxy's pool.multiplex_lanes (0: off)
#   BENCH_PACK [unset]        the proxy's pool.multiplex_pack_depth
#   BENCH_DIR                 parent of the temp dir [${TMPDIR:-/tmp}]
#   RUSTYDB_BIN               [$CARGO_TARGET_DIR or target]/release/rustydb
# Quick smoke run: BENCH_T=3 BENCH_SCALE=1 BENCH_IDLE=100 bench/proxy.sh
set -euo pipefail

DURATION=${BENCH_T:-15}
SCALE=${BENCH_SCALE:-10}
CLIENT_COUNTS=${BENCH_CLIENTS:-"1 8 64"}
POOL=${BENCH_POOL:-20}
IDLE=${BENCH_IDLE:-1000}
WORKLOADS=${BENCH_WORKLOADS-"select tpcb"}
CPU_TXNS=${BENCH_CPU_TXNS:-0}
LANES=${BENCH_LANES:-2}
PACK=${BENCH_PACK:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_TAG=proxy
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

find_bin "$ROOT"
HAVE_PROXY=1
"$BIN" proxy --help >/dev/null 2>&1 || {
    HAVE_PROXY=0
    log "$BIN has no 'proxy' subcommand: proxy columns will be empty"
}
if ! command -v pgbouncer >/dev/null 2>&1 && [[ ! -x /usr/sbin/pgbouncer ]]; then
    log "installing pgbouncer (apt-get)"
    if ! apt-get install -y pgbouncer >/dev/null 2>&1; then
        apt-get update >/dev/null && apt-get install -y pgbouncer >/dev/null
    fi
fi
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
[[ -x $PGBOUNCER ]] || die "pgbouncer not installed"
# 1,000 idle clients need file descriptors (python, both poolers).
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/rustydb-proxy-bench.XXXXXX")
PROXY_PID=""
PG_STARTED=""
PGB_STARTED=""

cleanup() {
    set +e
    stop_pid "$PROXY_PID"
    if [[ -n $PGB_STARTED && -f $WORK/pgbouncer.pid ]]; then
        kill "$(cat "$WORK/pgbouncer.pid")" 2>/dev/null
        sleep 0.5
    fi
    [[ -n $PG_STARTED ]] && pg_stop "$WORK/pg"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
[[ $(id -u) -eq 0 ]] && chown postgres: "$WORK"

free_port PG_PORT
log "PostgreSQL: initdb + start on port $PG_PORT"
pg_initdb "$WORK/pg"
PG_STARTED=1
pg_start "$WORK/pg" "$PG_PORT" -c max_connections=300
wait_ready "$PG_PORT" PostgreSQL || die "PostgreSQL not ready" "$WORK/pg.log"

free_port PGB_PORT
log "PgBouncer: transaction mode on port $PGB_PORT (default_pool_size=$POOL)"
printf '"postgres" ""\n' >"$WORK/userlist.txt"
cat >"$WORK/pgbouncer.ini" <<EOF
[databases]
postgres = host=127.0.0.1 port=$PG_PORT dbname=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = trust
auth_file = $WORK/userlist.txt
pool_mode = transaction
default_pool_size = $POOL
max_client_conn = 2000
max_db_connections = 0
ignore_startup_parameters = extra_float_digits
logfile = $WORK/pgbouncer.log
pidfile = $WORK/pgbouncer.pid
log_connections = 0
log_disconnections = 0
EOF
[[ $(id -u) -eq 0 ]] && chown postgres: "$WORK/pgbouncer.ini" "$WORK/userlist.txt"
# PgBouncer refuses to run as root; -d daemonizes and writes the pid file.
as_pg "$PGBOUNCER" -d "$WORK/pgbouncer.ini" || die "pgbouncer did not start" "$WORK/pgbouncer.log"
PGB_STARTED=1
wait_ready "$PGB_PORT" PgBouncer || die "PgBouncer not ready" "$WORK/pgbouncer.log"

PX_PORT=""
if ((HAVE_PROXY)); then
    free_port PX_PORT
    free_port PX_ADMIN
    log "rustydb proxy: transaction mode on port $PX_PORT (pool.max_size=$POOL)"
    # The backend is named in the file too: the proxy checks the file alone
    # before applying flags, and a file without backends is refused.
    # multiplex_lanes only when asked for: binaries before it refuse the key.
    lanes_line=""
    ((LANES > 0)) && lanes_line="multiplex_lanes = $LANES"
    [[ -n $PACK ]] && lanes_line+=$'\n'"multiplex_pack_depth = $PACK"
    printf 'backends = ["127.0.0.1:%s"]\n[pool]\nmax_size = %s\nmin_size = 0\n%s\n[limits]\nmax_client_conn = 5000\n' \
        "$PG_PORT" "$POOL" "$lanes_line" >"$WORK/proxy.toml"
    "$BIN" proxy --config "$WORK/proxy.toml" --listen "127.0.0.1:$PX_PORT" \
        --admin-listen "127.0.0.1:$PX_ADMIN" --backends "127.0.0.1:$PG_PORT" \
        --pool-mode transaction >"$WORK/proxy.log" 2>&1 &
    PROXY_PID=$!
    wait_ready "$PX_PORT" "rustydb proxy" "$PROXY_PID" || die "rustydb proxy not ready" "$WORK/proxy.log"
    # Ready = a query works (the backend's role has been detected).
    for _ in $(seq 100); do
        q "$PX_PORT" "SELECT 1" >/dev/null 2>&1 && break
        sleep 0.2
    done
    q "$PX_PORT" "SELECT 1" >/dev/null || die "no query through the proxy" "$WORK/proxy.log"
fi

log "pgbench -i -s $SCALE (directly)"
pgb "$PG_PORT" -i -s "$SCALE" -q >"$WORK/init.log" 2>&1 || { cat "$WORK/init.log" >&2; exit 1; }
q "$PG_PORT" "VACUUM ANALYZE" >/dev/null

TARGETS="direct pgbouncer"
((HAVE_PROXY)) && TARGETS+=" proxy"
port_of() {
    case $1 in
    direct) echo "$PG_PORT" ;;
    pgbouncer) echo "$PGB_PORT" ;;
    proxy) echo "$PX_PORT" ;;
    esac
}

declare -A RESULT
for workload in $WORKLOADS; do
    extra=()
    [[ $workload == select ]] && extra=(-S)
    for c in $CLIENT_COUNTS; do
        jobs=2
        ((c < 2)) && jobs=1
        for target in $TARGETS; do
            log "$target: $workload -c $c -j $jobs -T $DURATION"
            out="$WORK/$workload-$c-$target.log"
            if ! pgb "$(port_of "$target")" -c "$c" -j "$jobs" -T "$DURATION" "${extra[@]}" >"$out" 2>&1; then
                cat "$out" >&2
                RESULT[$workload-$c-$target]="0 0"
                continue
            fi
            RESULT[$workload-$c-$target]=$(parse <"$out") || { cat "$out" >&2; RESULT[$workload-$c-$target]="0 0"; }
        done
    done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b <= 0) print "-"; else printf "%.2f", a / b }'; }

if [[ -n $WORKLOADS ]]; then
printf '\nPostgreSQL 15 (fsync on), pgbench scale %s, %s s per run, pool size %s, transaction pooling, proxy multiplex_lanes %s\n' "$SCALE" "$DURATION" "$POOL" "$LANES"
printf 'load average at the end: %s\n\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-7s %4s %11s %8s %11s %8s %11s %8s %9s %9s %9s\n' workload cli "direct tps" "lat ms" "pgbnc tps" "lat ms" \
    "proxy tps" "lat ms" "prx/pgb" "prx/dir" "pgb/dir"
for workload in $WORKLOADS; do
    for c in $CLIENT_COUNTS; do
        read -r d_tps d_lat <<<"${RESULT[$workload-$c-direct]}"
        read -r b_tps b_lat <<<"${RESULT[$workload-$c-pgbouncer]}"
        p_tps=- p_lat=-
        if ((HAVE_PROXY)); then
            read -r p_tps p_lat <<<"${RESULT[$workload-$c-proxy]}"
            printf -v p_tps '%.1f' "$p_tps"
            printf -v p_lat '%.3f' "$p_lat"
        fi
        printf '%-7s %4s %11.1f %8.3f %11.1f %8.3f %11s %8s %9s %9s %9s\n' "$workload" "$c" "$d_tps" "$d_lat" \
            "$b_tps" "$b_lat" "$p_tps" "$p_lat" "$(ratio "$p_tps" "$b_tps")" "$(ratio "$p_tps" "$d_tps")" \
            "$(ratio "$b_tps" "$d_tps")"
    done
done
fi

TICK=$(getconf CLK_TCK)
# utime+stime of one pid (+ cutime+cstime with "all"), in clock ticks.
ticks() { # pid [all]
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat "${2:-}"
    if [[ ${!#} == all ]]; then echo $((${12} + ${13} + ${14} + ${15})); else echo $((${12} + ${13})); fi
}
# PostgreSQL's CPU: the postmaster (with its exited children) and every child.
pg_ticks() {
    local pm total child
    pm=$(head -1 "$WORK/pg/postmaster.pid")
    total=$(ticks "$pm" all)
    for child in $(pgrep -P "$pm"); do
        total=$((total + $(ticks "$child")))
    done
    echo "$total"
}
us_per() { awk -v t="$1" -v hz="$TICK" -v n="$2" 'BEGIN { printf "%.1f", t / hz / n * 1e6 }'; }

if ((CPU_TXNS > 0)); then
    printf '\nCPU per -S transaction, %s transactions per client (load average before: %s)\n\n' \
        "$CPU_TXNS" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-10s %4s %14s %14s %10s\n' pooler cli "pooler us/txn" "postgres us/txn" tps
    for c in $CLIENT_COUNTS; do
        jobs=2
        ((c < 2)) && jobs=1
        for target in pgbouncer proxy; do
            [[ $target == proxy ]] && ((!HAVE_PROXY)) && continue
            if [[ $target == proxy ]]; then pid=$PROXY_PID; else pid=$(cat "$WORK/pgbouncer.pid"); fi
            out="$WORK/cpu-$c-$target.log"
            before=$(ticks "$pid")
            pg_before=$(pg_ticks)
            pgb "$(port_of "$target")" -c "$c" -j "$jobs" -t "$CPU_TXNS" -S >"$out" 2>&1 || { cat "$out" >&2; continue; }
            sleep 0.2
            after=$(ticks "$pid")
            pg_after=$(pg_ticks)
            read -r tps _ < <(parse <"$out")
            n=$((c * CPU_TXNS))
            printf '%-10s %4s %14s %14s %10.1f\n' "$target" "$c" "$(us_per $((after - before)) "$n")" \
                "$(us_per $((pg_after - pg_before)) "$n")" "$tps"
        done
    done
fi

# RSS (MB) of a process, from /proc.
rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# Opens $IDLE idle clients against a port, prints the RSS of pid $2 while
# they are held, then lets them go.
idle_rss() { # port pid name
    local port=$1 pid=$2 name=$3 before after out="$WORK/idle-$3.out"
    before=$(rss_mb "$pid")
    python3 "$ROOT/bench/idle_clients.py" "$port" "$IDLE" 8 >"$out" 2>"$WORK/idle-$name.err" &
    local py=$!
    for _ in $(seq 600); do
        grep -q '^READY' "$out" 2>/dev/null && break
        kill -0 "$py" 2>/dev/null || break
        sleep 0.1
    done
    sleep 1
    after=$(rss_mb "$pid")
    local ready
    ready=$(grep '^READY' "$out" || echo "READY 0 $IDLE")
    wait "$py" || true
    read -r _ ok failed <<<"$ready"
    printf '%-10s RSS %7s MB before, %7s MB with %s idle clients (%s handshakes failed)\n' \
        "$name" "$before" "$after" "$ok" "$failed"
    [[ $failed -eq 0 ]] || head -n 3 "$WORK/idle-$name.err" >&2
}

((IDLE > 0)) || exit 0
printf '\nMemory with %s idle client connections:\n' "$IDLE"
idle_rss "$PGB_PORT" "$(cat "$WORK/pgbouncer.pid")" pgbouncer
((HAVE_PROXY)) && idle_rss "$PX_PORT" "$PROXY_PID" proxy
exit 0
