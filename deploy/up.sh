#!/usr/bin/env bash
# Starts the RustyDB playground: installs what is missing, builds the
# release binary (cached outside the clone) and runs `rustydb up`.
# Extra arguments go to `rustydb up` (e.g. `--port 5434`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=deploy/prereqs.sh
source deploy/prereqs.sh

ensure_build_deps
echo "==> building RustyDB (release; the first build compiles RocksDB and takes ~15 minutes)"
# Same command as tests/run.sh, so both share one set of build artifacts.
cargo build --release --workspace --bins
exec "$CARGO_TARGET_DIR/release/rustydb" up "$@"
