#!/usr/bin/env python3
"""Client compatibility suite: real drivers against PostgreSQL 15 and RustyDB.

Flow:
1. install what is missing (pip, npm, apt for the JDBC driver, cargo for the
   Rust clients) unless --no-install;
2. start PostgreSQL 15 (initdb/pg_ctl in a temp dir as the `postgres` OS
   user; SCRAM for the test user `compat`, TLS with a self-signed cert), one
   RustyDB node (SCRAM for `compat`, same cert) and `rustydb proxy` in front
   of it (users file holding a SCRAM verifier from `--hash-password`, TLS);
3. run every client's scenario (compat/clients/*) against the three targets
   `postgres`, `proxy`, `direct`; each prints `feature.detail: value` lines;
4. compare RustyDB's lines with PostgreSQL's: a feature (the part before the
   first dot) passes on a target when all its lines are equal to
   PostgreSQL's; otherwise the first differing line is the reason;
5. write the matrix into docs/compatibility.md (between the BEGIN/END
   client-matrix markers) and exit non-zero if any proxy cell fails.

Environment: RUSTYDB_BIN (default: build with cargo --release into
CARGO_TARGET_DIR), COMPAT_CLIENTS_TARGET (cargo target dir of the Rust
client crate; default compat/clients/rust/target), KEEP=1 keeps the temp dir.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENTS = os.path.join(ROOT, "compat", "clients")
USER, PASSWORD, DB = "compat", "compat-pw", "compat"
TARGETS = ["postgres", "proxy", "direct"]


def log(msg):
    print(f"[compat] {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"port {port} did not open")


# ---------------------------------------------------------------- install

def install(skip_rust):
    py = subprocess.run([sys.executable, "-c", "import psycopg, sqlalchemy, asyncpg"], capture_output=True)
    if py.returncode != 0:
        log("pip install psycopg[binary] sqlalchemy asyncpg")
        sh([sys.executable, "-m", "pip", "install", "-q", "psycopg[binary]", "sqlalchemy>=2", "asyncpg"])
    node_dir = os.path.join(CLIENTS, "node")
    if not os.path.isdir(os.path.join(node_dir, "node_modules", "pg")):
        log("npm install (pg)")
        sh(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=node_dir)
    if shutil.which("javac") is None or not os.path.exists(jdbc_jar()):
        log("apt-get install default-jdk-headless libpostgresql-jdbc-java")
        sh("apt-get install -y -q default-jdk-headless libpostgresql-jdbc-java", env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if not skip_rust:
        log("cargo build --release (compat/clients/rust: tokio-postgres, sqlx)")
        sh(["cargo", "build", "--release", "-q"], cwd=os.path.join(CLIENTS, "rust"),
           env=dict(os.environ, CARGO_TARGET_DIR=rust_target()))


def jdbc_jar():
    return "/usr/share/java/postgresql.jar"


def rust_target():
    return os.environ.get("COMPAT_CLIENTS_TARGET", os.path.join(CLIENTS, "rust", "target"))


def rustydb_bin():
    b = os.environ.get("RUSTYDB_BIN")
    if b:
        return b
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    log("cargo build --release -p rustydb (set RUSTYDB_BIN to skip)")
    sh(["cargo", "build", "--release", "-q", "--bin", "rustydb"], cwd=ROOT)
    return os.path.join(target, "release", "rustydb")


# ---------------------------------------------------------------- servers

class Servers:
    def __init__(self, tmp, rbin):
        self.tmp, self.rbin = tmp, rbin
        self.procs = []
        self.pg_port, self.node_port, self.proxy_port = free_port(), free_port(), free_port()
        self.pgdata = os.path.join(tmp, "pg")

    def cert(self):
        self.crt, self.key = os.path.join(self.tmp, "server.crt"), os.path.join(self.tmp, "server.key")
        sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-keyout", self.key, "-out", self.crt], capture_output=True)
        os.chmod(self.key, 0o600)

    def start_postgres(self):
        os.makedirs(self.pgdata)
        shutil.chown(self.tmp, "postgres")
        for f in (self.crt, self.key):
            shutil.chown(f, "postgres")
        shutil.chown(self.pgdata, "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        sh(as_pg + ["initdb", "-A", "trust", "-U", "postgres", "--locale=C", "-E", "UTF8", "-D", self.pgdata], capture_output=True)
        with open(os.path.join(self.pgdata, "pg_hba.conf"), "w") as f:
            f.write(f"local all all trust\nhost all postgres 127.0.0.1/32 trust\n"
                    f"host all {USER} 127.0.0.1/32 scram-sha-256\n")
        with open(os.path.join(self.pgdata, "postgresql.conf"), "a") as f:
            f.write(f"ssl = on\nssl_cert_file = '{self.crt}'\nssl_key_file = '{self.key}'\n"
                    "password_encryption = 'scram-sha-256'\nfsync = off\n")
        sh(as_pg + ["pg_ctl", "-D", self.pgdata, "-w", "-l", os.path.join(self.pgdata, "log"), "-o",
                    f"-p {self.pg_port} -k {self.tmp} -c listen_addresses=127.0.0.1", "start"], capture_output=True)
        self.psql_admin(self.pg_port, f"CREATE ROLE {USER} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
        self.psql_admin(self.pg_port, f"CREATE DATABASE {DB} OWNER {USER}")

    def psql_admin(self, port, sql, db="postgres"):
        sh(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
            "-d", db, "-c", sql], capture_output=True)

    def spawn(self, name, args):
        logf = open(os.path.join(self.tmp, f"{name}.log"), "w")
        p = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(p)
        return p

    def start_rustydb(self):
        ndir = os.path.join(self.tmp, "node")
        os.makedirs(ndir)
        conf = os.path.join(self.tmp, "node.toml")
        with open(conf, "w") as f:
            f.write(f'listen = "127.0.0.1:{self.node_port}"\ndata_dir = "{ndir}"\nauth = "trust"\n'
                    f'sync_commit = false\ntls_cert = "{self.crt}"\ntls_key = "{self.key}"\n'
                    f'[[users]]\nname = "{USER}"\npassword = "{PASSWORD}"\nmethod = "scram-sha-256"\n')
        self.spawn("node", [self.rbin, "node", "--config", conf])
        wait_port(self.node_port)
        self.psql_admin(self.node_port, f"CREATE DATABASE {DB}")
        verifier = subprocess.run([self.rbin, "proxy", "--hash-password"], input=PASSWORD + "\n",
                                  capture_output=True, text=True, check=True).stdout.strip()
        users = os.path.join(self.tmp, "users.txt")
        with open(users, "w") as f:
            f.write(f'"{USER}" "{verifier}"\n')
        pconf = os.path.join(self.tmp, "proxy.toml")
        with open(pconf, "w") as f:
            f.write(f'listen = "127.0.0.1:{self.proxy_port}"\nbackends = ["127.0.0.1:{self.node_port}"]\n'
                    f'[auth]\nusers_file = "{users}"\n'
                    f'hba = [{{ type = "host", address = "all", user = "{USER}", method = "scram-sha-256" }},\n'
                    f'       {{ type = "host", address = "127.0.0.0/8", method = "trust" }}]\n'
                    f'[auth.backend_passwords]\n{USER} = "{PASSWORD}"\n'
                    f'[tls]\ncert = "{self.crt}"\nkey = "{self.key}"\n')
        self.spawn("proxy", [self.rbin, "proxy", "--config", pconf])
        wait_port(self.proxy_port)
        time.sleep(1.0)  # first health check: the backend's role

    def port(self, target):
        return {"postgres": self.pg_port, "proxy": self.proxy_port, "direct": self.node_port}[target]

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if os.path.isdir(self.pgdata):
            as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
            subprocess.run(as_pg + ["pg_ctl", "-D", self.pgdata, "-m", "fast", "stop"], capture_output=True)


# ---------------------------------------------------------------- clients

def client_commands():
    py = os.path.join(CLIENTS, "python")
    rbin = os.path.join(rust_target(), "release", "rustydb-compat-clients")
    java_dir = os.path.join(CLIENTS, "java")
    return OrderedDict([
        ("psql", ["bash", os.path.join(CLIENTS, "psql", "scenario.sh")]),
        ("pgbench", ["bash", os.path.join(CLIENTS, "pgbench", "scenario.sh")]),
        ("psycopg 3", [sys.executable, os.path.join(py, "psycopg_scenario.py")]),
        ("SQLAlchemy 2 ORM", [sys.executable, os.path.join(py, "sqlalchemy_scenario.py")]),
        ("asyncpg", [sys.executable, os.path.join(py, "asyncpg_scenario.py")]),
        ("node-postgres", ["node", os.path.join(CLIENTS, "node", "scenario.js")]),
        ("PostgreSQL JDBC", ["bash", os.path.join(java_dir, "run.sh")]),
        ("tokio-postgres", [rbin, "tokio-postgres"]),
        ("sqlx", [rbin, "sqlx"]),
    ])


def run_client(cmd, servers, target, timeout):
    env = dict(os.environ, COMPAT_HOST="127.0.0.1", COMPAT_PORT=str(servers.port(target)), COMPAT_USER=USER,
               COMPAT_PASSWORD=PASSWORD, COMPAT_DB=DB, COMPAT_TARGET=target, PGPASSWORD=PASSWORD,
               PGCONNECT_TIMEOUT="10", COMPAT_TMP=servers.tmp)
    t0 = time.time()
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        stdout, stderr, rc = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        stdout = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        stderr, rc = f"timed out after {timeout}s", -1
    lines = OrderedDict()
    for line in stdout.splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            lines[k.strip()] = v.rstrip()
    return lines, stderr, rc, time.time() - t0


def feature_of(key):
    return key.split(".", 1)[0]


def compare(ref, got, stderr, rc):
    """feature -> (ok, reason) for one client on one target vs PostgreSQL."""
    result = OrderedDict()
    for key, want in ref.items():
        f = feature_of(key)
        ok, reason = result.get(f, (True, ""))
        if not ok:
            continue
        if key not in got:
            extra = [f"{k}: {v}" for k, v in got.items() if feature_of(k) == f and k not in ref]
            tail = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {rc}"
            why = f"`{extra[0][:160]}`" if extra else tail[:160]
            result[f] = (False, f"`{key}` missing ({why})")
        elif got[key] != want:
            result[f] = (False, f"`{key}`: got `{got[key][:120]}`, PostgreSQL `{want[:120]}`")
        else:
            result[f] = (True, "")
    for key in got:
        if key not in ref and feature_of(key) not in result:
            result[feature_of(key)] = (False, f"`{key}` only on RustyDB: `{got[key][:120]}`")
    return result


# ---------------------------------------------------------------- report

BEGIN, END = "<!-- BEGIN client-matrix (generated by compat/run-clients.sh) -->", "<!-- END client-matrix -->"


def esc(s):
    return s.replace("|", "\\|").replace("\n", " ")


def report(results, timings, out_path):
    features = []
    for client in results:
        for f in results[client]["features"]:
            if f not in features:
                features.append(f)
    lines = [BEGIN, "", "## Clients", "",
             "Generated by `compat/run-clients.sh`: each client runs the same scenario "
             "(`compat/clients/`) against PostgreSQL 15, against RustyDB through `rustydb proxy` "
             "(SCRAM user from a users file, TLS) and against a RustyDB node directly; a cell passes "
             "when every `feature.detail` line the client prints equals PostgreSQL's. "
             "`proxy / direct` per cell; `-` = the client's scenario has no such check.", ""]
    lines.append("| client | " + " | ".join(features) + " |")
    lines.append("|---|" + "---|" * len(features))
    reasons = []
    for client, r in results.items():
        cells = []
        for f in features:
            if f not in r["features"]:
                cells.append("-")
                continue
            marks = []
            for target in ("proxy", "direct"):
                ok, why = r["cmp"][target].get(f, (False, "not run"))
                marks.append("pass" if ok else "**fail**")
                if not ok:
                    reasons.append(f"- {client} / {f} / {target}: {esc(why)}")
            cells.append(" / ".join(marks))
        lines.append(f"| {client} | " + " | ".join(cells) + " |")
    lines += ["", "Failures (the first differing line per cell):", ""]
    lines += reasons or ["- none"]
    lines += ["", "Scenario wall time per client (PostgreSQL / proxy / direct, seconds): " +
              "; ".join(f"{c} {timings[c]}" for c in timings), "", END]
    block = "\n".join(lines) + "\n"
    text = open(out_path).read() if os.path.exists(out_path) else "# PostgreSQL compatibility\n\n"
    if BEGIN in text and END in text:
        pre, rest = text.split(BEGIN, 1)
        post = rest.split(END, 1)[1].lstrip("\n")
        text = pre + block + ("\n" + post if post else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    with open(out_path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-install", action="store_true")
    ap.add_argument("--only", help="comma-separated client names")
    ap.add_argument("--no-report", action="store_true")
    ap.add_argument("--timeout", type=int, default=180)
    ap.add_argument("--show", action="store_true", help="print each client's raw lines")
    ap.add_argument("--serve", action="store_true", help="debugging: start the servers, run nothing")
    ap.add_argument("--targets", default=",".join(TARGETS), help="debugging: a subset of postgres,proxy,direct")
    args = ap.parse_args()
    t_start = time.time()
    if not args.no_install:
        install(skip_rust=False)
    rbin = rustydb_bin()
    tmp = tempfile.mkdtemp(prefix="rustydb-clients-")
    os.chmod(tmp, 0o755)
    servers = Servers(tmp, rbin)
    results, timings = OrderedDict(), OrderedDict()
    try:
        servers.cert()
        servers.start_postgres()
        servers.start_rustydb()
        log(f"postgres :{servers.pg_port}, node :{servers.node_port}, proxy :{servers.proxy_port} ({tmp})")
        if args.serve:
            log(f"serving until interrupted (user {USER}, password {PASSWORD}, database {DB})")
            # SIGTERM too: a backgrounded job ignores SIGINT.
            signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return
        for client, cmd in client_commands().items():
            if args.only and client not in args.only.split(","):
                continue
            outs, times = {}, []
            for target in TARGETS:
                if target not in args.targets.split(","):
                    outs[target] = (OrderedDict(), "not run (--targets)", 0, 0.0)
                    continue
                outs[target] = run_client(cmd, servers, target, args.timeout)
                times.append(f"{outs[target][3]:.1f}")
                if args.show:
                    print(f"== {client} @ {target} (rc {outs[target][2]})\n" +
                          "\n".join(f"{k}: {v}" for k, v in outs[target][0].items()) +
                          ("\n" + outs[target][1][-2000:] if outs[target][1] else ""))
            ref = outs["postgres"][0]
            if not ref:
                log(f"{client}: no output against PostgreSQL: {outs['postgres'][1][-500:]}")
            cmp_ = {t: compare(ref, outs[t][0], outs[t][1], outs[t][2]) for t in ("proxy", "direct")}
            feats = OrderedDict((feature_of(k), None) for k in ref)
            results[client] = {"features": list(feats), "cmp": cmp_}
            timings[client] = " / ".join(times)
            bad = [f"{t}:{f}" for t in cmp_ for f, (ok, _) in cmp_[t].items() if not ok]
            log(f"{client}: {'all pass' if not bad else 'FAIL ' + ', '.join(bad)} ({timings[client]}s)")
    finally:
        servers.stop()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"kept {tmp}")
    if not args.no_report and not args.only:
        report(results, timings, os.path.join(ROOT, "docs", "compatibility.md"))
        log("wrote docs/compatibility.md")
    log(f"total {time.time() - t_start:.0f}s")
    proxy_fail = any(not ok for r in results.values() for ok, _ in r["cmp"]["proxy"].values())
    sys.exit(1 if proxy_fail else 0)


if __name__ == "__main__":
    main()
