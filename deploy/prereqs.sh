# Shared setup for deploy/up.sh, tests/run.sh and .ci/run (sourced, not run).
#
# - A stable build cache outside the clone, so the ~15 minute RocksDB C++
#   build happens once per machine, not once per clone.
# - Debian packages the build needs and a fresh machine may lack: libclang
#   (bindgen, used by the rocksdb crate) and a C++ compiler.

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rustydb/target}"
export CARGO_INCREMENTAL=0

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

_apt_updated=0
# apt_install PACKAGE...: installs Debian packages non-interactively.
apt_install() {
    if [ "$_apt_updated" -eq 0 ]; then
        as_root apt-get update -qq
        _apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

have_libclang() {
    ldconfig -p 2>/dev/null | grep -Eq 'libclang(-[0-9.]+)?\.so' && return 0
    compgen -G '/usr/lib/llvm-*/lib/libclang*.so*' >/dev/null && return 0
    return 1
}

# ensure_build_deps: everything `cargo build --release` needs.
ensure_build_deps() {
    local missing=()
    have_libclang || missing+=(libclang-dev)
    command -v g++ >/dev/null 2>&1 || missing+=(g++)
    command -v cargo >/dev/null 2>&1 || {
        echo "error: cargo not found; install the Rust toolchain (https://rustup.rs) first" >&2
        exit 1
    }
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "==> installing build prerequisites: ${missing[*]}"
        apt_install "${missing[@]}"
    fi
}

# ensure_test_deps: what the test suite runs besides cargo (psql, pgbench,
# and PostgreSQL server binaries for the differential tests).
ensure_test_deps() {
    ensure_build_deps
    if ! command -v psql >/dev/null 2>&1 || ! command -v pgbench >/dev/null 2>&1; then
        echo "==> installing PostgreSQL client tools"
        apt_install postgresql-client
    fi
}

# ensure_compat_deps: what the client compatibility suite (compat/) needs
# besides cargo: a Python with venv (the suite installs psycopg, SQLAlchemy
# and asyncpg into its own virtualenv under the build cache, so a distro
# Python that refuses system-wide pip installs is fine), node + npm for
# node-postgres, a JDK and the PostgreSQL JDBC driver, openssl for the
# suite's self-signed certificate. Sets COMPAT_PYTHON.
ensure_compat_deps() {
    local missing=()
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
    command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
    command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
    [ -f /usr/share/java/postgresql.jar ] || missing+=(libpostgresql-jdbc-java)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "==> installing client-suite prerequisites: ${missing[*]}"
        apt_install "${missing[@]}"
    fi
    local venv="${CARGO_TARGET_DIR%/*}/compat-venv"
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    export COMPAT_PYTHON="$venv/bin/python"
    export COMPAT_CLIENTS_TARGET="${COMPAT_CLIENTS_TARGET:-${CARGO_TARGET_DIR%/*}/compat-clients-target}"
}
