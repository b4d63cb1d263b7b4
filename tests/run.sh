#!/usr/bin/env bash
# Runs the whole RustyDB test suite: installs what the tests need, builds
# every binary in release mode (the tests start real nodes) and runs all
# tests. The build cache lives outside the clone (see deploy/prereqs.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=deploy/prereqs.sh
source deploy/prereqs.sh

ensure_test_deps
echo "==> building (release)"
cargo build --release --workspace --bins
echo "==> testing"
cargo test --release --workspace
