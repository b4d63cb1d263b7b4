#!/usr/bin/env bash
# Runs the whole RustyDB test suite: installs what the tests need, builds
# every binary in release mode (the tests start real nodes) and runs all
# tests, then the client compatibility suite (real drivers against
# PostgreSQL 15 and RustyDB; rewrites the matrix in docs/compatibility.md).
# The build cache lives outside the clone (see deploy/prereqs.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=deploy/prereqs.sh
source deploy/prereqs.sh

ensure_test_deps
echo "==> building (release)"
cargo build --release --workspace --bins
echo "==> testing"
cargo test --release --workspace
echo "==> client compatibility suite (compat/run-clients.sh)"
ensure_compat_deps
RUSTYDB_BIN="$CARGO_TARGET_DIR/release/rustydb" "$COMPAT_PYTHON" compat/run-clients.py
