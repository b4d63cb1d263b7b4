# Regenerates sql/tests/golden/binary_cast.tsv from a real PostgreSQL 15 (see gen_text_io.py).
import subprocess, sys
# Binary send format: COPY (SELECT $q$lit$q$::type) TO STDOUT (FORMAT binary)
binary = {
 "boolean": ["t"], "smallint": ["-2"], "integer": ["123456"], "bigint": ["-9223372036854775808"], "real": ["1.5"], "double precision": ["0.1","-Infinity"],
 "numeric": ["0","1.50","12345.678","-0.0001","10000","99999999.99999999","0.00005","123456789012345678901234.5678"],
 "text": ["héllo"], "character varying(5)": ["ab"], "bytea": ["\\x00ff"], "date": ["2000-01-02","1999-12-31","2024-02-29"], "time": ["13:45:00.5"],
 "timestamp": ["2024-01-31 13:45:00.25","1970-01-01"], "timestamp with time zone": ["2024-01-31 13:45:00+02"], "interval": ["1 year 2 mons 3 days 04:05:06.5","-1 day"],
 "uuid": ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"], "json": ['{"a": 1}'], "jsonb": ['{"b": 1, "a": [1, 2]}'],
 "integer[]": ["{1,NULL,3}","{}"], "text[]": ["{a,\"b c\"}"], "numeric[]": ["{1.5}"], "oid": ["4294967295"],
}
casts = [
 ("double precision:2.5","integer"), ("double precision:3.5","integer"), ("double precision:-2.5","smallint"), ("numeric:2.5","integer"), ("numeric:-2.5","bigint"),
 ("real:1e10","integer"), ("integer:70000","smallint"), ("bigint:3000000000","integer"), ("numeric:123.456","numeric(5,2)"), ("numeric:99999.5","numeric(5,0)"),
 ("integer:1","numeric(5,2)"), ("double precision:0.1","numeric"), ("real:0.1","numeric"), ("real:0.1","double precision"), ("double precision:1e39","real"),
 ("numeric:1.5","double precision"), ("boolean:t","integer"), ("integer:0","boolean"), ("integer:5","boolean"), ("boolean:t","text"), ("text:abcdef","character varying(3)"),
 ("text:ab","character(4)"), ("text:abcdef","character(2)"), ("integer:42","text"), ("date:2024-01-31","timestamp"), ("timestamp:2024-01-31 10:00","date"),
 ("timestamp:2024-01-31 10:00","timestamp with time zone"), ("timestamp with time zone:2024-01-31 10:00+02","timestamp"), ("timestamp:2024-01-31 10:11:12","time"),
 ("time:10:11:12","interval"), ("interval:1 day 02:03:04","time"), ("json:{\"b\":1,\"a\":2}","jsonb"), ("jsonb:{\"b\":1,\"a\":2}","json"), ("jsonb:1.5","numeric"),
 ("jsonb:\"x\"","integer"), ("jsonb:true","boolean"), ("integer:-1","oid"), ("integer[]:{1,2}","text[]"), ("text[]:{1,2}","integer[]"), ("integer:5","date"),
 ("uuid:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","text"), ("bytea:\\x41","text"), ("numeric:1e5","text"), ("interval:-1 day","text"), ("double precision:NaN","integer"),
 ("integer:1","interval"), ("double precision:1e20","bigint"), ("text: 12 ","integer"), ("numeric:12.5","real"),
]
def run(args):
    return subprocess.run(["psql","-h","127.0.0.1","-p","55439","-U","postgres","-At"] + args, capture_output=True)
out = []
for ty, lits in binary.items():
    for lit in lits:
        r = run(["-c", "copy (select $q$%s$q$::%s) to stdout (format binary)" % (lit, ty)])
        b = r.stdout
        if r.returncode != 0:
            res = "err:" + r.stderr.decode()
        else:
            body = b[19:]  # signature(11) + flags(4) + extension length(4)
            n = int.from_bytes(body[2:6], "big", signed=True)
            res = "ok:" + body[6:6 + n].hex()
        out.append("bin\t%s\t%s\t%s" % (ty, lit, res))
for src, to in casts:
    t, lit = src.split(":", 1)
    q = "select ($q$%s$q$::%s)::%s::text" % (lit, t, to)
    r = run(["-c", q])
    if r.returncode == 0 and not r.stderr.strip():
        res = "ok:" + r.stdout.decode().rstrip("\n")
    else:
        err = [l for l in r.stderr.decode().splitlines() if l.startswith("ERROR:")]
        res = "err:" + (err[0][len("ERROR:  "):] if err else r.stderr.decode().strip())
    out.append("cast\t%s\t%s\t%s" % (to, src, res))
open(sys.argv[1], "w").write("\n".join(out) + "\n")
