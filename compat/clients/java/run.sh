#!/usr/bin/env bash
# Compiles Scenario.java against Debian's pgjdbc (once) and runs it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
jar="${PGJDBC_JAR:-/usr/share/java/postgresql.jar}"
classes="$here/classes"
if [ ! -f "$classes/Scenario.class" ] || [ "$here/Scenario.java" -nt "$classes/Scenario.class" ]; then
  mkdir -p "$classes"
  javac -encoding UTF-8 -cp "$jar" -d "$classes" "$here/Scenario.java"
fi
exec java -Dfile.encoding=UTF-8 -cp "$jar:$classes" Scenario
