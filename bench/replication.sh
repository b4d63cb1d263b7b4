#!/usr/bin/env bash
# replication: pgbench TPC-B on rustydb with one replica against PostgreSQL 15
# with one streaming replica, in one run (issue 3, section Benchmark).
#
# Parts, one server group at a time (the others are stopped), every data dir
# under one temp dir (same filesystem), loopback only, fsync on everywhere:
#   standalone  one rustydb node (no replica): pgbench -i, then TPC-B.
#   replicated  rustydb primary (--commit-mode async) + one replica started with
#               --follow PRIMARY_PGWIRE; pgbench -i on the primary; then TPC-B in
#               async, semi-sync and sync (num_sync 1) modes, switched live with
#               POST /replication/mode (SWITCH=restart restarts the primary with
#               --commit-mode X instead). Before each run the replica must have
#               caught up (its GET /status lsn_number >= the primary's). During
#               the async run GET /replication is polled every 100 ms for
#               replicas[0].lag_ms / lag_records. At the end the replica's
#               pgbench tables must equal the primary's.
#   postgres    PostgreSQL 15 primary; pgbench -i; TPC-B standalone; then a
#               streaming replica from `pg_basebackup -R -X stream -C -S` (a
#               physical slot), synchronous_standby_names='*' and TPC-B with
#               synchronous_commit = on, local, off (ALTER SYSTEM + reload).
# Prints TPS and mean latency per configuration, the ratios rustydb/PostgreSQL
# and the async replication lag percentiles (goal p99 < 100 ms).
#
# Environment (defaults in brackets):
#   SCALE [10]  CLIENTS [8]  JOBS [2]  DURATION [30] (seconds per run)
#   PARTS [standalone,replicated,postgres]   which parts to run
#   PG_MODES ["on local off"]                synchronous_commit values for PG
#   SWITCH [api]          api | restart: how the rustydb commit mode changes
#   CATCHUP_TIMEOUT [300] seconds a replica may take to catch up
#   BENCH_DIR             parent of the temp dir [${TMPDIR:-/tmp}]
#   KEEP [0]              1 = keep the temp dir (logs, data) after the run
#   RUSTYDB_BIN           as in bench/pgbench.sh
# Quick smoke run: DURATION=5 SCALE=2 bench/replication.sh
set -euo pipefail

SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-8}
JOBS=${JOBS:-2}
DURATION=${DURATION:-30}
PARTS=${PARTS:-standalone,replicated,postgres}
PG_MODES=${PG_MODES:-on local off}
SWITCH=${SWITCH:-api}
CATCHUP_TIMEOUT=${CATCHUP_TIMEOUT:-300}
KEEP=${KEEP:-0}
LAG_INTERVAL=0.1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_TAG=replbench
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

has_part() { [[ ",$PARTS," == *",$1,"* ]]; }
[[ $SWITCH == api || $SWITCH == restart ]] || die "SWITCH must be api or restart"

if has_part standalone || has_part replicated; then find_bin "$ROOT"; fi

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/rustydb-repl.XXXXXX")
[[ $(id -u) -eq 0 ]] && chown postgres: "$WORK"
declare -A NODE_PID=() NODE_PORT=() NODE_ADMIN=()
PG_DIRS=()     # started PostgreSQL data dirs, stopped in reverse order
POLLER_PID=""

cleanup() {
    set +e
    stop_pid "$POLLER_PID"
    local n i
    for n in "${!NODE_PID[@]}"; do stop_pid "${NODE_PID[$n]}"; done
    for ((i = ${#PG_DIRS[@]} - 1; i >= 0; i--)); do pg_stop "${PG_DIRS[$i]}"; done
    if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

declare -A RESULT=()  # label -> "tps latency_ms"
NOTES=()              # lines printed under the table
FAILED_CHECKS=0

# pgbench bounded in time: -T alone does not end a run whose commit hangs.
pgb_t() { # seconds port args...
    local t=$1 port=$2
    shift 2
    timeout "$t" pgbench -h 127.0.0.1 -p "$port" -U postgres "$@" postgres
}

# Busy CPU % of the whole machine over 2 s, from /proc/stat. Taken right
# before a run, while this script's servers idle: what other work (other
# users of a shared machine) is taking from the benchmark.
busy_cpu() {
    local a b
    a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
    sleep 2
    b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        busy = y[1] - x[1]; idle = y[2] - x[2]
        printf "%.0f", (busy + idle > 0 ? 100 * busy / (busy + idle) : 0) }'
}

declare -A BUSY=()  # label -> busy CPU % just before the run

# TPC-B for DURATION seconds; stores the result under the label.
run_tpcb() { # label port [logfile to tail on failure...]
    local label=$1 port=$2 out="$WORK/run-${1// /_}.log"
    shift 2
    BUSY[$label]=$(busy_cpu)
    log "$label: pgbench -c $CLIENTS -j $JOBS -T $DURATION"
    if ! pgb_t $((DURATION + 120)) "$port" -c "$CLIENTS" -j "$JOBS" -T "$DURATION" >"$out" 2>&1; then
        die "pgbench on $label" "$out" "$@"
    fi
    RESULT[$label]=$(parse <"$out") || die "no result from pgbench on $label" "$out" "$@"
    log "$label: ${RESULT[$label]% *} tps, ${RESULT[$label]#* } ms"
}

init_pgbench() { # label port [logfile...]
    local label=$1 port=$2
    shift 2
    log "$label: pgbench -i -s $SCALE"
    pgb_t 3600 "$port" -i -s "$SCALE" -q >"$WORK/init-${label// /_}.log" 2>&1 ||
        die "pgbench -i on $label" "$WORK/init-${label// /_}.log" "$@"
}

# ---------------------------------------------------------------- rustydb ---

# GET on a node's admin API; the body on stdout.
api() { # node path
    curl -sf -m 5 "http://127.0.0.1:${NODE_ADMIN[$1]}$2"
}

# A numeric or string field of a node's admin document, "" when unavailable.
field() { # node path jq-filter
    local v
    v=$(api "$1" "$2" | jq -r "$3 // empty" 2>/dev/null) || v=""
    printf '%s' "$v"
}

node_alive() { # node
    [[ -n ${NODE_PID[$1]:-} ]] && kill -0 "${NODE_PID[$1]}" 2>/dev/null
}

# Dies with every node log when one of the named nodes has exited.
check_alive() { # node...
    local n
    for n in "$@"; do
        node_alive "$n" || die "rustydb $n exited" "$WORK"/*.log
    done
}

# Starts node NAME on data dir $WORK/NAME with ports chosen once per name (a
# restart keeps them); waits for pgwire and the admin API (30 s each).
start_node() { # name [node args...]
    local name=$1 p
    shift
    if [[ -z ${NODE_PORT[$name]:-} ]]; then
        free_port p
        NODE_PORT[$name]=$p
        free_port p
        NODE_ADMIN[$name]=$p
    fi
    log "rustydb $name: pgwire ${NODE_PORT[$name]}, admin ${NODE_ADMIN[$name]} $*"
    "$BIN" node --data-dir "$WORK/$name" --listen "127.0.0.1:${NODE_PORT[$name]}" \
        --admin-listen "127.0.0.1:${NODE_ADMIN[$name]}" "$@" >>"$WORK/$name.log" 2>&1 &
    NODE_PID[$name]=$!
    wait_ready "${NODE_PORT[$name]}" "rustydb $name" "${NODE_PID[$name]}" ||
        die "rustydb $name did not start" "$WORK/$name.log"
    local deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)); do
        api "$name" /status >/dev/null 2>&1 && return 0
        check_alive "$name"
        sleep 0.1
    done
    die "rustydb $name: admin API on port ${NODE_ADMIN[$name]} did not answer within 30 s" "$WORK/$name.log"
}

stop_node() { # name
    stop_pid "${NODE_PID[$1]:-}"
    unset "NODE_PID[$1]"
}

# Waits until the primary lists a replica whose state is streaming (60 s).
wait_attached() {
    local doc="" deadline=$((SECONDS + 60))
    while ((SECONDS < deadline)); do
        doc=$(api primary /replication 2>/dev/null) || doc=""
        if [[ -n $doc ]] && jq -e '(.replicas // []) | length >= 1 and
                ((.[0].state // "streaming") == "streaming")' <<<"$doc" >/dev/null 2>&1; then
            return 0
        fi
        check_alive primary replica
        sleep 0.1
    done
    die "the primary lists no streaming replica after 60 s; GET /replication: ${doc:-<no answer>}; replica GET /status: $(api replica /status)" \
        "$WORK/primary.log" "$WORK/replica.log"
}

# Waits until the replica has applied everything the primary had when called:
# replica lsn_number >= the primary's lsn_number of that moment.
wait_caught_up() { # what
    local target r="" deadline=$((SECONDS + CATCHUP_TIMEOUT)) t0=$SECONDS
    target=$(field primary /status .lsn_number)
    [[ $target =~ ^[0-9]+$ ]] || die "primary GET /status has no lsn_number: $(api primary /status)" "$WORK/primary.log"
    while :; do
        r=$(field replica /status .lsn_number)
        if [[ $r =~ ^[0-9]+$ ]] && ((r >= target)); then
            log "replica caught up ($1): lsn $r >= $target after $((SECONDS - t0)) s"
            return 0
        fi
        check_alive primary replica
        ((SECONDS < deadline)) || die "replica not caught up ($1) within ${CATCHUP_TIMEOUT} s: primary lsn $target, replica lsn ${r:-?}; replica GET /status: $(api replica /status)" \
            "$WORK/primary.log" "$WORK/replica.log"
        sleep 0.2
    done
}

set_mode() { # commit-mode
    local body got
    if [[ $SWITCH == restart ]]; then
        log "restarting the primary with --commit-mode $1"
        stop_node primary
        start_node primary "${PRIMARY_ARGS[@]}" --commit-mode "$1" --num-sync 1
    else
        body=$(printf '{"commit_mode":"%s","num_sync":1}' "$1")
        log "POST /replication/mode $body"
        curl -sf -m 10 -X POST -H 'content-type: application/json' -d "$body" \
            "http://127.0.0.1:${NODE_ADMIN[primary]}/replication/mode" >/dev/null ||
            die "POST /replication/mode $body failed: $(curl -s -m 10 -X POST -H 'content-type: application/json' -d "$body" "http://127.0.0.1:${NODE_ADMIN[primary]}/replication/mode")" "$WORK/primary.log"
    fi
    got=$(field primary /replication .commit_mode)
    [[ $got == "$1" ]] || die "primary reports commit_mode '$got' after switching to $1" "$WORK/primary.log"
}

# Background: GET /replication every LAG_INTERVAL, one JSON document a line.
start_lag_poller() { # file
    local url="http://127.0.0.1:${NODE_ADMIN[primary]}/replication" file=$1
    (
        while :; do
            if doc=$(curl -sf -m 1 "$url"); then printf '%s\n' "$doc" >>"$file"; fi
            sleep "$LAG_INTERVAL"
        done
    ) &
    POLLER_PID=$!
}

stop_lag_poller() {
    stop_pid "$POLLER_PID"
    POLLER_PID=""
}

# Nearest-rank percentile of the numbers on stdin; "n/a" without numbers.
pctl() { # p
    sort -n | awk -v p="$1" '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "n/a"; exit }
            i = int(p * NR / 100); if (i < p * NR / 100) i++; if (i < 1) i = 1
            print v[i]
        }'
}

# Summarises the polled lag samples into NOTES and LAG_P99.
lag_report() { # samples-file final-/replication-doc
    local file=$1 final=$2 n none ms recs
    n=$(jq -R 'fromjson? | select(type == "object")' "$file" 2>/dev/null | jq -s length)
    none=$(jq -R 'fromjson? | select(type == "object") | select(((.replicas // []) | length) == 0)' "$file" | jq -s length)
    ms=$(jq -R -r 'fromjson? | .replicas[0]?.lag_ms | numbers' "$file")
    recs=$(jq -R -r 'fromjson? | .replicas[0]?.lag_records | numbers' "$file")
    LAG_P50=$(pctl 50 <<<"$ms")
    LAG_P99=$(pctl 99 <<<"$ms")
    NOTES+=("async lag, GET /replication polled every 100 ms during the run: $n samples ($none without a replica)")
    NOTES+=("  replicas[0].lag_ms:      p50 $LAG_P50  p99 $LAG_P99  max $(pctl 100 <<<"$ms")")
    NOTES+=("  replicas[0].lag_records: p50 $(pctl 50 <<<"$recs")  p99 $(pctl 99 <<<"$recs")  max $(pctl 100 <<<"$recs")")
    NOTES+=("  node-reported at the end: lag_ms_p50 $(jq -r '.lag_ms_p50 // "n/a"' <<<"$final")  lag_ms_p99 $(jq -r '.lag_ms_p99 // "n/a"' <<<"$final")")
    if [[ $LAG_P99 =~ ^[0-9.]+$ ]]; then
        if awk -v x="$LAG_P99" 'BEGIN { exit !(x < 100) }'; then
            NOTES+=("  goal p99 < 100 ms: met")
        else
            NOTES+=("  goal p99 < 100 ms: NOT met")
        fi
    fi
}

# The pgbench tables on the replica must equal the primary's once caught up.
compare_tables() {
    local sql="select (select count(*) from pgbench_accounts), (select sum(abalance) from pgbench_accounts),
        (select sum(bbalance) from pgbench_branches), (select sum(tbalance) from pgbench_tellers),
        (select count(*) from pgbench_history), (select coalesce(sum(delta), 0) from pgbench_history)"
    local a b
    a=$(timeout 300 psql -X -qAt -h 127.0.0.1 -p "${NODE_PORT[primary]}" -U postgres -d postgres -c "$sql" 2>&1) || a="error: $a"
    b=$(timeout 300 psql -X -qAt -h 127.0.0.1 -p "${NODE_PORT[replica]}" -U postgres -d postgres -c "$sql" 2>&1) || b="error: $b"
    if [[ $a == "$b" && $a != error* ]]; then
        NOTES+=("replica content equals the primary's (counts and balance sums of the 4 pgbench tables: $a)")
    else
        NOTES+=("MISMATCH: primary [$a] vs replica [$b]")
        FAILED_CHECKS=$((FAILED_CHECKS + 1))
    fi
}

if has_part standalone; then
    start_node standalone
    init_pgbench "rustydb standalone" "${NODE_PORT[standalone]}" "$WORK/standalone.log"
    run_tpcb "rustydb standalone" "${NODE_PORT[standalone]}" "$WORK/standalone.log"
    stop_node standalone
    rm -rf "$WORK/standalone"
fi

if has_part replicated; then
    free_port REPL_PORT
    PRIMARY_ARGS=(--node-name primary --replication-listen "127.0.0.1:$REPL_PORT")
    start_node primary "${PRIMARY_ARGS[@]}" --commit-mode async
    start_node replica --node-name replica --follow "127.0.0.1:${NODE_PORT[primary]}"
    wait_attached
    init_pgbench "rustydb primary" "${NODE_PORT[primary]}" "$WORK/primary.log" "$WORK/replica.log"
    wait_caught_up "after pgbench -i"
    for mode in async semi-sync sync; do
        label="rustydb $mode"
        [[ $mode == sync ]] && label="rustydb sync"
        set_mode "$mode"
        wait_attached
        wait_caught_up "before $mode"
        events_before=$(field primary /replication '[.events[]? | select(tostring | test("degrad"; "i"))] | length')
        [[ $mode == async ]] && start_lag_poller "$WORK/lag.jsonl"
        run_tpcb "$label" "${NODE_PORT[primary]}" "$WORK/primary.log" "$WORK/replica.log"
        if [[ $mode == async ]]; then
            stop_lag_poller
            lag_report "$WORK/lag.jsonl" "$(api primary /replication || echo '{}')"
        fi
        if [[ $mode == semi-sync ]]; then
            events_after=$(field primary /replication '[.events[]? | select(tostring | test("degrad"; "i"))] | length')
            NOTES+=("semi-sync run: degraded now: $(field primary /replication ".degraded | tostring"); events mentioning 'degrad' during the run: $((${events_after:-0} - ${events_before:-0}))")
        fi
    done
    wait_caught_up "after the runs"
    compare_tables
    stop_node replica
    stop_node primary
    rm -rf "$WORK/primary" "$WORK/replica"
fi

if has_part postgres; then
    PGP_DIR=$WORK/pg-primary
    PGR_DIR=$WORK/pg-replica
    free_port PGP
    free_port PGR
    log "PostgreSQL primary: initdb + start on port $PGP"
    pg_initdb "$PGP_DIR"
    PG_DIRS+=("$PGP_DIR")
    pg_start "$PGP_DIR" "$PGP"
    wait_ready "$PGP" "PostgreSQL primary" || die "PostgreSQL primary not ready" "$PGP_DIR.log"
    init_pgbench "postgres primary" "$PGP" "$PGP_DIR.log"
    run_tpcb "postgres standalone" "$PGP" "$PGP_DIR.log"

    log "PostgreSQL replica: pg_basebackup -R -X stream -C -S bench_replica, start on port $PGR"
    as_pg timeout 900 pg_basebackup -h 127.0.0.1 -p "$PGP" -U postgres -D "$PGR_DIR" \
        -R -X stream -c fast -C -S bench_replica >"$WORK/basebackup.log" 2>&1 ||
        die "pg_basebackup" "$WORK/basebackup.log" "$PGP_DIR.log"
    PG_DIRS+=("$PGR_DIR")
    pg_start "$PGR_DIR" "$PGR"
    wait_ready "$PGR" "PostgreSQL replica" || die "PostgreSQL replica not ready" "$PGR_DIR.log"
    q "$PGP" "alter system set synchronous_standby_names = '*'" >/dev/null
    q "$PGP" "select pg_reload_conf()" >/dev/null

    for sc in $PG_MODES; do
        q "$PGP" "alter system set synchronous_commit = '$sc'" >/dev/null
        q "$PGP" "select pg_reload_conf()" >/dev/null
        # Reload is asynchronous: wait until new sessions see both settings
        # and the standby streams as the synchronous one.
        ok=""
        deadline=$((SECONDS + 30))
        while ((SECONDS < deadline)); do
            state=$(q "$PGP" "select current_setting('synchronous_commit') || ' ' || current_setting('synchronous_standby_names')
                || ' ' || coalesce((select state || '/' || sync_state from pg_stat_replication limit 1), 'none')") || state=""
            if [[ $state == "$sc * streaming/sync" ]]; then ok=1; break; fi
            sleep 0.1
        done
        [[ -n $ok ]] || die "PostgreSQL: expected '$sc * streaming/sync', got '$state'" "$PGP_DIR.log" "$PGR_DIR.log"
        # Caught up: the replica replayed everything the primary had written.
        target=$(q "$PGP" "select pg_current_wal_lsn()")
        ok=""
        deadline=$((SECONDS + CATCHUP_TIMEOUT))
        while ((SECONDS < deadline)); do
            [[ $(q "$PGR" "select pg_last_wal_replay_lsn() >= '$target'::pg_lsn") == t ]] && { ok=1; break; }
            sleep 0.2
        done
        [[ -n $ok ]] || die "PostgreSQL replica not caught up to $target within ${CATCHUP_TIMEOUT} s" "$PGP_DIR.log" "$PGR_DIR.log"
        run_tpcb "postgres sync=$sc" "$PGP" "$PGP_DIR.log" "$PGR_DIR.log"
    done
fi

# ------------------------------------------------------------------ report ---

printf '\n%s, %s cores, %s; scale %s, %s clients, %s threads, %s s per run, fsync on everywhere\n' \
    "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$(postgres --version)" "$SCALE" "$CLIENTS" "$JOBS" "$DURATION"
if has_part standalone || has_part replicated; then
    printf 'rustydb: %s (built %s; worktree at %s)\n' "$BIN" "$(date -u -r "$BIN" '+%Y-%m-%d %H:%M UTC')" \
        "$(git -C "$ROOT" log -1 --format='%h' 2>/dev/null || echo '?')"
fi
printf '\n%-28s %12s %12s %14s\n' configuration TPS "latency ms" "busy before %"
for label in "rustydb standalone" "rustydb async" "rustydb semi-sync" "rustydb sync" \
    "postgres standalone" "postgres sync=on" "postgres sync=local" "postgres sync=off"; do
    [[ -n ${RESULT[$label]:-} ]] || continue
    read -r tps lat <<<"${RESULT[$label]}"
    printf '%-28s %12.1f %12.3f %14s\n' "$label" "$tps" "$lat" "${BUSY[$label]}"
done
printf '(busy before: machine CPU %% in the 2 s before the run, when no client runs: other users of the machine plus background work of the idle servers)\n'


ratio_line() { # description rustydb-label postgres-label [goal]
    [[ -n ${RESULT[$2]:-} && -n ${RESULT[$3]:-} ]] || return 0
    local a b r
    a=${RESULT[$2]% *}
    b=${RESULT[$3]% *}
    r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    printf '%-44s %6s%s\n' "$1" "$r" "${4:+  ($4)}"
}
RATIOS=$(
    ratio_line "sync (num_sync 1) / synchronous_commit=on" "rustydb sync" "postgres sync=on" "goal >= 1.00"
    ratio_line "semi-sync / synchronous_commit=on" "rustydb semi-sync" "postgres sync=on"
    ratio_line "async / synchronous_commit=off" "rustydb async" "postgres sync=off"
    ratio_line "async / synchronous_commit=local" "rustydb async" "postgres sync=local"
    ratio_line "standalone / standalone" "rustydb standalone" "postgres standalone"
)
[[ -z $RATIOS ]] || printf '\nratio rustydb TPS / PostgreSQL TPS\n%s\n' "$RATIOS"

if ((${#NOTES[@]} > 0)); then
    printf '\n'
    printf '%s\n' "${NOTES[@]}"
fi
((FAILED_CHECKS == 0)) || die "$FAILED_CHECKS check(s) failed (see above)"
