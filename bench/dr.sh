#!/usr/bin/env bash
# DR benchmark: 5 test-mode DR drills under pgbench load with a 50 ms RTT
# WAN between the sites; prints RTO p50/max and cross-site lag p50/p99.
#
#   bench/dr.sh [TRIALS] [SECONDS_OF_LOAD]
#
# Starts `rustydb up --geo --wan-latency-ms ${RTT:-50}` in a temp dir (ports
# of docs/geo-dr.md must be free), loads dc1 with pgbench through its
# proxy, samples GET /dr/status on dc2 every 200 ms, runs the drills
# (`dr failover --test-mode --force`, then `dr discard-test`), stops
# everything. Needs a release build (cargo build --release --bins),
# pgbench and python3.
set -euo pipefail
TRIALS=${1:-5}
LOAD_S=${2:-60}
RTT=${RTT:-50}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${RUSTYDB_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/rustydb}
CLI=$(dirname "$BIN")/rustydb-cli
DC2=http://127.0.0.1:8018
WORK=$(mktemp -d /tmp/rustydb-dr-bench.XXXXXX)
cleanup() {
  [[ -n "${LOAD:-}" ]] && kill "$LOAD" 2>/dev/null || true
  [[ -n "${SAMPLER:-}" ]] && kill "$SAMPLER" 2>/dev/null || true
  [[ -n "${UP:-}" ]] && kill -TERM "$UP" 2>/dev/null && wait "$UP" 2>/dev/null || true
  if [[ -n "${OK:-}" ]]; then rm -rf "$WORK"; else echo "logs kept in $WORK"; fi
}
trap cleanup EXIT

"$BIN" up --geo --wan-latency-ms "$RTT" --data-dir "$WORK/data" >"$WORK/up.log" 2>&1 &
UP=$!
echo "waiting for both sites..."
for _ in $(seq 1 240); do
  if curl -sf "$DC2/dr/status" | python3 -c 'import sys,json; s=json.load(sys.stdin); sys.exit(0 if s.get("standby_leader") and s.get("primary_reachable") and (s.get("lag") or {}).get("records")==0 else 1)' 2>/dev/null; then
    break
  fi
  sleep 0.5
done
curl -sf "$DC2/dr/status" >/dev/null || { echo "dc2 never became a healthy standby; see $WORK/data/geo/logs"; exit 1; }

# dc1's primary, as its managers report it.
primary_port() {
  curl -sf http://127.0.0.1:8008/cluster | python3 -c 'import sys,json; print([m["port"] for m in json.load(sys.stdin)["members"] if m["role"]=="leader"][0])'
}
PG=
# The managers may still be settling the primary's lease: retry.
ok=
for _ in 1 2 3 4 5 6 7 8; do
  PG=$(primary_port 2>/dev/null || echo 5433)
  if pgbench -i -s 1 -h 127.0.0.1 -p "$PG" -U postgres postgres >"$WORK/pgbench-init.log" 2>&1; then
    ok=1; break
  fi
  sleep 3
done
[[ -n "$ok" ]] || { cat "$WORK/pgbench-init.log"; exit 1; }
# Let dc2 catch up with the initial load before measuring.
for _ in $(seq 1 240); do
  curl -sf "$DC2/dr/status" | python3 -c 'import sys,json; s=json.load(sys.stdin); sys.exit(0 if (s.get("lag") or {}).get("records")==0 else 1)' 2>/dev/null && break
  sleep 0.5
done
pgbench -c 4 -j 2 -T "$LOAD_S" -N -h 127.0.0.1 -p "$PG" -U postgres postgres >"$WORK/pgbench.log" 2>&1 &
LOAD=$!

# Lag sampler: one line per sample (seconds of lag as dc1's primary measures it).
( while true; do
    curl -sf "$DC2/dr/status" | python3 -c 'import sys,json; s=json.load(sys.stdin); l=(s.get("lag") or {}).get("seconds"); print(l) if l is not None else None' 2>/dev/null || true
    sleep 0.2
  done ) >"$WORK/lag.txt" &
SAMPLER=$!

sleep 5
: >"$WORK/rto.txt"
for i in $(seq 1 "$TRIALS"); do
  out=$("$CLI" --manager "$DC2" --format json dr failover --test-mode --force)
  echo "$out" | python3 -c 'import sys,json; print(json.load(sys.stdin)["rto_ms"])' >>"$WORK/rto.txt"
  "$CLI" --manager "$DC2" dr discard-test >/dev/null
  echo "drill $i: RTO $(tail -1 "$WORK/rto.txt") ms"
  sleep 2
done
wait "$LOAD" || true
LOAD=
kill "$SAMPLER" 2>/dev/null || true
SAMPLER=

python3 - "$WORK/rto.txt" "$WORK/lag.txt" "$RTT" <<'PY'
import sys
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else float("nan")
rto = [float(x) for x in open(sys.argv[1]) if x.strip()]
lag = [float(x) * 1000 for x in open(sys.argv[2]) if x.strip()]
print(f"DR drill RTO (test mode, {len(rto)} trials): p50 {pct(rto, 50):.0f} ms, max {max(rto):.0f} ms")
print(f"cross-site lag under pgbench ({len(lag)} samples, RTT {sys.argv[3]} ms): p50 {pct(lag, 50):.0f} ms, p99 {pct(lag, 99):.0f} ms")
PY
grep -E "^tps" "$WORK/pgbench.log" || true
# dc1's own HA failovers during the run (the standby site must follow them).
curl -sf http://127.0.0.1:8008/history | python3 -c 'import sys,json; h=json.load(sys.stdin)["failovers"]; print("dc1 failovers during the run: %d" % len(h)); [print("  %s -> %s: %s" % (f["from"], f["to"], f["reason"])) for f in h]' || true
OK=1
