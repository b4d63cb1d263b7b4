#!/usr/bin/env bash
# logical: publication → subscription, RustyDB vs PostgreSQL 15, in one run
# (issue 7, section Benchmark).
#
# Two servers per system, each with its own data dir under one temp dir,
# loopback, fsync on:
#   rustydb   a publisher node and a subscriber node (separate "clusters").
#   postgres  two PostgreSQL 15 instances with wal_level = logical.
# On each publisher: `pgbench -i -s SCALE`, a marker table, and
#   CREATE PUBLICATION bench FOR TABLE pgbench_accounts, pgbench_history, marker
# On each subscriber: the same tables empty (pgbench -i -I dtp), then
#   CREATE SUBSCRIPTION bench ... WITH (copy_data = true)
# and the initial copy is timed (until pgbench_accounts is complete).
# Then, per system, one run of DURATION seconds of pgbench TPC-B on the
# publisher (CLIENTS/JOBS) while a probe inserts a marker row every 100 ms on
# the publisher (client clock after COMMIT returns) and polls the subscriber
# every ~5 ms for the highest marker visible: commit→visible latency p50/p99.
# Apply throughput = published row changes (1 accounts update + 1 history
# insert per TPC-B transaction, counted from pgbench_history on the
# publisher) / (time from load start until the subscriber's pgbench_history
# count equals the publisher's). The systems run one after the other (the
# other one stopped).
#
# Environment (defaults in brackets):
#   SCALE [1]  CLIENTS [8]  JOBS [2]  DURATION [30]
#   RATE [unset]   pgbench -R: the same offered load (tps) for both systems,
#                  so their latencies are compared at equal apply work (an
#                  unthrottled run gives each whatever tps its publisher
#                  reaches, often twice as many for RustyDB)
#   PARTS [rustydb,postgres]   which systems to run
#   CATCHUP_TIMEOUT [300]      seconds the subscriber may take to catch up
#   BENCH_DIR  parent of the temp dir [${TMPDIR:-/tmp}];  KEEP [0] keep it
#   RUSTYDB_BIN                the rustydb binary (else target/release)
# Needs python3 with psycopg (3) for the latency probe.
# Quick smoke run: DURATION=5 bench/logical.sh
set -euo pipefail

SCALE=${SCALE:-1}
CLIENTS=${CLIENTS:-8}
JOBS=${JOBS:-2}
DURATION=${DURATION:-30}
PARTS=${PARTS:-rustydb,postgres}
CATCHUP_TIMEOUT=${CATCHUP_TIMEOUT:-300}
KEEP=${KEEP:-0}
RATE=${RATE:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_TAG=logical
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

has_part() { [[ ",$PARTS," == *",$1,"* ]]; }
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
python3 -c 'import psycopg' 2>/dev/null || die "python3 with psycopg is needed for the latency probe"
if has_part rustydb; then find_bin "$ROOT"; fi

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/logical-bench.XXXXXX")
chmod 755 "$WORK"
[[ $(id -u) -eq 0 ]] && chown postgres "$WORK"
PIDS=()
PG_DIRS=()
cleanup() {
    local p d
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    for d in "${PG_DIRS[@]}"; do pg_stop "$d"; done
    if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

MARKER='CREATE TABLE marker (id bigint PRIMARY KEY, note text)'
declare -A RESULT

# The probe: marker inserts every 100 ms on the publisher, polling on the
# subscriber; prints "p50_ms p99_ms samples".
probe() { # pub_port sub_port seconds
    python3 - "$@" <<'PY'
import sys, threading, time
import psycopg

pub_port, sub_port, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
dsn = "host=127.0.0.1 user=postgres dbname=postgres port=%d"
pub = psycopg.connect(dsn % pub_port, autocommit=True)
sub = psycopg.connect(dsn % sub_port, autocommit=True)
start_id = (sub.execute("SELECT coalesce(max(id), 0) FROM marker").fetchone()[0] or 0)
start_id = max(start_id, pub.execute("SELECT coalesce(max(id), 0) FROM marker").fetchone()[0] or 0)
committed, visible = {}, {}
done = threading.Event()

def poll():
    seen = start_id
    while not done.is_set() or seen < max(committed or {start_id: 0}):
        row = sub.execute("SELECT coalesce(max(id), 0) FROM marker").fetchone()
        now = time.monotonic()
        top = int(row[0] or 0)
        for i in range(seen + 1, top + 1):
            visible[i] = now
        seen = max(seen, top)
        if done.is_set() and time.monotonic() > deadline:
            break
        time.sleep(0.005)

deadline = time.monotonic() + seconds + 120
t = threading.Thread(target=poll)
t.start()
i = start_id
end = time.monotonic() + seconds
while time.monotonic() < end:
    i += 1
    pub.execute("INSERT INTO marker VALUES (%s, 'probe')", (i,))
    committed[i] = time.monotonic()
    time.sleep(0.1)
done.set()
t.join()
lat = sorted((visible[k] - committed[k]) * 1000.0 for k in committed if k in visible)
if not lat:
    print("NaN NaN 0")
else:
    pct = lambda p: lat[min(len(lat) - 1, int(round(p * (len(lat) - 1))))]
    print("%.1f %.1f %d" % (pct(0.50), pct(0.99), len(lat)))
PY
}

count() { q "$1" "SELECT count(*) FROM $2"; }

# Saves the admin API's /metrics of a RustyDB node into a file.
scrape() { # admin_port file
    curl -sf "http://127.0.0.1:$1/metrics" >"$2" || : >"$2"
}

# Where the time goes (RustyDB only): the stage histograms' growth between
# two scrapes of each node, as p50/p99 per stage (interpolated within the
# histogram buckets). Publisher: commit → decoded by the stream (read) →
# handed to the HTTP body (sent). Subscriber: commit → read off the stream
# (received) → local apply transaction committed (applied); and the
# duration of one local apply transaction (apply_txn).
stages() { # pub_before pub_after sub_before sub_after
    python3 - "$@" <<'PY'
import re, sys
from collections import defaultdict

WANT = [
    ("rustydb_logical_stream_delay_seconds", "read", "publisher: commit -> decoded"),
    ("rustydb_logical_stream_delay_seconds", "sent", "publisher: commit -> sent"),
    ("rustydb_subscription_delay_seconds", "received", "subscriber: commit -> received"),
    ("rustydb_subscription_delay_seconds", "applied", "subscriber: commit -> applied"),
    ("rustydb_subscription_apply_seconds", None, "subscriber: one apply txn"),
]
LINE = re.compile(r'^(\w+)_bucket\{([^}]*)\} (\S+)$')

def load(path):
    out = defaultdict(dict)
    for line in open(path):
        m = LINE.match(line.strip())
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        le = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
        out[(m.group(1), labels.get("stage"))][le] = float(m.group(3))
    return out

def quantile(buckets, q):
    les = sorted(buckets)
    total = buckets[les[-1]]
    if total <= 0:
        return None
    rank, prev_le, prev_n = q * total, 0.0, 0.0
    for le in les:
        n = buckets[le]
        if n >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * ((rank - prev_n) / max(n - prev_n, 1e-9))
        prev_le, prev_n = le, n
    return les[-1]

pb, pa, sb, sa = (load(p) for p in sys.argv[1:5])
print("%-34s %9s %9s %9s %9s %8s" % ("stage", "p50 ms", "p99 ms", "p99.9 ms", "max <= ms", "count"))
for name, stage, title in WANT:
    before, after = (pb, pa) if "logical" in name else (sb, sa)
    a = after.get((name, stage), {})
    b = before.get((name, stage), {})
    delta = {le: n - b.get(le, 0.0) for le, n in a.items()}
    if not delta or max(delta.values()) <= 0:
        print("%-34s %9s %9s %9s %9s %8d" % (title, "-", "-", "-", "-", 0))
        continue
    total = max(delta.values())
    # The smallest bucket bound holding every observation.
    top = min(le for le, n in delta.items() if n >= total)
    p50, p99, p999 = (quantile(delta, q) * 1000 for q in (0.50, 0.99, 0.999))
    print("%-34s %9.1f %9.1f %9.1f %9s %8d" % (title, p50, p99, p999, "%g" % (top * 1000), total))
PY
}

# Waits until $3 on the subscriber equals the publisher's; prints seconds.
wait_equal() { # pub_port sub_port table timeout
    local want got deadline=$((SECONDS + $4))
    want=$(count "$1" "$3")
    while ((SECONDS < deadline)); do
        got=$(count "$2" "$3" 2>/dev/null || echo -1)
        [[ $got == "$want" ]] && return 0
        sleep 0.05
    done
    log "subscriber has $got rows of $3, publisher $want"
    return 1
}

# One measured run: load + probe, then catch-up. Fills RESULT[$name.*].
measure() { # name pub_port sub_port [pub_admin_port sub_admin_port]
    local name=$1 pp=$2 sp=$3 before after t0 t1 rows out
    log "$name: copying initial data"
    t0=$(date +%s.%N)
    wait_equal "$pp" "$sp" pgbench_accounts "$CATCHUP_TIMEOUT" || die "$name: initial copy did not finish" "$WORK"/*.log
    t1=$(date +%s.%N)
    RESULT[$name.copy]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    before=$(count "$pp" pgbench_history)
    if [[ -n ${4:-} ]]; then scrape "$4" "$WORK/$name.pub.before"; scrape "$5" "$WORK/$name.sub.before"; fi
    log "$name: pgbench -c $CLIENTS -j $JOBS -T $DURATION with the latency probe"
    probe "$pp" "$sp" "$DURATION" >"$WORK/$name.probe" &
    local probe_pid=$!
    t0=$(date +%s.%N)
    out=$(pgb "$pp" -c "$CLIENTS" -j "$JOBS" -T "$DURATION" ${RATE:+-R "$RATE"} -n 2>&1) || die "$name: pgbench failed: $out"
    RESULT[$name.tps]=$(parse <<<"$out" | awk '{ printf "%.0f", $1 }')
    wait_equal "$pp" "$sp" pgbench_history "$CATCHUP_TIMEOUT" || die "$name: subscriber did not catch up" "$WORK"/*.log
    t1=$(date +%s.%N)
    wait "$probe_pid" || die "$name: probe failed"
    if [[ -n ${4:-} ]]; then
        scrape "$4" "$WORK/$name.pub.after"
        scrape "$5" "$WORK/$name.sub.after"
        stages "$WORK/$name".{pub,sub}.{before,after} >"$WORK/$name.stages" || true
    fi
    after=$(count "$pp" pgbench_history)
    rows=$((2 * (after - before)))
    RESULT[$name.rows]=$rows
    RESULT[$name.rate]=$(awk -v r="$rows" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", r / (b - a) }')
    read -r p50 p99 n <"$WORK/$name.probe"
    RESULT[$name.p50]=$p50
    RESULT[$name.p99]=$p99
    RESULT[$name.samples]=$n
    # Same content at the end (accounts: the published columns are all).
    local a b
    a=$(q "$pp" "SELECT sum(abalance) FROM pgbench_accounts")
    b=$(q "$sp" "SELECT sum(abalance) FROM pgbench_accounts")
    [[ $a == "$b" ]] || die "$name: pgbench_accounts differ (sum abalance $a vs $b)"
}

setup_tables() { # pub_port sub_port
    pgb "$1" -i -s "$SCALE" -q >/dev/null 2>&1 || die "pgbench -i failed on $1" "$WORK"/*.log
    pgb "$2" -i -s "$SCALE" -I dtp -q >/dev/null 2>&1 || die "pgbench -i -I dtp failed on $2" "$WORK"/*.log
    q "$1" "$MARKER" >/dev/null
    q "$2" "$MARKER" >/dev/null
    q "$1" "CREATE PUBLICATION bench FOR TABLE pgbench_accounts, pgbench_history, marker" >/dev/null
}

if has_part rustydb; then
    free_port RP
    free_port RPA
    free_port RS
    free_port RSA
    "$BIN" node --data-dir "$WORK/rpub" --listen "127.0.0.1:$RP" --admin-listen "127.0.0.1:$RPA" \
        --node-name rpub >>"$WORK/rpub.log" 2>&1 &
    PIDS+=($!)
    wait_ready "$RP" "rustydb publisher" "$!" || die "publisher did not start" "$WORK/rpub.log"
    "$BIN" node --data-dir "$WORK/rsub" --listen "127.0.0.1:$RS" --admin-listen "127.0.0.1:$RSA" \
        --node-name rsub >>"$WORK/rsub.log" 2>&1 &
    PIDS+=($!)
    wait_ready "$RS" "rustydb subscriber" "$!" || die "subscriber did not start" "$WORK/rsub.log"
    setup_tables "$RP" "$RS"
    q "$RS" "CREATE SUBSCRIPTION bench CONNECTION 'host=127.0.0.1 port=$RP user=postgres dbname=postgres' PUBLICATION bench WITH (copy_data = true)" >/dev/null \
        || die "CREATE SUBSCRIPTION failed" "$WORK/rsub.log" "$WORK/rpub.log"
    measure rustydb "$RP" "$RS" "$RPA" "$RSA"
    q "$RS" "SELECT subname, status, rows_applied, apply_lag_ms FROM rustydb_stat_subscription" >&2 || true
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    PIDS=()
fi

if has_part postgres; then
    free_port PP
    free_port PS
    for d in pgpub pgsub; do pg_initdb "$WORK/$d"; PG_DIRS+=("$WORK/$d"); done
    pg_start "$WORK/pgpub" "$PP" -c wal_level=logical -c max_wal_senders=10 -c max_replication_slots=10
    pg_start "$WORK/pgsub" "$PS" -c wal_level=logical -c max_logical_replication_workers=8
    setup_tables "$PP" "$PS"
    q "$PS" "CREATE SUBSCRIPTION bench CONNECTION 'host=127.0.0.1 port=$PP user=postgres dbname=postgres' PUBLICATION bench WITH (copy_data = true)" >/dev/null \
        || die "PostgreSQL CREATE SUBSCRIPTION failed" "$WORK/pgsub.log"
    measure postgres "$PP" "$PS"
    for d in "${PG_DIRS[@]}"; do pg_stop "$d"; done
    PG_DIRS=()
fi

printf '\nlogical replication, pgbench TPC-B scale %s, %s clients, %s s (published: accounts, history)\n' \
    "$SCALE" "$CLIENTS" "$DURATION"
# The machine may be shared: the figures mean little without its load.
printf 'load average at start: %s; at end: %s\n' "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %10s %12s %14s %12s %12s %8s\n' system "copy s" "load tps" "apply rows/s" "p50 ms" "p99 ms" samples
for name in rustydb postgres; do
    has_part "$name" || continue
    printf '%-10s %10s %12s %14s %12s %12s %8s\n' "$name" "${RESULT[$name.copy]}" "${RESULT[$name.tps]}" \
        "${RESULT[$name.rate]}" "${RESULT[$name.p50]}" "${RESULT[$name.p99]}" "${RESULT[$name.samples]}"
done
if [[ -s $WORK/rustydb.stages ]]; then
    printf '\nrustydb, where the time goes during the run (every published transaction):\n'
    cat "$WORK/rustydb.stages"
fi
