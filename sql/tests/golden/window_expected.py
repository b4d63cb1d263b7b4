#!/usr/bin/env python3
"""Regenerates window.expected from a PostgreSQL 15 server.

Runs every statement of compat/sql/19_window.sql through psql in a fresh
database and writes what PostgreSQL answered (columns and rows as text, or
the SQLSTATE) to window.expected, which the `window` test compares the
engine against. Also reports statements whose `-- error:` annotation does
not match PostgreSQL.

Usage: window_expected.py HOST PORT [--corpus FILE --out FILE]
(a trust-auth server, user postgres; the options record another workload,
e.g. window_fuzz.py's, instead of the corpus file)
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "..", "compat", "sql", "19_window.sql")


def split(text):
    """(statement, expected SQLSTATE or None, status only) in file order."""
    out, cur, expect, status, quote, i = [], "", None, False, False, 0
    while i < len(text):
        c = text[i]
        if not quote and text.startswith("--", i):
            j = text.find("\n", i)
            j = len(text) if j < 0 else j
            line = text[i:j]
            if line.startswith("-- error:") and not cur.strip():
                expect = line.split(":", 1)[1].strip()
            if line.strip() == "-- status-only" and not cur.strip():
                status = True
            i = j
            continue
        if c == "'":
            quote = not quote
        if c == ";" and not quote:
            if cur.strip():
                out.append((" ".join(cur.split()), expect, status))
            cur, expect, status = "", None, False
        else:
            cur += c
        i += 1
    return out


def main():
    global CORPUS
    host, port = sys.argv[1], sys.argv[2]
    out_path = os.path.join(HERE, "window.expected")
    rest = sys.argv[3:]
    while len(rest) >= 2:
        if rest[0] == "--corpus":
            CORPUS = rest[1]
        elif rest[0] == "--out":
            out_path = rest[1]
        rest = rest[2:]
    psql = ["psql", "-X", "-q", "-A", "-F", "|", "-P", "null=<NULL>", "-P", "footer=off",
            "-v", "VERBOSITY=sqlstate", "-h", host, "-p", port, "-U", "postgres"]
    subprocess.run(psql + ["-c", "DROP DATABASE IF EXISTS corpus_window"], check=True)
    subprocess.run(psql + ["-c", "CREATE DATABASE corpus_window"], check=True)
    lines, bad = [], 0
    for n, (stmt, expect, status) in enumerate(split(open(CORPUS).read()), 1):
        r = subprocess.run(psql + ["-d", "corpus_window", "-c", stmt], capture_output=True, text=True)
        lines.append(f"### {n}")
        lines.append(stmt)
        if r.returncode != 0 or "ERROR:" in r.stderr:
            state = r.stderr.split("ERROR:", 1)[-1].strip().split()[0]
            lines.append(f"error {state}")
            if expect != state:
                bad += 1
                print(f"{n}: PostgreSQL says {state}, annotated {expect}: {stmt}")
        else:
            if expect:
                bad += 1
                print(f"{n}: PostgreSQL succeeds, annotated {expect}: {stmt}")
            out = r.stdout.rstrip("\n")
            lines.append("ok")
            # status-only statements (EXPLAIN) record success, not rows.
            if out and not status:
                lines.extend(out.split("\n"))
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    sys.exit(1 if bad else 0)


main()
