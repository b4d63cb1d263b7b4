# Shared shell functions for the bench/ scripts (sourced, not run).
#
# Conventions every script follows: servers listen on free loopback ports,
# data dirs live under one temp dir ($WORK, so the same filesystem), fsync
# stays on, PostgreSQL's server programs run as the `postgres` user when the
# script runs as root, and every wait is bounded. A script sets $WORK and its
# own cleanup trap; the helpers here only start, wait, stop and parse.
#
# Provides: log, die, as_pg, find_bin, free_port, wait_ready, pgb, q, parse,
# stop_pid, pg_initdb, pg_start, pg_stop.

export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
# Plain server logs (tracing-subscriber drops its colours when NO_COLOR is set).
export NO_COLOR=1
BENCH_TAG=${BENCH_TAG:-bench}

log() { printf '[%s] %s\n' "$BENCH_TAG" "$*" >&2; }

# Prints the message (and the tail of each log file named after it) and exits.
die() { # message [logfile...]
    local msg=$1 f
    shift
    log "FAILED: $msg"
    for f in "$@"; do
        [[ -f $f ]] || continue
        printf -- '--- last 40 lines of %s ---\n' "$f" >&2
        tail -n 40 "$f" >&2
    done
    exit 1
}

# PostgreSQL refuses to run as root: run its server programs as `postgres`.
as_pg() {
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Sets BIN to the rustydb binary, building it when missing. $1 = repo root.
find_bin() {
    BIN=${RUSTYDB_BIN:-${CARGO_TARGET_DIR:-$1/target}/release/rustydb}
    if [[ ! -x $BIN ]]; then
        log "building $BIN (cargo build --release --bins)"
        (cd "$1" && cargo build --release --bins)
    fi
    [[ -x $BIN ]] || die "no rustydb binary at $BIN"
}

# Stores in variable $1 a port nobody listens on (bash's /dev/tcp connect fails
# on a free port) and that this script has not handed out before (a chosen
# port is only bound later). A variable, not stdout: $(...) would lose USED_PORTS.
USED_PORTS=" "
free_port() { # varname
    local _fp_port
    for _ in $(seq 200); do
        # Below Linux's ephemeral range (32768-60999): an outgoing connection
        # (pgbench, psql, a replica) can take a port in that range before the
        # server it was chosen for binds it.
        _fp_port=$((20000 + RANDOM % 12700))
        [[ $USED_PORTS == *" $_fp_port "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$_fp_port") 2>/dev/null; then
            USED_PORTS+="$_fp_port "
            printf -v "$1" '%s' "$_fp_port"
            return
        fi
    done
    die "no free port found"
}

# Waits (at most 30 s) until a PostgreSQL-protocol server accepts connections.
# With a pid, gives up as soon as that process has exited.
wait_ready() { # port name [pid]
    local deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)); do
        pg_isready -q -h 127.0.0.1 -p "$1" -U postgres -d postgres -t 2 && return 0
        if [[ -n ${3:-} ]] && ! kill -0 "$3" 2>/dev/null; then
            log "$2 exited before accepting connections on port $1"
            return 1
        fi
        sleep 0.1
    done
    log "$2 did not accept connections on port $1 within 30 s"
    return 1
}

pgb() { # port args...
    local port=$1
    shift
    pgbench -h 127.0.0.1 -p "$port" -U postgres "$@" postgres
}

# One SQL statement (at most 120 s), unaligned tuples-only output.
q() { # port sql
    timeout 120 psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2"
}

# Prints "tps latency_ms" from pgbench output on stdin; fails on failed transactions.
parse() {
    awk '
        /^number of failed transactions:/ { failed = $5 }
        /^latency average =/ { lat = $4 }
        /^tps =/ { tps = $3 }
        END {
            if (tps == "") exit 1
            if (failed != "" && failed != 0) { print "failed transactions: " failed > "/dev/stderr"; exit 2 }
            printf "%s %s\n", tps, lat
        }'
}

# SIGTERM, up to 10 s for a clean exit, then SIGKILL. Only for our own children.
stop_pid() { # pid
    [[ -n ${1:-} ]] || return 0
    kill "$1" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

pg_initdb() { # datadir
    as_pg initdb -A trust -U postgres -E UTF8 --locale=C -D "$1" >/dev/null
}

# Starts PostgreSQL on a data dir (socket dir: $WORK), fsync on. Extra args are
# passed to postgres (-c name=value ...). Log: <datadir>.log.
pg_start() { # datadir port [postgres options...]
    local dir=$1 port=$2
    shift 2
    as_pg pg_ctl start -w -t 60 -s -D "$dir" -l "$dir.log" \
        -o "-p $port -c listen_addresses=127.0.0.1 -k $WORK -c fsync=on -c max_connections=100 $*" \
        >/dev/null || die "PostgreSQL did not start on port $port" "$dir.log"
}

pg_stop() { # datadir
    as_pg pg_ctl stop -D "$1" -m fast -s -t 60 >/dev/null 2>&1 || true
}
