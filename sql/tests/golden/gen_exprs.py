# Regenerates sql/tests/golden/exprs.tsv from a real PostgreSQL 15.
# Usage: start PG 15 on 127.0.0.1:55439 (user postgres, trust auth), then
#   python3 sql/tests/golden/gen_exprs.py sql/tests/golden/exprs.tsv
import subprocess, sys
S = " ;; "
ops = [
 ("+", ["integer:2147483647","integer:1"]), ("+", ["integer:1","integer:2"]), ("+", ["smallint:1","smallint:2"]),
 ("+", ["integer:1","bigint:2"]), ("+", ["integer:1","numeric:1.5"]), ("+", ["integer:1","real:1.5"]),
 ("+", ["real:1.5","real:1.25"]), ("+", ["double precision:0.1","double precision:0.2"]), ("-", ["bigint:-9223372036854775808","bigint:1"]),
 ("*", ["smallint:200","smallint:200"]), ("*", ["numeric:1.5","numeric:2.25"]), ("*", ["double precision:1e300","double precision:1e300"]),
 ("/", ["integer:7","integer:2"]), ("/", ["integer:-7","integer:2"]), ("/", ["integer:7","integer:0"]), ("/", ["numeric:1","numeric:3"]),
 ("/", ["numeric:10","numeric:4"]), ("/", ["numeric:1","numeric:8"]), ("/", ["numeric:123456","numeric:7"]), ("/", ["numeric:0.001","numeric:3"]),
 ("/", ["numeric:2.50","numeric:1.5"]), ("/", ["double precision:1","double precision:0"]), ("/", ["numeric:1","numeric:0"]),
 ("/", ["integer:-2147483648","integer:-1"]), ("%", ["integer:-7","integer:3"]), ("%", ["numeric:7.5","numeric:2"]), ("%", ["integer:5","integer:0"]),
 ("^", ["integer:2","integer:10"]), ("^", ["numeric:2","numeric:10"]), ("^", ["numeric:2","numeric:0.5"]), ("^", ["double precision:0","double precision:-1"]),
 ("^", ["numeric:1.1","numeric:2"]), ("^", ["double precision:-8","double precision:0.5"]),
 ("||", ["text:a","text:b"]), ("||", ["text:a","integer:1"]), ("||", ["text:a","boolean:t"]), ("||", ["integer[]:{1,2}","integer:3"]),
 ("||", ["integer[]:{1,2}","integer[]:{3}"]), ("||", ["jsonb:{\"a\":1}","jsonb:{\"b\":2}"]), ("||", ["jsonb:[1]","jsonb:2"]), ("||", ["bytea:\\x01","bytea:\\x02"]),
 ("=", ["integer:1","numeric:1.0"]), ("<", ["text:B","text:a"]), ("=", ["double precision:NaN","double precision:NaN"]), (">", ["double precision:NaN","double precision:1e308"]),
 ("=", ["interval:1 mon","interval:30 days"]), ("<", ["date:2024-01-31","timestamp:2024-01-31 00:00:01"]), ("=", ["jsonb:{\"a\":1.0}","jsonb:{\"a\":1}"]),
 ("<", ["integer[]:{1,2}","integer[]:{1,2,0}"]), ("=", ["integer:1","text:1"]), ("<>", ["boolean:t","boolean:f"]),
 ("-", ["date:2024-03-01","date:2024-02-01"]), ("+", ["date:2024-01-31","integer:1"]), ("+", ["date:2024-01-31","interval:1 mon"]),
 ("-", ["date:2024-03-31","interval:1 mon"]), ("+", ["timestamp:2024-01-31 10:00","interval:1 day 2 hours"]), ("-", ["timestamp:2024-01-02","timestamp:2024-01-01 01:00"]),
 ("-", ["timestamp:2024-03-01","timestamp:2023-01-01"]), ("+", ["timestamp with time zone:2024-01-31 10:00+00","interval:1 hour"]),
 ("-", ["timestamp with time zone:2024-01-31 10:00+00","timestamp with time zone:2024-01-30 09:00+00"]), ("+", ["time:23:00","interval:2 hours"]),
 ("-", ["time:10:00","time:12:30"]), ("*", ["interval:1 mon","double precision:0.5"]), ("*", ["interval:1 day 01:00","integer:3"]), ("/", ["interval:1 day","integer:3"]),
 ("+", ["interval:1 day","interval:-25 hours"]), ("+", ["date:2024-01-31","time:10:00"]),
 ("->", ["jsonb:{\"a\":{\"b\":[1,2]}}","text:a"]), ("->>", ["jsonb:{\"a\":\"x\"}","text:a"]), ("->", ["json:[1,2,3]","integer:-1"]), ("->", ["jsonb:[1,2,3]","integer:5"]),
 ("#>", ["jsonb:{\"a\":{\"b\":[1,2]}}","text[]:{a,b,1}"]), ("#>>", ["jsonb:{\"a\":{\"b\":[1,2]}}","text[]:{a,b}"]), ("->>", ["json:{\"a\":null}","text:a"]),
 ("@>", ["jsonb:{\"a\":1,\"b\":[1,2,3]}","jsonb:{\"b\":[3]}"]), ("<@", ["jsonb:{\"b\":[3]}","jsonb:{\"a\":1,\"b\":[1,2,3]}"]), ("?", ["jsonb:{\"a\":1}","text:a"]),
 ("?", ["jsonb:[\"a\"]","text:a"]), ("-", ["jsonb:{\"a\":1,\"b\":2}","text:a"]), ("-", ["jsonb:[1,2,3]","integer:1"]),
 ("@>", ["integer[]:{1,2,3}","integer[]:{3,1}"]), ("@>", ["integer[]:{1,NULL}","integer[]:{NULL}"]), ("&&", ["integer[]:{1,2}","integer[]:{2,3}"]),
 ("~", ["text:abc","text:^a.c$"]), ("~*", ["text:ABC","text:b"]), ("!~", ["text:abc","text:z"]), ("~", ["text:foo bar","text:\\mbar"]),
 ("&", ["integer:12","integer:10"]), ("|", ["smallint:12","smallint:3"]), ("#", ["bigint:12","bigint:10"]), ("<<", ["integer:1","integer:31"]), (">>", ["integer:-16","integer:2"]),
]
fns = [
 ("length",["text:héllo"]), ("octet_length",["text:héllo"]), ("bit_length",["text:ab"]), ("lower",["text:ÀB"]), ("upper",["text:àb"]), ("initcap",["text:hELLO wORLD-foo bar_baz"]),
 ("substr",["text:hello","integer:2"]), ("substr",["text:hello","integer:-1","integer:3"]), ("substring",["text:hello","integer:2","integer:2"]), ("substring",["text:foo123","text:[0-9]+"]),
 ("strpos",["text:hello","text:ll"]), ("btrim",["text:xyhixy","text:xy"]), ("ltrim",["text:  hi  "]), ("rtrim",["text:hi!!","text:!"]),
 ("replace",["text:abcabc","text:b","text:X"]), ("concat",["text:a","integer:1","boolean:t"]), ("concat_ws",["text:-","text:a","text:b"]), ("left",["text:hello","integer:-2"]),
 ("right",["text:hello","integer:-2"]), ("lpad",["text:hi","integer:5","text:xy"]), ("rpad",["text:hi","integer:1"]), ("repeat",["text:ab","integer:0"]), ("reverse",["text:héllo"]),
 ("split_part",["text:a,b,c","text:,","integer:2"]), ("split_part",["text:a,b,c","text:,","integer:0"]), ("md5",["text:"]), ("to_hex",["bigint:255"]), ("to_hex",["integer:-255"]),
 ("ascii",["text:é"]), ("chr",["integer:233"]), ("starts_with",["text:hello","text:he"]), ("translate",["text:hello","text:lo","text:L"]), ("quote_ident",["text:a b"]),
 ("quote_ident",["text:user"]), ("quote_ident",["text:abc_1"]), ("quote_literal",["text:a\\b"]), ("format",["text:%s-%s","text:a","integer:1"]), ("format",["text:%I.%L","text:T","text:o'k"]),
 ("regexp_replace",["text:hello world","text:o","text:0","text:g"]), ("regexp_replace",["text:abc","text:(a)(b)","text:\\2\\1"]), ("regexp_match",["text:abc123","text:[0-9]+"]),
 ("regexp_match",["text:abc","text:z"]), ("string_to_array",["text:a|b|c","text:|"]), ("array_to_string",["integer[]:{1,2,NULL}","text:-"]), ("encode",["bytea:\\x00ff41","text:hex"]),
 ("encode",["bytea:\\x00ff41","text:escape"]), ("decode",["text:00ff","text:hex"]), ("encode",["bytea:\\x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f","text:base64"]),
 ("abs",["integer:-5"]), ("abs",["numeric:-1.50"]), ("abs",["double precision:-0.5"]), ("ceil",["numeric:1.2"]), ("ceil",["double precision:-1.2"]), ("floor",["numeric:-1.2"]),
 ("round",["numeric:2.5"]), ("round",["double precision:2.5"]), ("round",["double precision:3.5"]), ("round",["numeric:1.2345","integer:3"]), ("round",["numeric:1250","integer:-2"]),
 ("trunc",["numeric:-1.789","integer:2"]), ("trunc",["double precision:-1.7"]), ("mod",["integer:-7","integer:3"]), ("mod",["numeric:10.5","numeric:3"]), ("div",["numeric:-7","numeric:2"]),
 ("power",["integer:2","integer:-1"]), ("power",["numeric:4","numeric:0.5"]), ("sqrt",["numeric:10000"]), ("sqrt",["numeric:0.01"]), ("sqrt",["integer:-1"]), ("cbrt",["double precision:8"]),
 ("exp",["integer:1"]), ("exp",["numeric:2"]), ("ln",["numeric:100"]), ("log",["numeric:100"]), ("log",["numeric:10","numeric:1000"]), ("log10",["double precision:1000"]),
 ("sign",["double precision:-0.0"]), ("pi",[]), ("degrees",["double precision:1"]), ("radians",["double precision:180"]), ("sin",["double precision:1"]), ("atan2",["double precision:1","double precision:2"]),
 ("gcd",["integer:12","integer:18"]), ("lcm",["bigint:4","bigint:6"]), ("gcd",["numeric:12","numeric:18"]), ("width_bucket",["double precision:5.35","double precision:0.024","double precision:10.06","integer:5"]),
 ("date_part",["text:year","timestamp:2024-01-31 10:11:12.5"]), ("date_part",["text:second","timestamp:2024-01-31 10:11:12.5"]), ("date_part",["text:epoch","date:2024-01-31"]),
 ("date_part",["text:doy","date:2024-12-31"]), ("date_part",["text:isodow","date:2024-01-28"]), ("date_part",["text:quarter","date:2024-05-01"]), ("date_part",["text:decade","date:2024-05-01"]),
 ("date_part",["text:millennium","date:2001-01-01"]), ("date_part",["text:hour","interval:1 day 25:30:00"]), ("date_part",["text:month","interval:14 mons"]), ("date_part",["text:epoch","interval:1 mon 1 day"]),
 ("date_part",["text:milliseconds","time:10:11:12.345"]), ("date_part",["text:week","date:2021-01-01"]), ("date_part",["text:isoyear","date:2021-01-01"]), ("date_part",["text:foo","date:2021-01-01"]),
 ("extract",["text:epoch","timestamp:2024-01-31 10:00:00.5"]), ("extract",["text:second","time:10:11:12.5"]), ("extract",["text:year","date:2024-01-31"]), ("extract",["text:epoch","interval:1 year"]),
 ("extract",["text:epoch","date:2024-01-31"]), ("extract",["text:milliseconds","timestamp:2024-01-31 10:00:01.5"]), ("extract",["text:day","interval:3 days 04:00"]),
 ("date_trunc",["text:quarter","timestamp:2024-05-31 10:00"]), ("date_trunc",["text:year","timestamp with time zone:2024-05-31 10:00+00"]), ("date_trunc",["text:minute","timestamp:2024-05-31 10:11:12"]),
 ("date_trunc",["text:century","timestamp:2024-05-31"]), ("date_trunc",["text:decade","timestamp:2024-05-31"]), ("date_trunc",["text:month","interval:1 year 2 mons 3 days"]),
 ("age",["timestamp:2024-03-01","timestamp:2024-01-31"]), ("age",["timestamp:2024-01-31","timestamp:2024-03-01"]), ("age",["timestamp:2000-02-29","timestamp:1999-03-01 12:00"]),
 ("make_date",["integer:2024","integer:2","integer:29"]), ("make_date",["integer:2023","integer:2","integer:29"]), ("make_time",["integer:10","integer:5","double precision:3.5"]),
 ("make_timestamp",["integer:2024","integer:1","integer:31","integer:10","integer:5","double precision:3.25"]), ("make_interval",["integer:1","integer:2","integer:3","integer:4","integer:5","integer:6","double precision:7.5"]),
 ("justify_days",["interval:35 days"]), ("justify_hours",["interval:-27 hours"]), ("justify_interval",["interval:-1 mon 35 days"]),
 ("to_char",["timestamp:2024-01-05 03:04:05.678","text:YYYY-MM-DD HH:MI:SS.MS am Dy DDD IW Q"]), ("to_char",["timestamp:2024-12-25 00:00","text:FMDay, FMDD FMMonth YYYY"]),
 ("to_char",["numeric:-1234.567","text:9,999.99"]), ("to_char",["numeric:0.5","text:0.00"]), ("to_char",["integer:7","text:FM00"]), ("to_char",["double precision:3.14159","text:9.999"]),
 ("to_char",["interval:1 day 10:20:30","text:HH24:MI:SS"]), ("to_date",["text:31 Jan 2024","text:DD Mon YYYY"]), ("to_timestamp",["text:2024-01-31 10:00:00","text:YYYY-MM-DD HH24:MI:SS"]),
 ("to_timestamp",["double precision:1706695200.5"]),
 ("to_json",["text:a\"b"]), ("to_json",["integer[]:{1,2}"]), ("to_jsonb",["numeric:1.5"]), ("to_json",["date:2024-01-31"]), ("to_jsonb",["boolean:t"]),
 ("json_build_object",["text:a","integer:1","text:b","text:x"]), ("jsonb_build_object",["text:b","integer:1","text:a","boolean:f"]), ("json_build_array",["integer:1","text:x"]),
 ("jsonb_build_array",["integer:1","text:x"]), ("json_typeof",["json:{}"]), ("jsonb_typeof",["jsonb:1.5"]), ("jsonb_array_length",["jsonb:[1,[2,3]]"]), ("jsonb_array_length",["jsonb:5"]),
 ("jsonb_extract_path",["jsonb:{\"a\":{\"b\":2}}","text:a","text:b"]), ("json_extract_path_text",["json:{\"a\":{\"b\":\"x\"}}","text:a","text:b"]),
 ("jsonb_set",["jsonb:[1,2,3]","text[]:{1}","jsonb:\"x\""]), ("jsonb_set",["jsonb:{\"a\":1}","text[]:{b}","jsonb:2","boolean:f"]), ("jsonb_strip_nulls",["jsonb:{\"a\":null,\"b\":{\"c\":null}}"]),
 ("jsonb_pretty",["jsonb:{\"a\":[1,2],\"b\":{}}"]),
 ("array_length",["integer[]:{1,2,3}","integer:1"]), ("array_length",["integer[]:{1,2,3}","integer:2"]), ("array_upper",["text[]:{a,b}","integer:1"]), ("array_lower",["text[]:{a,b}","integer:1"]),
 ("array_ndims",["integer[]:{1}"]), ("cardinality",["integer[]:{}"]), ("array_append",["integer[]:{1,2}","integer:3"]), ("array_prepend",["integer:0","integer[]:{1,2}"]),
 ("array_cat",["text[]:{a}","text[]:{b,c}"]), ("array_position",["text[]:{a,b,c,b}","text:b"]), ("array_position",["text[]:{a,b,c,b}","text:b","integer:3"]), ("array_remove",["integer[]:{1,2,1}","integer:1"]),
 ("array_replace",["integer[]:{1,2,1}","integer:1","integer:5"]), ("greatest",["integer:1","integer:5","integer:3"]), ("least",["numeric:1.5","integer:1"]), ("num_nulls",["integer:1","text:x"]),
]
def lit(a):
    t, v = a.split(":", 1)
    return "($q$%s$q$::%s)" % (v, t)
out = []
def run(expr):
    q = "select pg_typeof(%s)::text || ':' || coalesce((%s)::text, '<NULL>')" % (expr, expr)
    r = subprocess.run(["psql","-h","127.0.0.1","-p","55439","-U","postgres","-At","-c",q], capture_output=True, text=True)
    if r.returncode == 0 and not r.stderr.strip():
        return "ok:" + r.stdout.rstrip("\n").replace("\n", "\\n")
    err = [l for l in r.stderr.splitlines() if l.startswith("ERROR:")]
    return "err:" + (err[0][len("ERROR:  "):] if err else r.stderr.strip())
for sym, args in ops:
    out.append("op\t%s\t%s\t%s" % (sym, S.join(args), run("%s %s %s" % (lit(args[0]), sym, lit(args[1])))))
for name, args in fns:
    out.append("fn\t%s\t%s\t%s" % (name, S.join(args), run("%s(%s)" % (name if name != "extract" else "extract_", ", ".join(lit(a) for a in args)) if name != "extract" else "extract(%s from %s)" % (args[0].split(":",1)[1], lit(args[1])))))
open(sys.argv[1], "w").write("\n".join(out) + "\n")
