#!/usr/bin/env bash
# Backup and restore throughput of RustyDB beside pg_basebackup (PostgreSQL 15).
#
# RustyDB: a primary and one replica (backups are taken from the replica,
# as the manager does by default), a pgbench database of scale
# $BENCH_SCALE. Measured:
#   - full backup (rustydb-cli backup create --type full) while pgbench
#     runs on the primary: wall time, MB/s of database bytes, and the
#     primary's TPS during the backup against a baseline run without one;
#   - incremental backup after changing ~5% of pgbench_accounts
#     (UPDATE every 20th row): wall time, stored MB, % of the full's time;
#   - restore of the full and of the incremental: wall time and MB/s.
# PostgreSQL 15 on the same machine, same scale: pg_basebackup (-Fp -X
# stream -c fast) while pgbench runs: wall time, MB/s, TPS during vs
# baseline. The restore of a plain-format base backup is a file copy, so
# it is not timed.
#
# Environment (defaults in brackets):
#   BENCH_SCALE [50]      pgbench scale (50 = ~750 MB in PostgreSQL)
#   BENCH_SECONDS [20]    length of each pgbench run
#   BENCH_CLIENTS [4]     pgbench clients
#   BENCH_DIR             parent of the temp dir [${TMPDIR:-/tmp}]
#   BENCH_KEEP            keep the temp dir when set
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
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
dir_bytes() { du -sb "$1" | awk '{ print $1 }'; }
tps_of() { parse | awk '{ print $1 }'; }

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
pgb "$P" -i -q -s "$SCALE" >"$WORK/init.log" 2>&1 || die "pgbench -i" "$WORK/init.log"
caught_up() {
    local deadline=$((SECONDS + 300)) a b
    while ((SECONDS < deadline)); do
        a=$(curl -sf "http://127.0.0.1:$PA/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lsn_number"])')
        b=$(curl -sf "http://127.0.0.1:$RA/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lsn_number"])')
        [[ $a == "$b" ]] && return 0
        sleep 0.5
    done
    die "replica did not catch up" "$WORK/r.log"
}
caught_up

log "rustydb: baseline pgbench ($SECS s)"
R_BASE=$(pgb "$P" -n -c "$CLIENTS" -j 2 -T "$SECS" 2>/dev/null | tps_of)

backup() { # type -> prints "seconds json"
    local t0 out
    t0=$(now)
    out=$("$CLI" --format json backup create --type "$1" --node-url "http://127.0.0.1:$RA" --repo "$WORK/repo" 2>>"$WORK/cli.log") \
        || die "backup $1" "$WORK/cli.log" "$WORK/r.log"
    echo "$(secs_since "$t0") $(echo "$out" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["id"], m["total_bytes"], m["stored_bytes"])')"
}

log "rustydb: full backup during pgbench"
pgb "$P" -n -c "$CLIENTS" -j 2 -T "$SECS" >"$WORK/during.log" 2>/dev/null &
BENCH=$!
sleep 2
read -r FULL_S FULL_ID FULL_BYTES _ < <(backup full)
wait "$BENCH"
R_DURING=$(tps_of <"$WORK/during.log")

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
log "rustydb: full ${FULL_S}s ($FULL_BYTES B), incremental ${INCR_S}s ($INCR_STORED B stored), restores ${FULL_R}s / ${INCR_R}s, TPS $R_BASE -> $R_DURING"
for p in "${PIDS[@]}"; do stop_pid "$p"; done
PIDS=()

# --- PostgreSQL 15 ----------------------------------------------------
free_port PGP
[[ $(id -u) -eq 0 ]] && chown postgres: "$WORK"
pg_initdb "$WORK/pg"
pg_start "$WORK/pg" "$PGP" -c wal_level=replica -c max_wal_senders=4
log "postgres: pgbench -i -s $SCALE"
pgb "$PGP" -i -q -s "$SCALE" >"$WORK/pginit.log" 2>&1 || die "pgbench -i (pg)" "$WORK/pginit.log"
PG_BASE=$(pgb "$PGP" -n -c "$CLIENTS" -j 2 -T "$SECS" 2>/dev/null | tps_of)
pgb "$PGP" -n -c "$CLIENTS" -j 2 -T "$SECS" >"$WORK/pgduring.log" 2>/dev/null &
BENCH=$!
sleep 2
mkdir -p "$WORK/pgbb"
[[ $(id -u) -eq 0 ]] && chown postgres: "$WORK/pgbb"
T0=$(now)
as_pg pg_basebackup -h 127.0.0.1 -p "$PGP" -U postgres -D "$WORK/pgbb/data" -Fp -X stream -c fast \
    || die "pg_basebackup" "$WORK/pg.log"
PGBB_S=$(secs_since "$T0")
wait "$BENCH"
PG_DURING=$(tps_of <"$WORK/pgduring.log")
PGBB_BYTES=$(dir_bytes "$WORK/pgbb/data")

# --- Report --------------------------------------------------------------
drop() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.1f%%", (a - b) * 100 / a; else print "n/a" }'; }
cat <<REPORT
backup benchmark: pgbench scale $SCALE, $CLIENTS clients, $SECS s runs, $(nproc) cores
| system | operation | MB | seconds | MB/s | TPS baseline | TPS during | TPS drop |
|---|---|---|---|---|---|---|---|
| RustyDB | full backup (from replica) | $(mb "$FULL_BYTES") | $FULL_S | $(ratio "$(mb "$FULL_BYTES")" "$FULL_S") | $R_BASE | $R_DURING | $(drop "$R_BASE" "$R_DURING") |
| RustyDB | incremental (5% changed), stored | $(mb "$INCR_STORED") | $INCR_S | $(ratio "$(mb "$FULL_BYTES")" "$INCR_S") (db MB/s) | | | |
| RustyDB | restore full | $(mb "$RESTORED_BYTES") | $FULL_R | $(ratio "$(mb "$RESTORED_BYTES")" "$FULL_R") | | | |
| RustyDB | restore incremental | $(mb "$RESTORED_BYTES") | $INCR_R | $(ratio "$(mb "$RESTORED_BYTES")" "$INCR_R") | | | |
| PostgreSQL 15 | pg_basebackup -Fp -X stream | $(mb "$PGBB_BYTES") | $PGBB_S | $(ratio "$(mb "$PGBB_BYTES")" "$PGBB_S") | $PG_BASE | $PG_DURING | $(drop "$PG_BASE" "$PG_DURING") |
incremental time / full time: $(awk -v a="$INCR_S" -v b="$FULL_S" 'BEGIN { printf "%.1f%%", a * 100 / b }')
REPORT
