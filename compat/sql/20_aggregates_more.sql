-- More aggregates: reporting queries over a sales table, numeric result
-- types, NULL handling, DISTINCT/FILTER/ORDER BY inside aggregates, GROUP BY
-- on expressions, HAVING, and aggregates over joins and subqueries.
CREATE TABLE ag_sales (id int PRIMARY KEY, region text, rep text, product text, qty int, price numeric(8,2), sold date, returned boolean);
INSERT INTO ag_sales VALUES
  (1, 'north', 'ann', 'widget', 3, 2.50, '2024-01-03', false),
  (2, 'north', 'ann', 'gadget', 1, 10.00, '2024-01-17', false),
  (3, 'north', 'bob', 'widget', 7, 2.50, '2024-02-02', true),
  (4, 'south', 'cy', 'widget', 2, 2.75, '2024-02-14', false),
  (5, 'south', 'cy', 'gizmo', 5, 4.00, '2024-02-28', false),
  (6, 'south', 'di', 'gadget', 2, 9.50, '2024-03-09', NULL),
  (7, 'east', 'ed', 'gizmo', 1, 4.25, '2024-03-15', false),
  (8, 'east', 'ed', 'widget', 10, 2.40, '2024-03-30', false),
  (9, NULL, 'fay', 'gadget', 4, 10.00, '2024-04-01', true),
  (10, 'north', 'bob', NULL, NULL, NULL, NULL, NULL);
SELECT count(*), count(region), count(product), count(qty), count(DISTINCT rep) FROM ag_sales;
SELECT sum(qty), sum(price), sum(qty * price), avg(qty), avg(price) FROM ag_sales;
SELECT pg_typeof(sum(qty)), pg_typeof(sum(price)), pg_typeof(avg(qty)), pg_typeof(count(*)), pg_typeof(sum(qty::bigint)) FROM ag_sales;
SELECT min(sold), max(sold), min(product), max(product), min(price), max(price) FROM ag_sales;
SELECT region, sum(qty * price) AS revenue FROM ag_sales GROUP BY region ORDER BY revenue DESC NULLS LAST;
SELECT region, rep, sum(qty) FROM ag_sales GROUP BY region, rep ORDER BY region NULLS FIRST, rep;
SELECT rep, count(*) AS n, sum(qty) AS units, round(avg(price), 2) AS avg_price FROM ag_sales GROUP BY rep ORDER BY rep;
SELECT product, count(*) FROM ag_sales GROUP BY product ORDER BY count(*) DESC, product NULLS LAST;
-- Grouping by expressions (month, case buckets).
SELECT date_trunc('month', sold)::date AS month, count(*), sum(qty) FROM ag_sales WHERE sold IS NOT NULL GROUP BY date_trunc('month', sold) ORDER BY month;
SELECT extract(month FROM sold) AS m, sum(qty * price) FROM ag_sales GROUP BY m ORDER BY m NULLS LAST;
SELECT to_char(sold, 'YYYY-MM') AS ym, count(*) FROM ag_sales GROUP BY 1 ORDER BY 1 NULLS LAST;
SELECT CASE WHEN qty >= 5 THEN 'bulk' WHEN qty >= 2 THEN 'multi' ELSE 'single' END AS bucket, count(*) FROM ag_sales GROUP BY 1 ORDER BY 1;
SELECT qty > 2 AS big, count(*) FROM ag_sales GROUP BY qty > 2 ORDER BY big NULLS LAST;
SELECT coalesce(region, '(none)') AS region, count(*) FROM ag_sales GROUP BY coalesce(region, '(none)') ORDER BY 1;
SELECT length(rep), count(*) FROM ag_sales GROUP BY length(rep) ORDER BY 1;
-- HAVING with different shapes.
SELECT rep FROM ag_sales GROUP BY rep HAVING count(*) > 1 ORDER BY rep;
SELECT rep, sum(qty) FROM ag_sales GROUP BY rep HAVING sum(qty) >= 5 ORDER BY rep;
SELECT region FROM ag_sales GROUP BY region HAVING count(DISTINCT product) >= 2 ORDER BY region;
SELECT region, avg(price) FROM ag_sales GROUP BY region HAVING avg(price) > 4 ORDER BY region NULLS LAST;
SELECT rep FROM ag_sales GROUP BY rep HAVING bool_or(returned) ORDER BY rep;
SELECT rep FROM ag_sales GROUP BY rep HAVING max(sold) < '2024-03-01' ORDER BY rep;
SELECT region, count(*) FROM ag_sales GROUP BY region HAVING region LIKE 'n%' OR region IS NULL ORDER BY region;
SELECT product FROM ag_sales WHERE product IS NOT NULL GROUP BY product HAVING min(qty) > 0 AND max(qty) < 8 ORDER BY product;
-- FILTER clauses, a common pivot idiom.
SELECT region, count(*) FILTER (WHERE product = 'widget') AS widgets, count(*) FILTER (WHERE product = 'gadget') AS gadgets, count(*) FILTER (WHERE product = 'gizmo') AS gizmos FROM ag_sales GROUP BY region ORDER BY region NULLS LAST;
SELECT sum(qty) FILTER (WHERE NOT returned), sum(qty) FILTER (WHERE returned), sum(qty) FILTER (WHERE returned IS NULL) FROM ag_sales;
SELECT rep, sum(qty * price) FILTER (WHERE sold < '2024-02-01') AS jan, sum(qty * price) FILTER (WHERE sold >= '2024-02-01') AS later FROM ag_sales GROUP BY rep ORDER BY rep;
-- The same pivot written with CASE.
SELECT region, sum(CASE WHEN product = 'widget' THEN qty ELSE 0 END) AS w, sum(CASE WHEN product = 'gadget' THEN qty END) AS g FROM ag_sales GROUP BY region ORDER BY region NULLS LAST;
SELECT count(CASE WHEN returned THEN 1 END), count(CASE WHEN NOT returned THEN 1 END) FROM ag_sales;
-- DISTINCT aggregates.
SELECT count(DISTINCT region), count(DISTINCT product), count(DISTINCT (region, product)) FROM ag_sales;
SELECT sum(DISTINCT qty), avg(DISTINCT price) FROM ag_sales;
SELECT region, count(DISTINCT rep), string_agg(DISTINCT rep, ',' ORDER BY rep) FROM ag_sales GROUP BY region ORDER BY region NULLS LAST;
SELECT array_agg(DISTINCT product ORDER BY product) FROM ag_sales WHERE product IS NOT NULL;
-- Ordered aggregates.
SELECT string_agg(rep || ':' || qty, '; ' ORDER BY id) FROM ag_sales WHERE region = 'north';
SELECT region, array_agg(id ORDER BY sold DESC NULLS LAST, id) FROM ag_sales GROUP BY region ORDER BY region NULLS LAST;
SELECT string_agg(product, ',' ORDER BY qty DESC, id) FROM ag_sales WHERE product IS NOT NULL;
SELECT array_agg(qty ORDER BY qty NULLS FIRST) FROM ag_sales WHERE rep = 'bob';
SELECT json_agg(rep ORDER BY id) FROM ag_sales WHERE region = 'east';
-- Aggregates of empty and all-NULL input.
SELECT count(*), count(qty), sum(qty), avg(qty), min(qty), max(qty), bool_and(returned), string_agg(rep, ','), array_agg(id) FROM ag_sales WHERE id > 100;
SELECT sum(qty), avg(price), max(sold) FROM ag_sales WHERE id = 10;
SELECT region, sum(qty) FROM ag_sales WHERE id = 10 GROUP BY region;
SELECT coalesce(sum(qty), 0), coalesce(max(rep), 'nobody') FROM ag_sales WHERE region = 'west';
-- Numeric precision of sums and averages.
SELECT sum(price * qty)::numeric(12,2), avg(price)::numeric(12,4), round(avg(qty), 3) FROM ag_sales;
SELECT sum(x), avg(x) FROM (VALUES (0.1), (0.2), (0.3)) v(x);
SELECT sum(x), avg(x), pg_typeof(avg(x)) FROM (VALUES (1::smallint), (2::smallint)) v(x);
SELECT sum(x), avg(x) FROM (VALUES (9223372036854775807), (1)) v(x);
SELECT avg(x) FROM (VALUES (1), (2), (2)) v(x);
SELECT sum(x::float8), avg(x::float8) FROM (VALUES (1.5), (2.25)) v(x);
SELECT min(x), max(x) FROM (VALUES ('b'::text), ('a'), ('c'), (NULL)) v(x);
-- error: 42883
SELECT min(x), max(x) FROM (VALUES (true), (false)) v(x);
SELECT min(x), max(x) FROM (VALUES (interval '1 day'), (interval '25 hours')) v(x);
SELECT count(*) FROM generate_series(1, 1000) g WHERE g % 7 = 0;
SELECT g % 3 AS k, count(*), sum(g), min(g), max(g) FROM generate_series(1, 20) g GROUP BY g % 3 ORDER BY k;
-- bool_and / bool_or / every with NULLs.
SELECT bool_and(returned), bool_or(returned), every(returned IS NOT NULL) FROM ag_sales;
SELECT region, bool_and(qty > 1) FROM ag_sales GROUP BY region ORDER BY region NULLS LAST;
-- Statistics aggregates.
SELECT round(stddev(qty), 4), round(stddev_pop(qty), 4), round(var_samp(qty), 4), round(var_pop(qty), 4) FROM ag_sales;
SELECT stddev(x), variance(x) FROM (VALUES (5)) v(x);
-- Aggregates in expressions.
SELECT max(qty) - min(qty), sum(qty) / count(qty), sum(qty)::numeric / count(qty) FROM ag_sales;
SELECT rep, round(100.0 * sum(qty) / (SELECT sum(qty) FROM ag_sales), 1) AS pct FROM ag_sales GROUP BY rep ORDER BY pct DESC, rep;
SELECT region, max(price) = min(price) AS uniform FROM ag_sales GROUP BY region ORDER BY region NULLS LAST;
SELECT count(*) > 0 AS any_rows, count(*) = count(qty) AS no_nulls FROM ag_sales;
-- Aggregates over joins and subqueries.
CREATE TABLE ag_target (region text PRIMARY KEY, goal numeric);
INSERT INTO ag_target VALUES ('north', 50), ('south', 30), ('west', 10);
SELECT t.region, t.goal, coalesce(sum(s.qty * s.price), 0) AS actual FROM ag_target t LEFT JOIN ag_sales s ON s.region = t.region GROUP BY t.region, t.goal ORDER BY t.region;
SELECT t.region FROM ag_target t JOIN ag_sales s ON s.region = t.region GROUP BY t.region, t.goal HAVING sum(s.qty * s.price) >= t.goal ORDER BY 1;
SELECT avg(total) FROM (SELECT rep, sum(qty) AS total FROM ag_sales GROUP BY rep) t;
SELECT max(n) FROM (SELECT region, count(*) AS n FROM ag_sales GROUP BY region) t;
SELECT region, n FROM (SELECT region, count(*) AS n FROM ag_sales GROUP BY region) t WHERE n = (SELECT max(c) FROM (SELECT count(*) AS c FROM ag_sales GROUP BY region) u);
SELECT rep, (SELECT count(*) FROM ag_sales s2 WHERE s2.rep = s.rep) FROM ag_sales s GROUP BY rep ORDER BY rep;
-- Group by a primary key allows other columns of that table.
CREATE TABLE ag_reps (name text PRIMARY KEY, team text, hired date);
INSERT INTO ag_reps VALUES ('ann', 'red', '2020-01-01'), ('bob', 'red', '2021-06-01'), ('cy', 'blue', '2019-03-15'), ('di', 'blue', '2022-09-30'), ('ed', 'green', '2023-01-02');
SELECT r.name, r.team, r.hired, count(s.id) FROM ag_reps r LEFT JOIN ag_sales s ON s.rep = r.name GROUP BY r.name ORDER BY r.name;
SELECT r.team, count(DISTINCT r.name), sum(s.qty) FROM ag_reps r JOIN ag_sales s ON s.rep = r.name GROUP BY r.team ORDER BY r.team;
-- GROUP BY with ordinal positions and output aliases.
SELECT rep AS who, count(*) FROM ag_sales GROUP BY who ORDER BY who;
SELECT product, region, count(*) FROM ag_sales GROUP BY 2, 1 ORDER BY 2 NULLS LAST, 1 NULLS LAST;
-- DISTINCT versus GROUP BY.
SELECT DISTINCT region FROM ag_sales ORDER BY region NULLS FIRST;
SELECT region FROM ag_sales GROUP BY region ORDER BY region NULLS FIRST;
SELECT DISTINCT region, product FROM ag_sales WHERE qty > 2 ORDER BY region NULLS LAST, product;
-- Aggregate results feeding ORDER BY and LIMIT (top-N).
SELECT rep, sum(qty * price) AS rev FROM ag_sales GROUP BY rep ORDER BY rev DESC NULLS LAST LIMIT 3;
SELECT product FROM ag_sales WHERE product IS NOT NULL GROUP BY product ORDER BY sum(qty) DESC LIMIT 1;
-- Aggregates with constant and no-FROM inputs.
SELECT count(*), sum(1), max('x') FROM ag_sales;
SELECT count(*), sum(2) FROM (SELECT 1) s;
SELECT count(1), count(NULL::int), count(id) FROM ag_sales;
-- Errors.
-- error: 42803
SELECT region, rep FROM ag_sales GROUP BY region;
-- error: 42803
SELECT rep, count(*) FROM ag_sales GROUP BY region;
-- error: 42803
SELECT region FROM ag_sales GROUP BY region ORDER BY qty;
-- error: 42803
SELECT * FROM ag_sales GROUP BY region;
-- error: 42803
SELECT avg(max(qty)) FROM ag_sales GROUP BY region;
-- error: 42803
UPDATE ag_sales SET qty = sum(qty);
-- error: 42803
SELECT region FROM ag_sales GROUP BY region HAVING qty > 1;
-- error: 42883
SELECT avg(rep) FROM ag_sales;
-- error: 42883
SELECT sum(sold) FROM ag_sales;
-- error: 42P10
SELECT region, count(*) FROM ag_sales GROUP BY 3;
-- error: 42883
SELECT nosuchagg(qty) FROM ag_sales;
-- error: 22003
SELECT sum(x) FROM (VALUES (2147483647::int), (1)) v(x) WHERE x::int4 + 1 > 0;
