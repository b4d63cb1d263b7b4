#!/usr/bin/env bash
# Client compatibility suite (see compat/run-clients.py and docs/compatibility.md).
#   compat/run-clients.sh [--no-install] [--only "psql,asyncpg"] [--show]
# RUSTYDB_BIN=path/to/rustydb skips building the database.
set -euo pipefail
exec python3 "$(dirname "$0")/run-clients.py" "$@"
