-- PostgreSQL features a compatibility probe found missing: JSON
-- set-returning functions in FROM and in the select list, jsonb_typeof on
-- untyped literals, whole-row references (row_to_json(r), json_agg(r)),
-- ordered-set aggregates (percentile_cont/percentile_disc/mode WITHIN
-- GROUP), two-variable statistics (corr, covar_*, regr_*), ROLLUP / CUBE /
-- GROUPING SETS with grouping(), row constructors in count(DISTINCT ...),
-- to_number, named arguments (make_interval(days => 10)), cardinality of
-- multi-dimensional arrays, ORDER BY ... USING, BETWEEN SYMMETRIC.
CREATE TABLE cm_orders (id int PRIMARY KEY, region text, rep text, amount numeric(10,2), qty int, placed date, meta jsonb);
INSERT INTO cm_orders VALUES
  (1, 'north', 'ann', 120.00, 3, '2024-01-05', '{"channel": "web", "tags": ["new", "promo"], "score": 4.5}'),
  (2, 'north', 'bob', 80.50, 1, '2024-01-19', '{"channel": "phone", "tags": [], "score": 3}'),
  (3, 'south', 'cy', 300.25, 7, '2024-02-02', '{"channel": "web", "tags": ["vip"], "score": null}'),
  (4, 'south', 'cy', 45.00, 2, '2024-02-14', '{"channel": "store", "gift": true}'),
  (5, 'east', 'di', 99.99, 5, '2024-03-01', '{"channel": "web", "tags": ["promo"]}'),
  (6, 'east', 'ed', 15.75, 1, '2024-03-09', '{}'),
  (7, NULL, 'fay', 210.00, 4, '2024-03-30', '{"channel": "phone"}'),
  (8, 'north', 'ann', NULL, NULL, NULL, NULL);
-- JSON set-returning functions in FROM.
SELECT * FROM jsonb_each('{"a":1,"b":2}');
SELECT * FROM json_each('{"a":1,"b":"x"}');
SELECT * FROM jsonb_each_text('{"a":1,"b":"x","c":null}');
SELECT * FROM json_each_text('{"a":1,"b":[1,2]}');
SELECT key, value FROM jsonb_each('{"a":1,"b":[1,2],"c":{"d":null}}') ORDER BY key;
SELECT t.k, t.v FROM jsonb_each('{"a":1}') AS t(k, v);
SELECT e.key FROM jsonb_each('{"x":true,"y":false}') e WHERE e.value = 'true';
SELECT o.id, m.key, m.value FROM cm_orders o, jsonb_each(o.meta) m WHERE o.id <= 2 ORDER BY o.id, m.key;
SELECT o.id, m.key, m.value FROM cm_orders o CROSS JOIN LATERAL jsonb_each_text(o.meta) m WHERE m.key = 'channel' ORDER BY o.id;
SELECT m.key, count(*) FROM cm_orders o, jsonb_object_keys(o.meta) m(key) GROUP BY m.key ORDER BY m.key;
SELECT * FROM jsonb_object_keys('{"a":1,"b":2}');
SELECT jsonb_object_keys('{"a":1,"b":2}');
SELECT * FROM jsonb_array_elements('[1,"a",null]');
SELECT * FROM json_array_elements_text('[1,"a",null]');
SELECT * FROM jsonb_array_elements('[1,"a",null]') AS e(x);
SELECT e FROM jsonb_array_elements('[1,"a",null]') e;
SELECT e.value FROM jsonb_array_elements('[{"n":1},{"n":2}]') e;
SELECT jsonb_array_elements('[1,2]');
SELECT json_array_elements('[{"a":1},[2]]');
SELECT jsonb_array_elements_text('["x","y"]') AS tag;
SELECT jsonb_each('{"a":1,"b":"x"}');
SELECT json_each_text('{"a":1,"b":"x y"}');
SELECT jsonb_each('{"a":1}') AS kv, 1 AS one;
SELECT o.id, t.value FROM cm_orders o, jsonb_array_elements_text(o.meta->'tags') t ORDER BY o.id, t.value;
SELECT id FROM cm_orders WHERE EXISTS (SELECT 1 FROM jsonb_array_elements_text(meta->'tags') t WHERE t = 'promo') ORDER BY id;
-- error: 22023
SELECT * FROM jsonb_each('[1]');
-- error: 22023
SELECT * FROM jsonb_array_elements('{"a":1}');
-- jsonb_typeof / json_typeof on untyped literals and columns.
SELECT jsonb_typeof('1');
SELECT json_typeof('"a"');
SELECT jsonb_typeof('{"a":1}'), jsonb_typeof('null'), jsonb_typeof('true'), jsonb_typeof('[1]'), jsonb_typeof('1.5');
SELECT id, jsonb_typeof(meta->'score') FROM cm_orders ORDER BY id;
-- Whole-row references.
SELECT row_to_json(r) FROM (VALUES (1,'b')) r(a,b);
SELECT to_jsonb(r) FROM (VALUES (1,'b')) r(a,b);
SELECT to_json(r) FROM (VALUES (1,NULL,'{"x":[1, 2]}'::json)) r(a,b,c);
SELECT json_agg(r) FROM (VALUES (1,'b'),(2,'c')) r(a,b);
SELECT jsonb_agg(r) FROM (VALUES (1,'b'),(2,'c')) r(a,b);
SELECT row_to_json(t) FROM (SELECT id, rep, qty FROM cm_orders WHERE id = 1) t;
SELECT json_agg(t ORDER BY id DESC) FROM (SELECT id, rep FROM cm_orders WHERE id < 4) t;
SELECT region, jsonb_agg(o ORDER BY o.id) FROM (SELECT id, rep FROM cm_orders WHERE region = 'east') o, (VALUES ('east')) g(region) GROUP BY region;
SELECT r FROM (VALUES (1,'b c',NULL,'')) r(a,b,c,d);
SELECT row_to_json(ROW(1, 'x'));
SELECT ROW(1, 2), (1, 'a b', NULL);
-- Ordered-set aggregates.
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM (VALUES (1),(2),(3),(4)) v(x);
SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY x) FROM (VALUES (1),(2),(3),(4)) v(x);
SELECT mode() WITHIN GROUP (ORDER BY x) FROM (VALUES (1),(2),(2),(4)) v(x);
SELECT percentile_cont(ARRAY[0.25, 0.5, 1]) WITHIN GROUP (ORDER BY x) FROM (VALUES (1),(2),(3),(4)) v(x);
SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY x DESC) FROM (VALUES (1),(2),(3),(4)) v(x);
SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY amount), percentile_disc(0.9) WITHIN GROUP (ORDER BY amount) FROM cm_orders;
SELECT region, percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS median, mode() WITHIN GROUP (ORDER BY rep) FROM cm_orders GROUP BY region ORDER BY region NULLS LAST;
SELECT mode() WITHIN GROUP (ORDER BY x) FROM (VALUES ('a'),('b'),('b'),(NULL),(NULL),(NULL)) v(x);
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM (VALUES (interval '1 day'),(interval '2 days')) v(x);
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM (VALUES (1)) v(x) WHERE false;
SELECT percentile_disc(0.25) WITHIN GROUP (ORDER BY placed) FILTER (WHERE region = 'north') FROM cm_orders;
-- error: 22003
SELECT percentile_cont(1.5) WITHIN GROUP (ORDER BY x) FROM (VALUES (1),(2)) v(x);
-- error: 42883
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM (VALUES ('a'),('b')) v(x);
-- error: 42809
SELECT mode(x) FROM (VALUES (1)) v(x);
-- error: 42883
SELECT sum(x) WITHIN GROUP (ORDER BY x) FROM (VALUES (1)) v(x);
-- error: 42883
SELECT percentile_cont(0.5) FROM (VALUES (1)) v(x);
-- Two-variable statistics.
SELECT corr(x,y), covar_pop(x,y), covar_samp(x,y), regr_slope(y,x), regr_intercept(y,x), regr_count(y,x), regr_r2(y,x), regr_avgx(y,x), regr_avgy(y,x) FROM (VALUES (1,2),(2,4),(3,7)) v(x,y);
SELECT regr_sxx(y, x), regr_syy(y, x), regr_sxy(y, x) FROM (VALUES (1,2),(2,4),(3,7)) v(x,y);
SELECT corr(amount, qty), regr_slope(amount, qty), regr_count(amount, qty) FROM cm_orders;
SELECT region, covar_samp(amount, qty) FROM cm_orders GROUP BY region ORDER BY region NULLS LAST;
SELECT corr(y, x) FROM (VALUES (1,1),(1,2)) v(x,y);
SELECT regr_count(y, x), regr_sxx(y, x), covar_samp(y,x) FROM (VALUES (1,NULL),(2,3)) v(x,y);
SELECT regr_r2(y, x), regr_slope(y,x) FROM (VALUES (1,1),(2,1)) v(x,y);
SELECT corr(x, y) FROM (VALUES (1,2)) v(x,y) WHERE false;
-- error: 22P02
SELECT corr('a', 1);
-- error: 42883
SELECT corr(x, y) FROM (VALUES ('a','b')) v(x,y);
-- ROLLUP, CUBE, GROUPING SETS, grouping().
SELECT grouping(a), a, sum(b) FROM (VALUES (1,2),(1,3),(2,4)) v(a,b) GROUP BY ROLLUP(a) ORDER BY a;
SELECT a, b, count(*) FROM (VALUES (1,2),(1,3),(2,4)) v(a,b) GROUP BY CUBE(a,b) ORDER BY a, b;
SELECT a, b, count(*), grouping(a,b) FROM (VALUES (1,2),(1,3),(2,4)) v(a,b) GROUP BY GROUPING SETS ((a),(b),()) ORDER BY a, b;
SELECT a, b, sum(c) FROM (VALUES (1,2,3),(1,3,4),(2,4,5)) v(a,b,c) GROUP BY a, ROLLUP(b) ORDER BY a, b;
SELECT a, b, sum(c), grouping(b, a) FROM (VALUES (1,2,3),(1,3,4),(2,4,5)) v(a,b,c) GROUP BY ROLLUP(a, b) ORDER BY a, b;
SELECT a, sum(b) FROM (VALUES (1,2),(1,3),(2,4)) v(a,b) GROUP BY ROLLUP(a) HAVING sum(b) > 4 ORDER BY a;
SELECT count(*) FROM (VALUES (1)) v(a) WHERE false GROUP BY ROLLUP(a);
SELECT a, b, count(*) FROM (VALUES (1,2),(1,3),(2,4)) v(a,b) GROUP BY ROLLUP((a, b)) ORDER BY a, b;
SELECT CASE WHEN grouping(region) = 1 THEN 'all' ELSE coalesce(region, '?') END AS region, sum(amount), count(*) FROM cm_orders GROUP BY ROLLUP(region) ORDER BY 1;
SELECT region, rep, sum(qty), grouping(region, rep) AS g FROM cm_orders GROUP BY GROUPING SETS ((region, rep), (region), ()) ORDER BY g, region NULLS LAST, rep NULLS LAST;
SELECT date_trunc('month', placed)::date AS month, region, count(*) FROM cm_orders WHERE placed IS NOT NULL GROUP BY CUBE(date_trunc('month', placed), region) ORDER BY 1 NULLS LAST, 2 NULLS LAST;
SELECT grouping(a) FROM (VALUES (1,2)) v(a,b) GROUP BY a;
-- error: 42803
SELECT grouping(b) FROM (VALUES (1,2)) v(a,b) GROUP BY a;
-- Row constructors in count(DISTINCT ...) and comparisons.
SELECT count(DISTINCT (a, b)) FROM (VALUES (1,2),(1,2),(2,4)) v(a,b);
SELECT count(DISTINCT (a, b)) FROM (VALUES (1,NULL),(1,NULL),(NULL,NULL)) v(a,b);
SELECT count((a, b)) FROM (VALUES (1,NULL),(NULL,NULL)) v(a,b);
SELECT count(DISTINCT (a, b)) FROM (VALUES (1, 1.0),(1, 1.00)) v(a,b);
SELECT count(DISTINCT (region, rep)) FROM cm_orders;
SELECT (1,2) < (1,3), (1,2) = (1,2), ROW(1,2) <> ROW(2,1);
SELECT id FROM cm_orders WHERE (region, rep) = ('south', 'cy') ORDER BY id;
-- to_number.
SELECT to_number('1,234.5', '9G999D9');
SELECT to_number('12,454.8-', '99G999D9S'), to_number('<123>', '999PR'), to_number('0.05', '9.99');
SELECT to_number('-34,338,492', '99G999G999'), to_number('1234.5678', '9999.99'), to_number('  12', '9999');
SELECT to_number('12345', '999'), to_number('-12.5', 'S99.9'), to_number('12.5', 'FM99.99');
SELECT pg_typeof(to_number('1', '9'));
-- error: 22P02
SELECT to_number('abc', '999');
-- Named arguments.
SELECT make_interval(days => 10);
SELECT make_interval(1, days => 3, secs => 1.5);
SELECT make_interval(hours => 2, mins => 30);
SELECT placed + make_interval(days => qty) FROM cm_orders WHERE id = 1;
-- error: 42601
SELECT make_interval(days => 1, days => 2);
-- error: 42883
SELECT make_interval(nosuch => 1);
-- error: 42883
SELECT upper(x => 'a');
-- cardinality and ORDER BY ... USING.
SELECT cardinality(ARRAY[[1,2],[3,4]]), cardinality(ARRAY[1,2,3]), cardinality('{}'::int[]);
SELECT x FROM (VALUES (1),(3),(2)) v(x) ORDER BY x USING >;
SELECT x FROM (VALUES (1),(3),(2)) v(x) ORDER BY x USING <;
SELECT id, amount FROM cm_orders WHERE amount IS NOT NULL ORDER BY amount USING >, id;
-- error: 42809
SELECT x FROM (VALUES (1),(3),(2)) v(x) ORDER BY x USING =;
-- BETWEEN SYMMETRIC.
SELECT 5 BETWEEN SYMMETRIC 10 AND 1;
SELECT 5 NOT BETWEEN SYMMETRIC 10 AND 1, 11 NOT BETWEEN SYMMETRIC 10 AND 1, NULL BETWEEN SYMMETRIC 1 AND 2;
SELECT x FROM (VALUES (1),(5),(12)) v(x) WHERE x BETWEEN SYMMETRIC 10 AND 2 ORDER BY x;
SELECT 'between symmetric' AS s, 2 BETWEEN ASYMMETRIC 1 AND 3;
SELECT id FROM cm_orders WHERE amount BETWEEN SYMMETRIC 100 AND 50 AND qty > 1 ORDER BY id;
SELECT id FROM cm_orders WHERE placed NOT BETWEEN SYMMETRIC '2024-03-01' AND '2024-01-31' ORDER BY id;
DROP TABLE cm_orders;
