#!/usr/bin/env bash
# Backup and restore throughput of RustyDB beside pg_basebackup (PostgreSQL 15),
# and the primary's TPS while backups run. Prints the issue's three goals
# with MET / NOT MET.
#
# RustyDB: a primary and one replica (backups are taken from the replica,
# as the manager does by default), a pgbench database of scale $BENCH_SCALE.
# PostgreSQL 15 on the same machine, same scale.
#
# Load and TPS: one pgbench run of 3 windows of $BENCH_SECONDS each, with
# per-second progress (-P 1): window 1 and 3 without a backup (the
# baseline is their mean, so a drift of the machine's load over the run
# cancels out), window 2 with full backups back to back (RustyDB: `backup
# create --type full` on the replica; PostgreSQL: pg_basebackup -Fp -X
# stream -c fast). TPS drop = 1 - window2 / baseline. The first seconds
# of each window are skipped (ramp).
#
# Throughput: a full backup under that load (mean of the window-2 runs),
# and one more of each system after the load stopped (quiesced): seconds
# and MB/s of the bytes stored. Our database is ~4x smaller on disk than
# PostgreSQL's (lz4-compressed SSTs), so the elapsed-time ratio for the
# same data is printed beside MB/s.
#
# Incremental: after the quiesced full backup, UPDATE every 20th row of
# pgbench_accounts (5% of the rows), wait for the replica, take an
# incremental backup: seconds, MB stored, % of the quiesced full's time.
# Restore of the full and of the incremental: seconds and MB/s.
#
# Environment (defaults in brackets):
#   BENCH_SCALE [50]      pgbench scale (50 = ~750 MB in PostgreSQL)
#   BENCH_SECONDS [20]    length of each of the three load windows
#   BENCH_CLIENTS [4]     pgbench clients
#   BENCH_PARALLEL        rustydb backup --parallel (default: the node's)
#   BENCH_PRIORITY        rustydb backup --priority low|idle|normal [low]
#   BENCH_MAX_MB_S        rustydb backup --max-mb-per-s (default: no limit)
#   BENCH_DIR             parent of the temp dir [${TMPDIR:-/tmp}]
#   BENCH_KEEP            keep the temp dir when set
#   BENCH_SKIP_PG         skip PostgreSQL (RustyDB figures only)
#   RUSTYDB_BIN           [$CARGO_TARGET_DIR or target]/release/rustydb
set -euo pipefail

SCALE=${BENCH_SCALE:-50}
SECS=${BENCH_SECONDS:-20}
CLIENTS=${BENCH_CLIENTS:-4}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_TAG=backup
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
find_bin "$ROOT"
CLI=$(dirname "$BIN")/rustydb-cli
[[ -x $CLI ]] || die "no rustydb-cli beside $BIN (cargo build --release --bins)"

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/rustydb-backup.XXXXXX")
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    [[ -d $WORK/pg ]] && pg_stop "$WORK/pg"
    [[ -n ${BENCH_KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "n/a" && b != "n/a" && b + 0 > 0) printf "%.1f", a / b; else print "n/a" }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "n/a" && b != "n/a" && b + 0 > 0) printf "%.1f", a * 100 / b; else print "n/a" }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
mean() { awk '{ s += $1; n++ } END { if (n) printf "%.2f", s / n; else print "n/a" }'; }
dir_bytes() { du -sb "$1" | awk '{ print $1 }'; }
goal() { # label ok(0/1) detail
    if [[ $2 == 1 ]]; then echo "goal: $1: MET ($3)"; else echo "goal: $1: NOT MET ($3)"; fi
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "n/a" && b != "n/a" && a + 0 <= b + 0) ? 1 : 0 }'; }

# Mean per-second TPS of pgbench progress lines ("progress: 5.0 s, 812.3
# tps, ...") with time in (from, to].
tps_window() { # progress_log from to
    awk -v a="$2" -v b="$3" '/^progress:/ { t = $2 + 0; if (t > a && t <= b) { s += $4; n++ } }
        END { if (n) printf "%.1f", s / n; else print "n/a" }' "$1"
}

# Runs pgbench for 3 windows on port $1 while "$2" (a function) runs full
# backups in window 2 (it gets the window's end as a `date +%s` value).
# Sets BASE_TPS, DURING_TPS.
loaded_run() { # port backup_loop_fn name
    local port=$1 fn=$2 name=$3 t0 ramp=2
    # Warm-up, not measured: the initial load leaves compactions behind
    # that would otherwise depress window 1.
    pgb "$port" -n -c "$CLIENTS" -j 2 -T "$SECS" >/dev/null 2>&1 || true
    pgb "$port" -n -c "$CLIENTS" -j 2 -T $((3 * SECS)) -P 1 >"$WORK/$name-load.out" 2>"$WORK/$name-load.log" &
    local bench=$!
    t0=$(date +%s)
    sleep "$SECS"
    "$fn" $((t0 + 2 * SECS))
    wait "$bench" || die "pgbench ($name)" "$WORK/$name-load.log"
    local w1 w3
    w1=$(tps_window "$WORK/$name-load.log" "$ramp" "$SECS")
    DURING_TPS=$(tps_window "$WORK/$name-load.log" $((SECS + ramp)) $((2 * SECS)))
    w3=$(tps_window "$WORK/$name-load.log" $((2 * SECS + ramp)) $((3 * SECS)))
    BASE_TPS=$(awk -v a="$w1" -v b="$w3" 'BEGIN { printf "%.1f", (a + b) / 2 }')
    log "$name: TPS window 1 $w1, window 2 (backups) $DURING_TPS, window 3 $w3"
}

log "load at start: $(uptime)"
UPTIME_START=$(uptime)

# --- RustyDB ------------------------------------------------------------
free_port P; free_port PA; free_port R; free_port RA
"$BIN" node --data-dir "$WORK/p" --listen "127.0.0.1:$P" --admin-listen "127.0.0.1:$PA" \
    --node-name p --wal-archive "$WORK/repo" >"$WORK/p.log" 2>&1 &
PIDS+=($!)
wait_ready "$P" primary "${PIDS[-1]}" || die "primary did not start" "$WORK/p.log"
"$BIN" node --data-dir "$WORK/r" --listen "127.0.0.1:$R" --admin-listen "127.0.0.1:$RA" \
    --node-name r --follow "127.0.0.1:$P" >"$WORK/r.log" 2>&1 &
PIDS+=($!)
wait_ready "$R" replica "${PIDS[-1]}" || die "replica did not start" "$WORK/r.log"

log "rustydb: pgbench -i -s $SCALE"
T0=$(now)
pgb "$P" -i -q -s "$SCALE" >"$WORK/init.log" 2>&1 || die "pgbench -i" "$WORK/init.log"
log "rustydb: loaded in $(secs_since "$T0") s"
lsn_of() { # admin port -> LSN, or nothing
    curl -sf -m 10 "http://127.0.0.1:$1/status" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["lsn_number"])' 2>/dev/null || true
}
caught_up() {
    local deadline=$((SECONDS + 600)) a b
    while ((SECONDS < deadline)); do
        # A busy node may not answer in time: that is "not yet", not an error.
        a=$(lsn_of "$PA") b=$(lsn_of "$RA")
        [[ -n $a && $a == "$b" ]] && return 0
        sleep 0.5
    done
    die "replica did not catch up" "$WORK/r.log"
}
caught_up

COPY_ARGS=()
[[ -n ${BENCH_PARALLEL:-} ]] && COPY_ARGS+=(--parallel "$BENCH_PARALLEL")
[[ -n ${BENCH_PRIORITY:-} ]] && COPY_ARGS+=(--priority "$BENCH_PRIORITY")
[[ -n ${BENCH_MAX_MB_S:-} ]] && COPY_ARGS+=(--max-mb-per-s "$BENCH_MAX_MB_S")
backup() { # type -> prints "seconds id total_bytes stored_bytes"
    local t0 out
    t0=$(now)
    out=$("$CLI" --format json backup create --type "$1" --node-url "http://127.0.0.1:$RA" \
        --repo "$WORK/repo" "${COPY_ARGS[@]}" 2>>"$WORK/cli.log") \
        || die "backup $1" "$WORK/cli.log" "$WORK/r.log"
    echo "$(secs_since "$t0") $(echo "$out" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["id"], m["total_bytes"], m["stored_bytes"])')"
}
rusty_loop() { # until (epoch s)
    : >"$WORK/rusty-loaded.txt"
    while (($(date +%s) < $1)); do
        backup full >>"$WORK/rusty-loaded.txt"
    done
}

log "rustydb: $((3 * SECS)) s of pgbench, full backups from the replica in the middle window"
loaded_run "$P" rusty_loop rustydb
R_BASE=$BASE_TPS R_DURING=$DURING_TPS
R_LOADED_N=$(wc -l <"$WORK/rusty-loaded.txt")
R_LOADED_S=$(awk '{ print $1 }' "$WORK/rusty-loaded.txt" | mean)
R_LOADED_B=$(awk '{ print $3 }' "$WORK/rusty-loaded.txt" | mean)
caught_up

log "rustydb: quiesced full backup"
read -r FULL_S FULL_ID FULL_BYTES _ < <(backup full)

log "rustydb: change 5% of pgbench_accounts"
ROWS=$((SCALE * 100000))
STEP=$((ROWS / 10))
for ((lo = 0; lo < ROWS; lo += STEP)); do
    q "$P" "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid > $lo AND aid <= $((lo + STEP)) AND aid % 20 = 0" >/dev/null
done
caught_up
read -r INCR_S INCR_ID _ INCR_STORED < <(backup incremental)

restore() { # id dir -> seconds
    local t0
    t0=$(now)
    "$CLI" backup restore "$1" --repo "$WORK/repo" --target "$2" >/dev/null 2>>"$WORK/cli.log" || die "restore $1" "$WORK/cli.log"
    secs_since "$t0"
}
log "rustydb: restores"
FULL_R=$(restore "$FULL_ID" "$WORK/restore-full")
INCR_R=$(restore "$INCR_ID" "$WORK/restore-incr")
RESTORED_BYTES=$(dir_bytes "$WORK/restore-full")
grep -h "backup checkpoint taken\|backup files copied\|backup complete" "$WORK/r.log" | tail -n 6 | sed 's/^/[backup] node: /' >&2 || true
for p in "${PIDS[@]}"; do stop_pid "$p"; done
PIDS=()
rm -rf "$WORK/p" "$WORK/r" "$WORK/restore-full" "$WORK/restore-incr" "$WORK/repo"

# --- PostgreSQL 15 ----------------------------------------------------
if [[ -z ${BENCH_SKIP_PG:-} ]]; then
    free_port PGP
    [[ $(id -u) -eq 0 ]] && chown postgres: "$WORK"
    pg_initdb "$WORK/pg"
    pg_start "$WORK/pg" "$PGP" -c wal_level=replica -c max_wal_senders=4
    log "postgres: pgbench -i -s $SCALE"
    pgb "$PGP" -i -q -s "$SCALE" >"$WORK/pginit.log" 2>&1 || die "pgbench -i (pg)" "$WORK/pginit.log"
    mkdir -p "$WORK/pgbb"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$WORK/pgbb"
    basebackup() { # -> prints "seconds bytes"
        local t0 s b
        rm -rf "$WORK/pgbb/data"
        t0=$(now)
        as_pg pg_basebackup -h 127.0.0.1 -p "$PGP" -U postgres -D "$WORK/pgbb/data" -Fp -X stream -c fast \
            || die "pg_basebackup" "$WORK/pg.log"
        s=$(secs_since "$t0")
        b=$(dir_bytes "$WORK/pgbb/data")
        echo "$s $b"
    }
    pg_loop() { # until (epoch s)
        : >"$WORK/pg-loaded.txt"
        while (($(date +%s) < $1)); do
            basebackup >>"$WORK/pg-loaded.txt"
        done
    }
    log "postgres: $((3 * SECS)) s of pgbench, pg_basebackup in the middle window"
    loaded_run "$PGP" pg_loop postgres
    PG_BASE=$BASE_TPS PG_DURING=$DURING_TPS
    PG_LOADED_N=$(wc -l <"$WORK/pg-loaded.txt")
    PG_LOADED_S=$(awk '{ print $1 }' "$WORK/pg-loaded.txt" | mean)
    PG_LOADED_B=$(awk '{ print $2 }' "$WORK/pg-loaded.txt" | mean)
    log "postgres: quiesced pg_basebackup"
    read -r PGBB_S PGBB_BYTES < <(basebackup)
else
    PG_BASE=n/a PG_DURING=n/a PG_LOADED_N=0 PG_LOADED_S=n/a PG_LOADED_B=0 PGBB_S=n/a PGBB_BYTES=0
fi

# --- Report --------------------------------------------------------------
drop() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b != "n/a") printf "%.1f", (a - b) * 100 / a; else print "n/a" }'; }
R_FULL_MBS=$(div "$(mb "$FULL_BYTES")" "$FULL_S")
PG_FULL_MBS=$(div "$(mb "$PGBB_BYTES")" "$PGBB_S")
R_LOADED_MBS=$(div "$(mb "$R_LOADED_B")" "$R_LOADED_S")
PG_LOADED_MBS=$(div "$(mb "$PG_LOADED_B")" "$PG_LOADED_S")
INCR_PCT=$(pct "$INCR_S" "$FULL_S")
R_DROP=$(drop "$R_BASE" "$R_DURING")
PG_DROP=$(drop "$PG_BASE" "$PG_DURING")
cat <<REPORT
backup benchmark: pgbench scale $SCALE, $CLIENTS clients, 3 x $SECS s load windows, $(nproc) cores
rustydb backup options (same for every RustyDB backup of the run): ${COPY_ARGS[*]:-product defaults}
load at start: $UPTIME_START
load at end:   $(uptime)
| system | operation | MB | seconds | MB/s | time vs PG |
|---|---|---|---|---|---|
| RustyDB | full backup, quiesced (from replica) | $(mb "$FULL_BYTES") | $FULL_S | $R_FULL_MBS | $(div "$FULL_S" "$PGBB_S")x |
| RustyDB | full backup under pgbench, mean of $R_LOADED_N | $(mb "$R_LOADED_B") | $R_LOADED_S | $R_LOADED_MBS | $(div "$R_LOADED_S" "$PG_LOADED_S")x |
| RustyDB | incremental (5% of accounts changed), stored | $(mb "$INCR_STORED") | $INCR_S | | |
| RustyDB | restore full | $(mb "$RESTORED_BYTES") | $FULL_R | $(div "$(mb "$RESTORED_BYTES")" "$FULL_R") | |
| RustyDB | restore incremental | $(mb "$RESTORED_BYTES") | $INCR_R | $(div "$(mb "$RESTORED_BYTES")" "$INCR_R") | |
| PostgreSQL 15 | pg_basebackup -Fp -X stream, quiesced | $(mb "$PGBB_BYTES") | $PGBB_S | $PG_FULL_MBS | 1.0x |
| PostgreSQL 15 | pg_basebackup under pgbench, mean of $PG_LOADED_N | $(mb "$PG_LOADED_B") | $PG_LOADED_S | $PG_LOADED_MBS | 1.0x |

| system | TPS baseline (windows 1+3) | TPS during backups (window 2) | drop |
|---|---|---|---|
| RustyDB (backups on the replica) | $R_BASE | $R_DURING | $R_DROP% |
| PostgreSQL 15 (pg_basebackup of the primary) | $PG_BASE | $PG_DURING | $PG_DROP% |

incremental time / quiesced full time: $INCR_PCT%
$(goal "full backup MB/s >= pg_basebackup's (quiesced)" "$(le "$PG_FULL_MBS" "$R_FULL_MBS")" "$R_FULL_MBS vs $PG_FULL_MBS MB/s; elapsed $FULL_S s vs $PGBB_S s")
$(goal "full backup MB/s >= pg_basebackup's (under load)" "$(le "$PG_LOADED_MBS" "$R_LOADED_MBS")" "$R_LOADED_MBS vs $PG_LOADED_MBS MB/s; elapsed $R_LOADED_S s vs $PG_LOADED_S s")
$(goal "incremental <= 10% of the full's time" "$(le "$INCR_PCT" 10)" "$INCR_PCT%")
$(goal "primary TPS drop during backup <= 5%" "$(le "$R_DROP" 5)" "$R_DROP%")
REPORT
