-- WITH, WITH RECURSIVE, UNION / INTERSECT / EXCEPT [ALL].
CREATE TABLE cs_a (n int);
CREATE TABLE cs_b (n int);
INSERT INTO cs_a VALUES (1), (2), (2), (3), (NULL);
INSERT INTO cs_b VALUES (2), (3), (3), (4), (NULL);
SELECT n FROM cs_a UNION SELECT n FROM cs_b;
SELECT n FROM cs_a UNION ALL SELECT n FROM cs_b;
SELECT n FROM cs_a INTERSECT SELECT n FROM cs_b;
SELECT n FROM cs_a INTERSECT ALL SELECT n FROM cs_b;
SELECT n FROM cs_a EXCEPT SELECT n FROM cs_b;
SELECT n FROM cs_a EXCEPT ALL SELECT n FROM cs_b;
SELECT n FROM cs_b EXCEPT ALL SELECT n FROM cs_a;
SELECT n FROM cs_a UNION SELECT n FROM cs_b ORDER BY n DESC NULLS LAST;
SELECT n FROM cs_a UNION ALL SELECT n FROM cs_b ORDER BY 1 LIMIT 4;
SELECT 1 AS x, 'a' AS y UNION SELECT 2, 'b' UNION SELECT 1, 'a' ORDER BY x;
SELECT n FROM cs_a UNION SELECT n FROM cs_b EXCEPT SELECT 3;
SELECT n FROM cs_a UNION (SELECT n FROM cs_b EXCEPT SELECT 3);
SELECT 1 UNION SELECT 2.5;
SELECT 'a' UNION SELECT NULL;
-- error: 42601
SELECT 1, 2 UNION SELECT 3;
-- error: 42804
SELECT 1 UNION SELECT 'x'::text;
WITH t AS (SELECT n FROM cs_a WHERE n > 1) SELECT n FROM t;
WITH t AS (SELECT n FROM cs_a), u AS (SELECT n * 10 AS m FROM t WHERE n IS NOT NULL) SELECT m FROM u ORDER BY m;
WITH t(x, y) AS (VALUES (1, 'one'), (2, 'two')) SELECT y FROM t WHERE x = 2;
WITH s AS (SELECT sum(n) AS total FROM cs_a) SELECT n, total FROM cs_b, s WHERE n IS NOT NULL ORDER BY n;
WITH ins AS (SELECT n FROM cs_b) SELECT count(*) FROM ins a JOIN ins b ON a.n = b.n;
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 10) SELECT i FROM r;
WITH RECURSIVE fib(a, b, k) AS (SELECT 0::bigint, 1::bigint, 1 UNION ALL SELECT b, a + b, k + 1 FROM fib WHERE k < 20) SELECT k, a FROM fib ORDER BY k;
CREATE TABLE cs_tree (id int PRIMARY KEY, parent int, name text);
INSERT INTO cs_tree VALUES (1, NULL, 'root'), (2, 1, 'a'), (3, 1, 'b'), (4, 2, 'a1'), (5, 4, 'a1x'), (6, 3, 'b1');
WITH RECURSIVE sub AS (SELECT id, name, 0 AS depth FROM cs_tree WHERE id = 2 UNION ALL SELECT t.id, t.name, s.depth + 1 FROM cs_tree t JOIN sub s ON t.parent = s.id) SELECT id, name, depth FROM sub ORDER BY id;
WITH RECURSIVE path AS (SELECT id, name::text AS p FROM cs_tree WHERE parent IS NULL UNION ALL SELECT t.id, path.p || '/' || t.name FROM cs_tree t JOIN path ON t.parent = path.id) SELECT p FROM path ORDER BY p;
WITH RECURSIVE up AS (SELECT id, parent FROM cs_tree WHERE id = 5 UNION SELECT t.id, t.parent FROM cs_tree t JOIN up ON t.id = up.parent) SELECT count(*) FROM up;
WITH RECURSIVE cyc(n) AS (SELECT 1 UNION SELECT (n % 3) + 1 FROM cyc) SELECT n FROM cyc ORDER BY n;
WITH d AS (DELETE FROM cs_b WHERE n = 4 RETURNING n) SELECT n FROM d;
WITH u AS (UPDATE cs_a SET n = n * 100 WHERE n = 1 RETURNING n) SELECT n FROM u;
WITH i AS (INSERT INTO cs_a VALUES (7) RETURNING n) SELECT n + 1 FROM i;
SELECT n FROM cs_a ORDER BY n NULLS FIRST;
SELECT n FROM cs_b ORDER BY n NULLS FIRST;
-- error: 42P01
WITH t AS (SELECT 1) SELECT * FROM u_missing;
-- error: 42P19
WITH RECURSIVE bad(n) AS (SELECT n FROM bad) SELECT * FROM bad;
