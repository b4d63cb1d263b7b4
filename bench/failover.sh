#!/usr/bin/env bash
# Failover RTO and switchover unavailability of a 3-node, 3-manager cluster.
#
# Starts three `rustydb node` processes (n1 primary, n2 and n3 following it,
# commit mode $BENCH_MODE) and three `rustydb manager` members (no
# supervision: this script owns the node processes) on free loopback ports,
# and one continuous writer: a loop of single-row autocommit INSERTs, each a
# fresh psql to whichever node last accepted a write (on an error it moves to
# the next node), logging the time of every acknowledged commit.
#
# Failover trials: kill -9 the primary the managers report; RTO = time from
# the kill to the first commit acknowledged by another node. The old primary
# is restarted with its original arguments and must rejoin as a replica
# before the next trial. Switchover trials: POST /switchover to a replica;
# unavailability = the longest gap between consecutive acknowledged commits
# in the window from the request to one second after its answer.
# Prints every trial and p50 / p90 / max of each. Resolution: one psql
# round trip (a few ms) per commit.
#
# Environment (defaults in brackets):
#   BENCH_TRIALS [10]   trials of each kind
#   BENCH_LEASE_MS [700] the cluster's lease_ttl_ms (the default)
#   BENCH_MODE [sync]   commit mode: sync, semi-sync or async
#   BENCH_DIR           parent of the temp dir [${TMPDIR:-/tmp}]
#   RUSTYDB_BIN         [$CARGO_TARGET_DIR or target]/release/rustydb
set -euo pipefail

TRIALS=${BENCH_TRIALS:-10}
MODE=${BENCH_MODE:-sync}
LEASE_MS=${BENCH_LEASE_MS:-700}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PGCONNECT_TIMEOUT=2
BIN=${RUSTYDB_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/rustydb}
[[ -x $BIN ]] || { echo "no rustydb binary at $BIN (cargo build --release --bins)" >&2; exit 1; }
"$BIN" manager --help >/dev/null 2>&1 || { echo "$BIN has no 'manager' subcommand" >&2; exit 1; }

log() { printf '[failover] %s\n' "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/rustydb-failover.XXXXXX")
declare -A PG ADMIN PID ARGS
MPIDS=()
WRITER_PID=""
cleanup() {
    [[ -n $WRITER_PID ]] && kill "$WRITER_PID" 2>/dev/null || true
    for n in "${!PID[@]}"; do kill -9 "${PID[$n]}" 2>/dev/null || true; done
    for p in "${MPIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [[ -n ${BENCH_KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT

start_node() { # name
    local n=$1
    # shellcheck disable=SC2086
    "$BIN" node ${ARGS[$n]} >>"$WORK/$n.log" 2>&1 &
    PID[$n]=$!
}

wait_sql() { # port
    for _ in $(seq 1 300); do
        psql -h 127.0.0.1 -p "$1" -U postgres -X -qAt -c 'SELECT 1' postgres >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    log "node on port $1 did not come up"; return 1
}

for n in n1 n2 n3; do
    PG[$n]=$(free_port); ADMIN[$n]=$(free_port)
    ARGS[$n]="--data-dir $WORK/$n --listen 127.0.0.1:${PG[$n]} --admin-listen 127.0.0.1:${ADMIN[$n]} --node-name $n"
done
ARGS[n1]+=" --commit-mode $MODE"
start_node n1; wait_sql "${PG[n1]}"
for n in n2 n3; do ARGS[$n]+=" --follow 127.0.0.1:${PG[n1]}"; start_node $n; wait_sql "${PG[$n]}"; done
# After the replicas: a sync primary confirms no commit alone (40003).
for _ in $(seq 1 100); do
    psql -h 127.0.0.1 -p "${PG[n1]}" -U postgres -X -q -c 'CREATE TABLE fo (id bigint PRIMARY KEY)' postgres 2>/dev/null && break
    sleep 0.2
done

declare -a API RAFT
for i in 1 2 3; do API[$i]=$(free_port); RAFT[$i]=$(free_port); done
for i in 1 2 3; do
    mkdir -p "$WORK/m$i"
    {
        echo "id = $i"; echo "name = \"m$i\""
        echo "api_listen = \"127.0.0.1:${API[$i]}\""; echo "raft_listen = \"127.0.0.1:${RAFT[$i]}\""
        echo "data_dir = \"$WORK/m$i/data\""; echo 'datacenter = "dc1"'; echo 'api_token = ""'
        for j in 1 2 3; do
            printf '[[members]]\nid = %s\nraft = "127.0.0.1:%s"\napi = "http://127.0.0.1:%s"\n' "$j" "${RAFT[$j]}" "${API[$j]}"
        done
        for n in n1 n2 n3; do
            printf '[[nodes]]\nname = "%s"\npgwire = "127.0.0.1:%s"\nadmin = "127.0.0.1:%s"\ndatacenter = "dc1"\n' "$n" "${PG[$n]}" "${ADMIN[$n]}"
        done
        printf '[cluster]\nreplication_mode = "%s"\nnum_sync_replicas = 1\nmaximum_lag_on_failover = 1048576\nlease_ttl_ms = %s\nheartbeat_ms = 100\nfailure_threshold = 8.0\n' "$MODE" "$LEASE_MS"
    } >"$WORK/m$i/manager.toml"
    "$BIN" manager --config "$WORK/m$i/manager.toml" >>"$WORK/m$i.log" 2>&1 &
    MPIDS+=($!)
done

cluster() { # GET /cluster from any member
    for i in 1 2 3; do
        curl -sf --max-time 2 "http://127.0.0.1:${API[$i]}/cluster" && return 0
    done
    return 1
}
primary() { cluster | jq -r '.members[] | select(.role == "leader") | .name' 2>/dev/null | head -1; }
wait_primary() { # [not NAME]
    for _ in $(seq 1 600); do
        local p; p=$(primary || true)
        if [[ -n $p && $p != "${1:-}" ]]; then echo "$p"; return 0; fi
        sleep 0.1
    done
    log "no primary reported"; return 1
}
wait_replica() { # name
    for _ in $(seq 1 900); do
        local st
        st=$(curl -sf --max-time 2 "http://127.0.0.1:${ADMIN[$1]}/status" || true)
        if [[ $(jq -r '.role + "/" + (.stream_state // "")' <<<"$st" 2>/dev/null) == replica/streaming ]]; then
            return 0
        fi
        sleep 0.1
    done
    log "$1 did not rejoin as a streaming replica"; return 1
}

P=$(wait_primary); log "managers report primary $P"

# The writer: one INSERT per psql; on an error, the next node.
ACKS=$WORK/acks
: >"$ACKS"
(
    ports=("${PG[n1]}" "${PG[n2]}" "${PG[n3]}")
    k=0; id=0
    while :; do
        id=$((id + 1))
        if psql -h 127.0.0.1 -p "${ports[$k]}" -U postgres -X -q -v ON_ERROR_STOP=1 \
            -c "INSERT INTO fo VALUES ($id)" postgres >/dev/null 2>&1; then
            echo "$(now_us) ${ports[$k]}" >>"$ACKS"
        else
            k=$(((k + 1) % 3))
        fi
    done
) &
WRITER_PID=$!

first_ack_after() { # since_us not_port -> us of the first ack elsewhere
    for _ in $(seq 1 3000); do
        local t
        t=$(awk -v s="$1" -v p="$2" '$1 > s && $2 != p { print $1; exit }' "$ACKS")
        [[ -n $t ]] && { echo "$t"; return 0; }
        sleep 0.01
    done
    return 1
}

stats() { # label, values in ms on stdin
    sort -n | awk -v l="$1" '{ v[NR] = $1 } END {
        if (NR == 0) { print l ": no data"; exit }
        p50 = v[int((NR - 1) * 0.5) + 1]; p90 = v[int((NR - 1) * 0.9) + 1]
        printf "%s: n=%d p50=%.0f ms p90=%.0f ms max=%.0f ms\n", l, NR, p50, p90, v[NR] }'
}

RTO=$WORK/rto; SW=$WORK/switchover; : >"$RTO"; : >"$SW"
for t in $(seq 1 "$TRIALS"); do
    P=$(wait_primary); sleep 1
    t0=$(now_us); kill -9 "${PID[$P]}"; wait "${PID[$P]}" 2>/dev/null || true
    t1=$(first_ack_after "$t0" "${PG[$P]}") || { log "trial $t: no write acknowledged after killing $P"; exit 1; }
    ms=$(((t1 - t0) / 1000)); echo "$ms" >>"$RTO"
    NEWP=$(wait_primary "$P")
    log "failover $t: killed $P, first commit on another node after $ms ms (primary now $NEWP)"
    start_node "$P"; wait_replica "$P"
done
for t in $(seq 1 "$TRIALS"); do
    P=$(wait_primary); sleep 1
    C=$(cluster | jq -r --arg p "$P" '[.members[] | select(.name != $p) | .name] | .[0]')
    t0=$(now_us)
    code=$(curl -s -o "$WORK/sw.json" -w '%{http_code}' --max-time 60 -X POST \
        -H 'Content-Type: application/json' -d "{\"candidate\":\"$C\"}" \
        "http://127.0.0.1:${API[1]}/switchover")
    [[ $code == 200 ]] || { log "switchover $t answered $code: $(cat "$WORK/sw.json")"; exit 1; }
    first_ack_after "$t0" "${PG[$P]}" >/dev/null || { log "switchover $t: no write on the new primary"; exit 1; }
    sleep 1; t2=$(now_us)
    gap=$(awk -v s="$t0" -v e="$t2" 'BEGIN { last = s } $1 >= s && $1 <= e { if ($1 - last > g) g = $1 - last; last = $1 }
        END { printf "%d", g / 1000 }' "$ACKS")
    echo "$gap" >>"$SW"
    log "switchover $t: $P -> $C, longest gap between acknowledged commits $gap ms"
    wait_replica "$P"
done
echo "mode=$MODE trials=$TRIALS"
stats "failover RTO (kill -9 -> first commit on the new primary)" <"$RTO"
stats "switchover unavailability (longest commit gap)" <"$SW"
