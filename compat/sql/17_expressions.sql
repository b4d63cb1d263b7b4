-- NULL logic, comparison, casts and conditional expressions.
CREATE TABLE ex_t (id int PRIMARY KEY, a int, b int, s text);
INSERT INTO ex_t VALUES (1, 1, 1, 'x'), (2, 1, NULL, 'y'), (3, NULL, NULL, NULL), (4, 2, 3, ''), (5, -1, 0, 'z');
SELECT id, a = b, a <> b, a < b, a IS DISTINCT FROM b, a IS NOT DISTINCT FROM b FROM ex_t ORDER BY id;
SELECT id FROM ex_t WHERE a = b OR b IS NULL ORDER BY id;
SELECT id FROM ex_t WHERE NOT (a = b) ORDER BY id;
SELECT id, a + b, a * b, a - b, -a FROM ex_t ORDER BY id;
SELECT NULL = NULL, NULL IS NULL, NULL::int + 1, NULL || 'x', 1 IN (NULL, 1), 2 IN (NULL, 1), 2 NOT IN (NULL, 1);
SELECT id, s IS NULL, s = '', coalesce(s, '<null>'), length(s) FROM ex_t ORDER BY id;
SELECT id, CASE WHEN a > 0 THEN 'pos' WHEN a < 0 THEN 'neg' WHEN a = 0 THEN 'zero' END FROM ex_t ORDER BY id;
SELECT id, CASE a WHEN 1 THEN 'one' WHEN NULL THEN 'never' ELSE 'other' END FROM ex_t ORDER BY id;
SELECT CASE WHEN false THEN 1 / 0 ELSE 7 END, coalesce(NULL, NULL, 3), coalesce(1, 1 / 1);
SELECT nullif(1, 1), nullif(1, 2), nullif(NULL::int, 1), nullif('a', 'b');
SELECT greatest(3, NULL, 5), least('b', 'a', 'c'), greatest(NULL::int, NULL), least(date '2024-01-02', date '2023-05-06');
SELECT id, greatest(a, b), least(a, b) FROM ex_t ORDER BY id;
SELECT 1::text, '1'::int + 1, CAST('2024-02-03' AS date), CAST(1.7 AS int), '5'::int2 * 2::int8;
SELECT 10::int::text || 'a', (3 + 4)::text, '007'::int, 1.999::numeric(3,1), (-0.5)::numeric(3,0);
SELECT pg_typeof(1), pg_typeof(1.0), pg_typeof('a'::text), pg_typeof(NULL), pg_typeof(1::int8 + 1::int4), pg_typeof(1.5::float4 * 2);
SELECT 'a' = 'a' AND 1 < 2, 1 > 2 OR 3 > 2, NOT true, true AND NOT false;
SELECT id FROM ex_t WHERE a IS NULL AND b IS NULL;
SELECT id FROM ex_t WHERE (a, b) = (1, 1);
SELECT ROW(1, 2) < ROW(1, 3), (1, NULL) = (1, 2), (1, 'a') IS NOT NULL;
SELECT id, a BETWEEN 0 AND 1, b NOT BETWEEN 0 AND 1 FROM ex_t ORDER BY id;
SELECT count(*) FILTER (WHERE a IS NULL), count(a), count(*) FROM ex_t;
SELECT sum(a), sum(b), avg(b), max(s), min(s) FROM ex_t;
SELECT id, s || '-' || a FROM ex_t ORDER BY id;
SELECT array[1, 2, 3], array_length(array[1, 2, 3], 1), (array[10, 20, 30])[2], array['a', NULL];
SELECT cardinality(array[1, 2]), 2 = ANY (array[1, 2]), 5 = ALL (array[5, 5]), array[1, 2] || 3;
SELECT abs(a), mod(b, 2) FROM ex_t WHERE b IS NOT NULL ORDER BY id;
SELECT 'x' || 1 || true, 1 || '2';
-- error: 42883
SELECT 1 || 2;
SELECT '   padded'::text = 'padded', trim('   padded') = 'padded';
SELECT 5 BETWEEN 1 AND 10 AND 'b' BETWEEN 'a' AND 'c';
SELECT id, (a > 0) IS TRUE, (a > 0) IS NOT FALSE, (b > 0) IS UNKNOWN FROM ex_t ORDER BY id;
SELECT id FROM ex_t WHERE s <> '' ORDER BY id;
SELECT id FROM ex_t WHERE coalesce(a, 0) + coalesce(b, 0) > 1 ORDER BY id;
SELECT 3 / 2 * 2, 3 * 2 / 4, 2 + 3 * 4, (2 + 3) * 4, 2 ^ 3 ^ 2, -2 ^ 2;
SELECT 'abc' || NULL IS NULL, concat('abc', NULL), 'ab' IN ('ab', NULL), NULL::text NOT IN ('a');
-- error: 22012
SELECT CASE WHEN a > 0 THEN 1 / (a - a) END FROM ex_t WHERE id = 1;
-- error: 22P02
SELECT s::int FROM ex_t WHERE id = 1;
-- error: 42804
SELECT id FROM ex_t WHERE a;
-- error: 42883
SELECT -'x'::text;
