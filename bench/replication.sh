#!/usr/bin/env bash
# replication: pgbench TPC-B on rustydb with one replica against PostgreSQL 15
# with one streaming replica, in one run (issue 3, section Benchmark).
#
# Servers, each with its data dir under one temp dir (same filesystem), on
# loopback, fsync on everywhere; all are started and initialised first, then
# the runs go one at a time (the other servers idle), paired so that each
# rustydb configuration runs right next to its PostgreSQL counterpart:
#   standalone  one rustydb node (no replica).
#   replicated  rustydb primary (--commit-mode async) + one replica started with
#               --follow PRIMARY_PGWIRE, in async, semi-sync and sync (num_sync
#               1) modes, switched live with POST /replication/mode
#               (SWITCH=restart restarts the primary with --commit-mode X
#               instead). Before each run the replica must have caught up (its
#               GET /status lsn_number >= the primary's). During async runs GET
#               /replication is polled every 100 ms for replicas[0].lag_ms and
#               lag_records. At the end the replica's pgbench tables must equal
#               the primary's.
#   postgres    a standalone PostgreSQL 15, and a PostgreSQL 15 primary with a
#               streaming replica from `pg_basebackup -R -X stream -C -S` (a
#               physical slot), synchronous_standby_names='*' and
#               synchronous_commit = on, local, off (ALTER SYSTEM + reload).
# Every configuration runs ROUNDS times (round-robin); with more than one round
# the table shows the median and the range. Prints TPS and mean latency per
# configuration, the ratios rustydb/PostgreSQL and the async replication lag
# percentiles (goal p99 < 100 ms).
#
# Environment (defaults in brackets):
#   SCALE [10]  CLIENTS [8]  JOBS [2]  DURATION [30] (seconds per run)
#   ROUNDS [1]            runs per configuration (a shared machine: use 3)
#   PARTS [standalone,replicated,postgres]   which servers to run
#   PG_MODES ["on local off"]                synchronous_commit values for PG
#   RUSTYDB_MODES ["sync semi-sync async"]   rustydb commit modes run
#                         (e.g. RUSTYDB_MODES=sync PG_MODES=on: the sync goal only)
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
ROUNDS=${ROUNDS:-1}
PARTS=${PARTS:-standalone,replicated,postgres}
PG_MODES=${PG_MODES:-on local off}
RUSTYDB_MODES=${RUSTYDB_MODES:-sync semi-sync async}
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

declare -A RESULT=()  # label -> "tps latency_ms busy%" lines, one per round
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

# TPC-B for DURATION seconds; appends the result to the label's lines.
run_tpcb() { # label port [logfile to tail on failure...]
    local label=$1 port=$2 out="$WORK/run-${1// /_}-$ROUND.log" busy r
    shift 2
    busy=$(busy_cpu)
    log "$label (round $ROUND): pgbench -c $CLIENTS -j $JOBS -T $DURATION"
    if ! pgb_t $((DURATION + 120)) "$port" -c "$CLIENTS" -j "$JOBS" -T "$DURATION" >"$out" 2>&1; then
        die "pgbench on $label" "$out" "$@"
    fi
    r=$(parse <"$out") || die "no result from pgbench on $label" "$out" "$@"
    RESULT[$label]+="$r $busy"$'\n'
    log "$label: ${r% *} tps, ${r#* } ms (machine busy before: $busy %)"
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

# "sum count" of a Prometheus histogram on a node's GET /metrics ("0 0" if absent).
histo() { # node metric-name
    api "$1" /metrics 2>/dev/null | awk -v m="$2" '
        $1 == m "_sum" { s = $2 } $1 == m "_count" { c = $2 }
        END { printf "%s %s\n", s + 0, c + 0 }'
}

# Mean in ms of a histogram's observations between two "sum count" readings.
histo_mean_ms() { # before after
    awk -v b="$1" -v a="$2" 'BEGIN { split(b, x, " "); split(a, y, " "); n = y[2] - x[2]
        if (n > 0) printf "%.3f ms over %d", 1000 * (y[1] - x[1]) / n, n; else printf "n/a" }'
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
lag_report() { # samples-file
    local file=$1 n none ms recs
    n=$(jq -R 'fromjson? | select(type == "object")' "$file" 2>/dev/null | jq -s length)
    none=$(jq -R 'fromjson? | select(type == "object") | select(((.replicas // []) | length) == 0)' "$file" | jq -s length)
    ms=$(jq -R -r 'fromjson? | .replicas[0]?.lag_ms | numbers' "$file")
    recs=$(jq -R -r 'fromjson? | .replicas[0]?.lag_records | numbers' "$file")
    LAG_P50=$(pctl 50 <<<"$ms")
    LAG_P99=$(pctl 99 <<<"$ms")
    NOTES+=("async lag, GET /replication polled every 100 ms during the async run(s): $n samples ($none without a replica)")
    NOTES+=("  replicas[0].lag_ms:      p50 $LAG_P50  p99 $LAG_P99  max $(pctl 100 <<<"$ms")")
    NOTES+=("  replicas[0].lag_records: p50 $(pctl 50 <<<"$recs")  p99 $(pctl 99 <<<"$recs")  max $(pctl 100 <<<"$recs")")
    NOTES+=("  node-reported at the end of each async run: lag_ms_p50 ${NODE_P50[*]:-n/a}  lag_ms_p99 ${NODE_P99[*]:-n/a}")
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

# ------------------------------------------------------------------ setup ---

CONFIGS=()  # run order within a round

if has_part standalone; then
    start_node standalone
    init_pgbench "rustydb standalone" "${NODE_PORT[standalone]}" "$WORK/standalone.log"
    CONFIGS+=("rustydb standalone")
fi

if has_part postgres; then
    PGS_DIR=$WORK/pg-solo
    PGP_DIR=$WORK/pg-primary
    PGR_DIR=$WORK/pg-replica
    free_port PGS
    free_port PGP
    free_port PGR
    log "PostgreSQL standalone: initdb + start on port $PGS"
    pg_initdb "$PGS_DIR"
    PG_DIRS+=("$PGS_DIR")
    pg_start "$PGS_DIR" "$PGS"
    wait_ready "$PGS" "PostgreSQL standalone" || die "PostgreSQL standalone not ready" "$PGS_DIR.log"
    init_pgbench "postgres standalone" "$PGS" "$PGS_DIR.log"
    CONFIGS+=("postgres standalone")
fi

if has_part replicated; then
    free_port REPL_PORT
    PRIMARY_ARGS=(--node-name primary --replication-listen "127.0.0.1:$REPL_PORT")
    start_node primary "${PRIMARY_ARGS[@]}" --commit-mode async
    start_node replica --node-name replica --follow "127.0.0.1:${NODE_PORT[primary]}"
    wait_attached
    init_pgbench "rustydb primary" "${NODE_PORT[primary]}" "$WORK/primary.log" "$WORK/replica.log"
    wait_caught_up "after pgbench -i"
    CURRENT_MODE=async
    [[ " $RUSTYDB_MODES " == *" sync "* ]] && CONFIGS+=("rustydb sync")
fi

if has_part postgres; then
    log "PostgreSQL primary: initdb + start on port $PGP"
    pg_initdb "$PGP_DIR"
    PG_DIRS+=("$PGP_DIR")
    pg_start "$PGP_DIR" "$PGP"
    wait_ready "$PGP" "PostgreSQL primary" || die "PostgreSQL primary not ready" "$PGP_DIR.log"
    init_pgbench "postgres primary" "$PGP" "$PGP_DIR.log"
    log "PostgreSQL replica: pg_basebackup -R -X stream -C -S bench_replica, start on port $PGR"
    as_pg timeout 900 pg_basebackup -h 127.0.0.1 -p "$PGP" -U postgres -D "$PGR_DIR" \
        -R -X stream -c fast -C -S bench_replica >"$WORK/basebackup.log" 2>&1 ||
        die "pg_basebackup" "$WORK/basebackup.log" "$PGP_DIR.log"
    PG_DIRS+=("$PGR_DIR")
    pg_start "$PGR_DIR" "$PGR"
    wait_ready "$PGR" "PostgreSQL replica" || die "PostgreSQL replica not ready" "$PGR_DIR.log"
    q "$PGP" "alter system set synchronous_standby_names = '*'" >/dev/null
    q "$PGP" "select pg_reload_conf()" >/dev/null
    [[ " $PG_MODES " == *" on "* ]] && CONFIGS+=("postgres sync=on")
fi

if has_part replicated; then
    for mode in semi-sync async; do
        [[ " $RUSTYDB_MODES " == *" $mode "* ]] && CONFIGS+=("rustydb $mode")
    done
fi
if has_part postgres; then
    for sc in $PG_MODES; do
        [[ $sc == on ]] || CONFIGS+=("postgres sync=$sc")
    done
fi

# Switches the rustydb primary to a commit mode and waits for the replica.
prepare_rustydb() { # commit-mode
    [[ $CURRENT_MODE == "$1" ]] || set_mode "$1"
    CURRENT_MODE=$1
    wait_attached
    wait_caught_up "before $1"
}

# Sets synchronous_commit on the PostgreSQL primary and waits until the
# standby is the synchronous one and has replayed what the primary wrote.
prepare_postgres() { # synchronous_commit value
    local sc=$1 state="" target ok="" deadline
    q "$PGP" "alter system set synchronous_commit = '$sc'" >/dev/null
    q "$PGP" "select pg_reload_conf()" >/dev/null
    # Reload is asynchronous: wait until new sessions see both settings.
    deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)); do
        state=$(q "$PGP" "select current_setting('synchronous_commit') || ' ' || current_setting('synchronous_standby_names')
            || ' ' || coalesce((select state || '/' || sync_state from pg_stat_replication limit 1), 'none')") || state=""
        if [[ $state == "$sc * streaming/sync" ]]; then ok=1; break; fi
        sleep 0.1
    done
    [[ -n $ok ]] || die "PostgreSQL: expected '$sc * streaming/sync', got '$state'" "$PGP_DIR.log" "$PGR_DIR.log"
    target=$(q "$PGP" "select pg_current_wal_lsn()")
    deadline=$((SECONDS + CATCHUP_TIMEOUT))
    while ((SECONDS < deadline)); do
        [[ $(q "$PGR" "select pg_last_wal_replay_lsn() >= '$target'::pg_lsn") == t ]] && return 0
        sleep 0.2
    done
    die "PostgreSQL replica not caught up to $target within ${CATCHUP_TIMEOUT} s" "$PGP_DIR.log" "$PGR_DIR.log"
}

# ------------------------------------------------------------------- runs ---

NODE_P50=()
NODE_P99=()
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    for label in "${CONFIGS[@]}"; do
        case $label in
        "rustydb standalone")
            run_tpcb "$label" "${NODE_PORT[standalone]}" "$WORK/standalone.log"
            ;;
        "postgres standalone")
            run_tpcb "$label" "$PGS" "$PGS_DIR.log"
            ;;
        "rustydb "*)
            mode=${label#rustydb }
            prepare_rustydb "$mode"
            [[ $mode == async ]] && start_lag_poller "$WORK/lag.jsonl"
            events_before=$(field primary /replication '[.events[]? | select(tostring | test("degrad"; "i"))] | length')
            wait_before=$(histo primary rustydb_replication_sync_wait_seconds)
            lag_before=$(histo primary rustydb_replication_lag_seconds)
            run_tpcb "$label" "${NODE_PORT[primary]}" "$WORK/primary.log" "$WORK/replica.log"
            # Latency breakdown: the wait after the local fsync, and commit
            # (record built, before the local fsync) to the replica's ack.
            NOTES+=("rustydb $mode run $ROUND: mean wait for the replica after the local fsync $(histo_mean_ms "$wait_before" "$(histo primary rustydb_replication_sync_wait_seconds)") commits; mean commit-to-replica-ack $(histo_mean_ms "$lag_before" "$(histo primary rustydb_replication_lag_seconds)") acks")
            if [[ $mode == async ]]; then
                stop_lag_poller
                doc=$(api primary /replication || echo '{}')
                NODE_P50+=("$(jq -r '.lag_ms_p50 // "n/a"' <<<"$doc")")
                NODE_P99+=("$(jq -r '.lag_ms_p99 // "n/a"' <<<"$doc")")
            fi
            if [[ $mode == semi-sync ]]; then
                events_after=$(field primary /replication '[.events[]? | select(tostring | test("degrad"; "i"))] | length')
                NOTES+=("semi-sync run $ROUND: degraded at the end: $(field primary /replication ".degraded | tostring"); events mentioning 'degrad' during the run: $((${events_after:-0} - ${events_before:-0}))")
            fi
            ;;
        "postgres sync="*)
            prepare_postgres "${label#postgres sync=}"
            run_tpcb "$label" "$PGP" "$PGP_DIR.log" "$PGR_DIR.log"
            ;;
        esac
    done
done

if has_part replicated; then
    [[ " $RUSTYDB_MODES " == *" async "* ]] && lag_report "$WORK/lag.jsonl"
    wait_caught_up "after the runs"
    compare_tables
fi

# ------------------------------------------------------------------ report ---

printf '\n%s, %s cores, %s; scale %s, %s clients, %s threads, %s s per run, fsync on everywhere\n' \
    "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$(postgres --version)" "$SCALE" "$CLIENTS" "$JOBS" "$DURATION"
if has_part standalone || has_part replicated; then
    printf 'rustydb: %s (built %s; worktree at %s)\n' "$BIN" "$(date -u -r "$BIN" '+%Y-%m-%d %H:%M UTC')" \
        "$(git -C "$ROOT" log -1 --format='%h' 2>/dev/null || echo '?')"
fi
# "median_tps median_latency min_tps max_tps median_busy runs" of a label.
summary() { # label
    printf '%s' "${RESULT[$1]}" | awk '
        function median(a, n,   i, j, t) {
            for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
            return (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2)
        }
        NF >= 2 { n++; tps[n] = $1; lat[n] = $2; busy[n] = $3
                  if (n == 1 || $1 < lo) lo = $1; if (n == 1 || $1 > hi) hi = $1 }
        END { if (n) printf "%s %s %s %s %s %d\n", median(tps, n), median(lat, n), lo, hi, median(busy, n), n }'
}

printf '\n%-28s %10s %11s %20s %9s\n' configuration TPS "latency ms" "TPS range (runs)" "busy %"
for label in "rustydb standalone" "rustydb async" "rustydb semi-sync" "rustydb sync" \
    "postgres standalone" "postgres sync=on" "postgres sync=local" "postgres sync=off"; do
    [[ -n ${RESULT[$label]:-} ]] || continue
    read -r tps lat lo hi busy n <<<"$(summary "$label")"
    printf '%-28s %10.1f %11.3f %20s %9s\n' "$label" "$tps" "$lat" "$(printf '%.0f-%.0f (%d)' "$lo" "$hi" "$n")" "$busy"
done
printf '(TPS and latency: medians over %s round(s); busy %%: machine CPU %% in the 2 s before a run,\n' "$ROUNDS"
printf ' when no client runs: other users of the machine plus background work of idle servers)\n'

ratio_line() { # description rustydb-label postgres-label [goal]
    [[ -n ${RESULT[$2]:-} && -n ${RESULT[$3]:-} ]] || return 0
    local a b r
    a=$(summary "$2")
    b=$(summary "$3")
    r=$(awk -v a="${a%% *}" -v b="${b%% *}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
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
