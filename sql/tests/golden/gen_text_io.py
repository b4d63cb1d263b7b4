# Regenerates sql/tests/golden/text_io.tsv from a real PostgreSQL 15.
# Usage: start PG 15 on 127.0.0.1:55439 (user postgres, trust auth), then
#   python3 sql/tests/golden/gen_text_io.py sql/tests/golden/text_io.tsv
import subprocess, sys
cases = {
 "boolean": ["t","TRUE"," yes ","off","1","0","o","maybe",""],
 "smallint": ["1"," -32768 ","32768","1.5","abc",""],
 "integer": ["42"," +7 ","2147483648","-2147483648","1e3","0x1F","  "],
 "bigint": ["9223372036854775807","9223372036854775808","-12"],
 "real": ["1.1","1e38","1e39","-0","NaN","inf","3.4028235e38","1234567","0.000012345","1e-46"],
 "double precision": ["0.1","1e30","1e15","123456789012345","-0","Infinity","-inf","1e308","1e309","2.5e-5","abc","1/3"],
 "numeric": ["1.50"," 00012.3400 ","-0.0","1e3","1.5e-3",".5","5.","abc","1e","12345678901234567890.123456789"],
 "numeric(5,2)": ["123.456","1234.5","-0.005","99.999","0.001"],
 "numeric(3)": ["1.5","999.4","999.5"],
 "varchar(3)": ["abcdef","ab","héllo"],
 "character(4)": ["ab","abcdef"],
 "text": ["x y","",'a"b'],
 "bytea": ["\\x0102","\\xDEADbeef","abc","a\\\\b","\\001\\002","\\x0","\\xzz","\\q"],
 "date": ["2024-01-31","2024/01/31","01/31/2024","20240131","Jan 31 2024","31 January 2024","2024-02-30","2024-13-01","0044-03-15 BC","epoch","abc","2024-01-31 10:00:00","1999-1-2"],
 "time": ["13:45","13:45:00.5","13:45:00.1234567","25:00","10:00:00+02","abc","2024-01-31 10:11:12"],
 "timestamp": ["2024-01-31","2024-01-31 10:00","2024-01-31T10:00:00Z","2024-01-31 10:00:00+02","2024-01-31 10:00:00.123456789","epoch","abc","2024-01-31 24:00:01","Jan 31 2024 10:00","0001-01-01 00:00:00 BC"],
 "timestamp with time zone": ["2024-01-31 10:00:00+02","2024-01-31T10:00:00Z","2024-01-31 10:00:00-05:30","2024-01-31","2024-01-31 10:00:00.5+0100","2024-01-31 10:00 UTC"],
 "interval": ["1 day","2 hours 30 minutes","1 year 2 mons","01:02:03","-1 day","P1D","P1Y2M3DT4H5M6S","1.5 days","-1 year 2 mons","-1 day 2 hours","@ 1 day ago","10","1 week","100 hours","0.5 seconds","1 decade","abc","","1 day -00:00:01","-00:00:01.5","PT1.5S","1 mon 30 days","3 millennium"],
 "uuid": ["A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11","a0eebc999c0b4ef8bb6d6bb9bd380a11","{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}","a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11","xyz"],
 "json": ['{"b":1,  "a":[1,2]}','[1,2','"x"',"null"],
 "jsonb": ['{"b":1,"a":[1,2],"aa":{"z":null,"y":true}}','{"a":1,"a":2}','[1, "x", 1.5, -0, 1e2, 1.50]','"a\\u0001b"','{','3'],
 "integer[]": ["{1,2,3}","{ 1 , NULL , 3 }","{}","{1,x}","1,2","{1,2","{{1,2},{3,4}}"],
 "text[]": ['{"a b","x\\"y",c,"NULL",""}','{a,NULL,null,"null"}','{"\\\\"}','{" a "}'],
 "double precision[]": ["{1.5,NaN,-Infinity}"],
 "boolean[]": ["{t,f,NULL}"],
 "date[]": ["{2024-01-31,2024-02-01}"],
 "bytea[]": ['{"\\\\x01"}'],
 "numeric[]": ["{1.50,2}"],
}
out = []
for ty, lits in cases.items():
    for lit in lits:
        q = "select $$%s$$::%s" % (lit, ty)
        r = subprocess.run(["psql","-h","127.0.0.1","-p","55439","-U","postgres","-At","-v","VERBOSITY=default","-c",q], capture_output=True, text=True)
        if r.returncode == 0 and not r.stderr.strip():
            res = "ok:" + r.stdout.rstrip("\n")
        else:
            err = [l for l in r.stderr.splitlines() if l.startswith("ERROR:")]
            res = "err:" + (err[0][len("ERROR:  "):] if err else r.stderr.strip())
        if "\n" in res or "\t" in lit:
            res = res.replace("\n", "\\n")
        out.append("%s\t%s\t%s" % (ty, lit, res))
open(sys.argv[1], "w").write("\n".join(out) + "\n")
