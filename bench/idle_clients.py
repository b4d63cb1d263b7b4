#!/usr/bin/env python3
"""Opens N idle PostgreSQL client connections and holds them (stdlib only).

Each connection sends a v3 StartupMessage (user, database) and reads until
ReadyForQuery, so the server under test has done the whole handshake (and,
for a proxy, whatever it keeps per client). Trust authentication only.

Usage: idle_clients.py PORT N HOLD_SECONDS [USER] [DATABASE]
Prints `READY <ok> <failed>` once all handshakes are done, then holds the
sockets HOLD_SECONDS and exits 0 (1 when any handshake failed).
"""

import socket
import struct
import sys
import time


def startup(port, user, database, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    params = b"user\0" + user.encode() + b"\0database\0" + database.encode() + b"\0\0"
    body = struct.pack("!I", 196608) + params
    s.sendall(struct.pack("!I", len(body) + 4) + body)
    buf = b""
    while True:
        while len(buf) < 5:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed during startup")
            buf += chunk
        tag = buf[0:1]
        (length,) = struct.unpack("!I", buf[1:5])
        if length < 4 or length > 1 << 20:
            raise ConnectionError("bad message length %d" % length)
        while len(buf) < 1 + length:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed during startup")
            buf += chunk
        body, buf = buf[5 : 1 + length], buf[1 + length :]
        if tag == b"E":
            raise ConnectionError("server error: %r" % body[:200])
        if tag == b"R":
            (code,) = struct.unpack("!I", body[:4])
            if code != 0:
                raise ConnectionError("authentication %d requested (trust only)" % code)
        if tag == b"Z":
            s.settimeout(None)
            return s


def main():
    port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    user = sys.argv[4] if len(sys.argv) > 4 else "postgres"
    database = sys.argv[5] if len(sys.argv) > 5 else "postgres"
    conns, failed, first_error = [], 0, None
    for _ in range(n):
        try:
            conns.append(startup(port, user, database))
        except OSError as e:
            failed += 1
            first_error = first_error or str(e)
    if first_error:
        print("first error: %s" % first_error, file=sys.stderr)
    print("READY %d %d" % (len(conns), failed), flush=True)
    time.sleep(hold)
    for s in conns:
        try:
            # Terminate, then close.
            s.sendall(b"X\0\0\0\4")
            s.close()
        except OSError:
            pass
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
