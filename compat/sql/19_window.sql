-- Window functions: ranking, lag/lead, value functions, aggregates OVER
-- (PARTITION BY ... ORDER BY ...), frames, named windows, windows over
-- GROUP BY, and the errors PostgreSQL raises.
CREATE TABLE win_emp (id int PRIMARY KEY, dept text, name text, salary int, bonus numeric(8,2), hired date, active boolean);
INSERT INTO win_emp VALUES
  (1, 'eng', 'alice', 120, 10.50, '2020-01-15', true),
  (2, 'eng', 'bob', 100, NULL, '2021-03-01', true),
  (3, 'eng', 'carol', 100, 5.25, '2019-07-30', false),
  (4, 'eng', 'dave', 90, 2.00, '2022-11-11', true),
  (5, 'sales', 'erin', 80, 20.00, '2018-05-05', true),
  (6, 'sales', 'frank', 80, 15.00, '2020-02-29', false),
  (7, 'sales', 'grace', NULL, NULL, '2023-01-01', true),
  (8, 'ops', 'heidi', 70, 1.00, '2017-09-09', true),
  (9, 'ops', 'ivan', 75, NULL, '2016-12-31', false),
  (10, NULL, 'judy', 60, 3.00, '2024-04-04', NULL);
CREATE TABLE win_t (id int, g int, x int, y double precision, s text);
INSERT INTO win_t VALUES
  (1, 1, 10, 1.5, 'a'), (2, 1, 20, 2.5, 'b'), (3, 1, 20, NULL, 'c'), (4, 1, NULL, 4.0, NULL),
  (5, 2, 5, 0.25, 'd'), (6, 2, 5, 0.75, 'e'), (7, 2, 7, 1.0, 'f'),
  (8, 3, 100, 10.0, 'g'),
  (9, NULL, 1, 2.0, 'h'), (10, NULL, 2, 3.0, 'i');
CREATE TABLE win_empty (id int, v int);
-- row_number
SELECT id, row_number() OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, row_number() OVER (ORDER BY id DESC) FROM win_emp ORDER BY id;
SELECT id, dept, row_number() OVER (PARTITION BY dept ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, row_number() OVER (PARTITION BY dept ORDER BY salary DESC NULLS LAST, id) AS rn FROM win_emp ORDER BY id;
SELECT id, row_number() OVER (PARTITION BY dept ORDER BY salary NULLS FIRST, id) AS rn FROM win_emp ORDER BY id;
SELECT row_number() OVER () FROM win_empty;
SELECT row_number() OVER ();
SELECT row_number() OVER (), row_number() OVER () + 1;
SELECT count(*) FROM (SELECT row_number() OVER () AS rn FROM win_emp) s WHERE rn <= 10;
SELECT id, row_number() OVER w FROM win_emp WINDOW w AS (ORDER BY name) ORDER BY id;
-- rank / dense_rank / percent_rank / cume_dist
SELECT id, salary, rank() OVER (ORDER BY salary DESC) FROM win_emp ORDER BY id;
SELECT id, salary, rank() OVER (ORDER BY salary) FROM win_emp ORDER BY id;
SELECT id, salary, dense_rank() OVER (ORDER BY salary DESC) FROM win_emp ORDER BY id;
SELECT id, salary, dense_rank() OVER (ORDER BY salary NULLS FIRST) FROM win_emp ORDER BY id;
SELECT id, dept, rank() OVER (PARTITION BY dept ORDER BY salary DESC), dense_rank() OVER (PARTITION BY dept ORDER BY salary DESC) FROM win_emp ORDER BY id;
SELECT id, rank() OVER (), dense_rank() OVER () FROM win_emp ORDER BY id;
SELECT id, rank() OVER (PARTITION BY dept) FROM win_emp ORDER BY id;
SELECT id, percent_rank() OVER (ORDER BY salary) FROM win_emp ORDER BY id;
SELECT id, percent_rank() OVER (PARTITION BY dept ORDER BY salary DESC) FROM win_emp ORDER BY id;
SELECT id, cume_dist() OVER (ORDER BY salary) FROM win_emp ORDER BY id;
SELECT id, cume_dist() OVER (PARTITION BY dept ORDER BY salary) FROM win_emp ORDER BY id;
SELECT id, round(cume_dist() OVER (ORDER BY x)::numeric, 4), round(percent_rank() OVER (ORDER BY x)::numeric, 4) FROM win_t ORDER BY id;
SELECT percent_rank() OVER (), cume_dist() OVER () FROM win_emp WHERE id = 1;
SELECT id, rank() OVER (ORDER BY dept, salary) FROM win_emp ORDER BY id;
SELECT id, rank() OVER (ORDER BY dept DESC NULLS LAST, salary DESC NULLS FIRST) FROM win_emp ORDER BY id;
SELECT id, dense_rank() OVER (ORDER BY active) FROM win_emp ORDER BY id;
SELECT id, rank() OVER (ORDER BY length(name), name) FROM win_emp ORDER BY id;
SELECT id, rank() OVER (ORDER BY hired) FROM win_emp ORDER BY id;
SELECT id, x, rank() OVER (PARTITION BY g ORDER BY x) FROM win_t ORDER BY id;
SELECT id, x, dense_rank() OVER (PARTITION BY g ORDER BY x DESC) FROM win_t ORDER BY id;
-- ntile
SELECT id, ntile(3) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, ntile(4) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, ntile(1) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, ntile(20) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, ntile(2) OVER (PARTITION BY dept ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, ntile(NULL) OVER (ORDER BY id) FROM win_emp ORDER BY id;
-- error: 22014
SELECT ntile(0) OVER (ORDER BY id) FROM win_emp;
-- error: 22014
SELECT ntile(-2) OVER (ORDER BY id) FROM win_emp;
SELECT ntile(0) OVER (ORDER BY id) FROM win_empty;
SELECT i, ntile(3) OVER (ORDER BY i) FROM generate_series(1, 7) i ORDER BY i;
SELECT i, ntile(5) OVER (ORDER BY i DESC) FROM generate_series(1, 12) i ORDER BY i;
-- lag / lead
SELECT id, lag(id) OVER (ORDER BY id), lead(id) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, lag(name, 2) OVER (ORDER BY id), lead(name, 2) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, lag(salary, 1, 0) OVER (ORDER BY id), lead(salary, 1, -1) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, lag(salary) OVER (PARTITION BY dept ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, lead(salary) OVER (PARTITION BY dept ORDER BY salary DESC, id) FROM win_emp ORDER BY id;
SELECT id, salary - lag(salary) OVER (PARTITION BY dept ORDER BY id) AS diff FROM win_emp ORDER BY id;
SELECT id, lag(id, 0) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, lag(id, -1) OVER (ORDER BY id), lead(id, -1) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, lag(id, 100, 42) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, lag(id, NULL) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, lead(name, 1, 'none') OVER (PARTITION BY dept ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, lag(bonus, 1, 0) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, lag(salary, 1, 0.5) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, lag(hired) OVER (ORDER BY hired), hired - lag(hired) OVER (ORDER BY hired) AS gap FROM win_emp ORDER BY id;
SELECT id, lag(x, g) OVER (ORDER BY id) FROM win_t ORDER BY id;
SELECT id, lead(s, 1, s) OVER (PARTITION BY g ORDER BY id) FROM win_t ORDER BY id;
SELECT id, lag(y) OVER (ORDER BY y NULLS FIRST, id) FROM win_t ORDER BY id;
SELECT id, lead(active) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT pg_typeof(lag(salary) OVER ()), pg_typeof(lag(salary, 1, 0.5) OVER ()), pg_typeof(lead(name) OVER ()) FROM win_emp WHERE id = 1;
-- error: 42883
SELECT lag(salary, 1, 'x'::text) OVER (ORDER BY id) FROM win_emp;
-- first_value / last_value / nth_value
SELECT id, first_value(name) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, first_value(name) OVER (PARTITION BY dept ORDER BY salary DESC, id) FROM win_emp ORDER BY id;
SELECT id, last_value(name) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, last_value(salary) OVER (ORDER BY salary) FROM win_emp ORDER BY id;
SELECT id, last_value(name) OVER (PARTITION BY dept ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, last_value(id) OVER (PARTITION BY dept ORDER BY id RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, nth_value(name, 2) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, nth_value(name, 2) OVER (PARTITION BY dept ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, nth_value(id, 3) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, nth_value(id, 1) OVER (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND 2 FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, nth_value(id, NULL) OVER (ORDER BY id) FROM win_emp ORDER BY id;
-- error: 22016
SELECT nth_value(id, 0) OVER (ORDER BY id) FROM win_emp;
SELECT id, first_value(id) OVER (ORDER BY id ROWS BETWEEN 2 FOLLOWING AND 3 FOLLOWING), last_value(id) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND 1 PRECEDING) FROM win_emp ORDER BY id;
SELECT id, first_value(y) OVER (PARTITION BY g ORDER BY y NULLS FIRST), last_value(y) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM win_t ORDER BY id;
SELECT id, first_value(x) OVER w, last_value(x) OVER w FROM win_t WINDOW w AS (ORDER BY x, id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) ORDER BY id;
-- aggregates over windows
SELECT id, sum(salary) OVER () FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY salary) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY salary DESC NULLS LAST) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (PARTITION BY dept) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (PARTITION BY dept ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (PARTITION BY dept ORDER BY salary) FROM win_emp ORDER BY id;
SELECT id, count(*) OVER (), count(*) OVER (PARTITION BY dept), count(salary) OVER (PARTITION BY dept) FROM win_emp ORDER BY id;
SELECT id, count(*) OVER (ORDER BY salary), count(bonus) OVER (ORDER BY salary) FROM win_emp ORDER BY id;
SELECT id, avg(salary) OVER (PARTITION BY dept) FROM win_emp ORDER BY id;
SELECT id, round(avg(salary) OVER (ORDER BY id), 2) FROM win_emp ORDER BY id;
SELECT id, min(salary) OVER (PARTITION BY dept), max(salary) OVER (PARTITION BY dept) FROM win_emp ORDER BY id;
SELECT id, min(name) OVER (ORDER BY id), max(name) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, max(hired) OVER (PARTITION BY dept), min(hired) OVER () FROM win_emp ORDER BY id;
SELECT id, sum(bonus) OVER (ORDER BY id), avg(bonus) OVER (PARTITION BY dept) FROM win_emp ORDER BY id;
SELECT id, sum(y) OVER (ORDER BY id), avg(y) OVER (PARTITION BY g) FROM win_t ORDER BY id;
SELECT id, bool_and(active) OVER (ORDER BY id), bool_or(active) OVER (PARTITION BY dept) FROM win_emp ORDER BY id;
SELECT id, every(active) OVER (PARTITION BY dept) FROM win_emp ORDER BY id;
SELECT id, string_agg(name, ',') OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, string_agg(name, '-') OVER (PARTITION BY dept ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, array_agg(id) OVER (PARTITION BY dept ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, array_agg(x) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM win_t ORDER BY id;
SELECT id, sum(salary) FILTER (WHERE active) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, count(*) FILTER (WHERE salary > 80) OVER (PARTITION BY dept) FROM win_emp ORDER BY id;
SELECT pg_typeof(sum(salary) OVER ()), pg_typeof(avg(salary) OVER ()), pg_typeof(count(*) OVER ()), pg_typeof(row_number() OVER ()) FROM win_emp WHERE id = 1;
SELECT pg_typeof(rank() OVER ()), pg_typeof(percent_rank() OVER ()), pg_typeof(ntile(2) OVER ()), pg_typeof(sum(y) OVER ()) FROM win_t WHERE id = 1;
SELECT pg_typeof(sum(id::bigint) OVER ()), pg_typeof(sum(bonus) OVER ()), pg_typeof(first_value(hired) OVER ()) FROM win_emp WHERE id = 1;
SELECT id, salary, salary * 100 / sum(salary) OVER (PARTITION BY dept) AS pct FROM win_emp ORDER BY id;
SELECT id, salary - avg(salary) OVER (PARTITION BY dept) FROM win_emp WHERE salary IS NOT NULL ORDER BY id;
SELECT id, sum(x) OVER (PARTITION BY g ORDER BY x) FROM win_t ORDER BY id;
SELECT id, sum(x) OVER (PARTITION BY g ORDER BY x DESC) FROM win_t ORDER BY id;
SELECT id, sum(x) OVER (PARTITION BY g ORDER BY x NULLS FIRST) FROM win_t ORDER BY id;
SELECT id, count(x) OVER (PARTITION BY g), count(*) OVER (PARTITION BY g) FROM win_t ORDER BY id;
SELECT sum(v) OVER (), count(*) OVER () FROM win_empty;
SELECT id, sum(id) OVER (ORDER BY id) FROM win_empty;
SELECT id, stddev_samp(salary) OVER (PARTITION BY dept)::numeric(10,4) FROM win_emp ORDER BY id;
-- explicit frames: ROWS
SELECT id, sum(salary) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY id ROWS 2 PRECEDING) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY id ROWS CURRENT ROW) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND 3 FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY id ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING) FROM win_emp ORDER BY id;
SELECT id, count(*) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, count(*) OVER (ORDER BY id ROWS BETWEEN 5 FOLLOWING AND 10 FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, avg(salary) OVER (PARTITION BY dept ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, max(x) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) FROM win_t ORDER BY id;
SELECT id, min(x) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING) FROM win_t ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY id ROWS BETWEEN 0 PRECEDING AND 0 FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, string_agg(name, '') OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM win_emp ORDER BY id;
SELECT i, sum(i) OVER (ORDER BY i ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM generate_series(1, 6) i ORDER BY i;
-- explicit frames: RANGE
SELECT id, sum(salary) OVER (ORDER BY salary RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY salary RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY salary RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY salary RANGE CURRENT ROW) FROM win_emp ORDER BY id;
SELECT id, count(*) OVER (ORDER BY salary RANGE BETWEEN 10 PRECEDING AND 10 FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY salary RANGE BETWEEN 20 PRECEDING AND CURRENT ROW) FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY salary DESC RANGE BETWEEN 20 PRECEDING AND CURRENT ROW) FROM win_emp ORDER BY id;
SELECT id, count(*) OVER (ORDER BY salary NULLS FIRST RANGE BETWEEN 5 PRECEDING AND 5 FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, count(*) OVER (ORDER BY salary RANGE BETWEEN 1 FOLLOWING AND 30 FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, array_agg(id) OVER (ORDER BY y RANGE BETWEEN 1.0 PRECEDING AND 1.0 FOLLOWING) FROM win_t ORDER BY id;
SELECT id, count(*) OVER (ORDER BY bonus RANGE BETWEEN 2.5 PRECEDING AND 2.5 FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, count(*) OVER (PARTITION BY g ORDER BY x RANGE BETWEEN 5 PRECEDING AND 0 FOLLOWING) FROM win_t ORDER BY id;
SELECT id, sum(id) OVER (ORDER BY x RANGE BETWEEN CURRENT ROW AND CURRENT ROW) FROM win_t ORDER BY id;
-- GROUPS frames
SELECT id, sum(salary) OVER (ORDER BY salary GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, count(*) OVER (ORDER BY salary GROUPS BETWEEN CURRENT ROW AND 1 FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, count(*) OVER (ORDER BY x GROUPS 1 PRECEDING) FROM win_t ORDER BY id;
SELECT id, array_agg(id) OVER (PARTITION BY g ORDER BY x GROUPS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM win_t ORDER BY id;
-- named windows
SELECT id, sum(salary) OVER w, count(*) OVER w FROM win_emp WINDOW w AS (PARTITION BY dept) ORDER BY id;
SELECT id, rank() OVER w, dense_rank() OVER w FROM win_emp WINDOW w AS (PARTITION BY dept ORDER BY salary DESC) ORDER BY id;
SELECT id, sum(salary) OVER (w ORDER BY id) FROM win_emp WINDOW w AS (PARTITION BY dept) ORDER BY id;
SELECT id, sum(salary) OVER (w ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM win_emp WINDOW w AS (ORDER BY id) ORDER BY id;
SELECT id, row_number() OVER w1, sum(id) OVER w2 FROM win_emp WINDOW w1 AS (ORDER BY id DESC), w2 AS (w1) ORDER BY id;
SELECT id, sum(salary) OVER w FROM win_emp WINDOW w AS (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) ORDER BY id;
SELECT id FROM win_emp WINDOW w AS (ORDER BY id) ORDER BY id;
-- error: 42704
SELECT id, sum(salary) OVER nosuch FROM win_emp;
-- error: 42704
SELECT id, sum(salary) OVER (nosuch ORDER BY id) FROM win_emp;
-- error: 42P20
SELECT id, sum(salary) OVER (w ORDER BY id) FROM win_emp WINDOW w AS (ORDER BY salary);
-- error: 42P20
SELECT id, sum(salary) OVER (w PARTITION BY dept) FROM win_emp WINDOW w AS (ORDER BY salary);
-- error: 42P20
SELECT id, sum(salary) OVER (w ORDER BY id) FROM win_emp WINDOW w AS (ROWS UNBOUNDED PRECEDING);
-- error: 42P20
SELECT id FROM win_emp WINDOW w AS (ORDER BY id), w AS (ORDER BY name);
-- several windows in one query
SELECT id, row_number() OVER (ORDER BY id), rank() OVER (ORDER BY salary DESC), sum(salary) OVER (PARTITION BY dept), lag(name) OVER (ORDER BY name) FROM win_emp ORDER BY id;
SELECT id, count(*) OVER (PARTITION BY dept), count(*) OVER (PARTITION BY active), count(*) OVER (PARTITION BY dept, active) FROM win_emp ORDER BY id;
SELECT id, first_value(id) OVER (ORDER BY hired), first_value(id) OVER (ORDER BY hired DESC), first_value(id) OVER (ORDER BY name) FROM win_emp ORDER BY id;
SELECT id, row_number() OVER (ORDER BY id) - rank() OVER (ORDER BY salary) AS d FROM win_emp ORDER BY id;
SELECT id, sum(salary) OVER (ORDER BY id) / count(*) OVER (ORDER BY id) AS running_avg FROM win_emp ORDER BY id;
SELECT id, CASE WHEN row_number() OVER (PARTITION BY dept ORDER BY salary DESC, id) = 1 THEN 'top' ELSE 'rest' END FROM win_emp ORDER BY id;
SELECT id, coalesce(lag(salary) OVER (ORDER BY id), 0) + coalesce(lead(salary) OVER (ORDER BY id), 0) FROM win_emp ORDER BY id;
-- window results in ORDER BY, DISTINCT, LIMIT and subqueries
SELECT id, name FROM win_emp ORDER BY row_number() OVER (ORDER BY name DESC);
SELECT id, rank() OVER (ORDER BY salary DESC NULLS LAST) AS r FROM win_emp ORDER BY r, id;
SELECT id FROM win_emp ORDER BY sum(salary) OVER (PARTITION BY dept) DESC NULLS LAST, id;
SELECT id, row_number() OVER (ORDER BY id DESC) AS rn FROM win_emp ORDER BY rn LIMIT 3;
SELECT id, row_number() OVER (ORDER BY id) AS rn FROM win_emp ORDER BY id LIMIT 3 OFFSET 2;
SELECT DISTINCT dept, count(*) OVER (PARTITION BY dept) FROM win_emp;
SELECT DISTINCT rank() OVER (ORDER BY salary) FROM win_emp;
SELECT DISTINCT ON (dept) dept, id, row_number() OVER (PARTITION BY dept ORDER BY id DESC) FROM win_emp ORDER BY dept, id;
SELECT * FROM (SELECT id, dept, row_number() OVER (PARTITION BY dept ORDER BY salary DESC NULLS LAST, id) AS rn FROM win_emp) t WHERE rn = 1 ORDER BY id;
SELECT dept, name FROM (SELECT dept, name, rank() OVER (PARTITION BY dept ORDER BY salary DESC) AS r FROM win_emp) t WHERE r <= 2 ORDER BY dept, name;
WITH r AS (SELECT id, sum(salary) OVER (ORDER BY id) AS run FROM win_emp) SELECT id, run FROM r WHERE run > 400 ORDER BY id;
SELECT id, (SELECT max(rn) FROM (SELECT row_number() OVER () AS rn FROM win_t) q) FROM win_emp WHERE id < 3 ORDER BY id;
SELECT id, (SELECT count(*) FROM win_t t WHERE t.g = e.id) AS c, row_number() OVER (ORDER BY id) FROM win_emp e WHERE id <= 3 ORDER BY id;
SELECT id, row_number() OVER (ORDER BY id) FROM win_emp WHERE salary > 80 ORDER BY id;
SELECT e.id, t.s, row_number() OVER (PARTITION BY e.id ORDER BY t.id) FROM win_emp e JOIN win_t t ON t.g = e.id ORDER BY e.id, t.id;
SELECT id, row_number() OVER (ORDER BY id) FROM win_emp UNION ALL SELECT id, rank() OVER (ORDER BY id) FROM win_t ORDER BY 1, 2;
SELECT x, sum(x) OVER (ORDER BY x) FROM (VALUES (1), (2), (2), (3)) v(x) ORDER BY x;
-- error: 0A000
SELECT id, row_number() OVER (ORDER BY id) FROM win_emp FOR UPDATE;
-- windows over GROUP BY
SELECT dept, sum(salary), rank() OVER (ORDER BY sum(salary) DESC) FROM win_emp GROUP BY dept ORDER BY dept;
SELECT dept, count(*), sum(count(*)) OVER () FROM win_emp GROUP BY dept ORDER BY dept;
SELECT dept, count(*), sum(count(*)) OVER (ORDER BY dept) FROM win_emp GROUP BY dept ORDER BY dept;
SELECT dept, avg(salary), row_number() OVER (ORDER BY avg(salary) DESC NULLS LAST) FROM win_emp GROUP BY dept ORDER BY dept;
SELECT dept, max(salary), lag(max(salary)) OVER (ORDER BY dept) FROM win_emp GROUP BY dept ORDER BY dept;
SELECT dept, sum(salary) FROM win_emp GROUP BY dept HAVING count(*) > 1 ORDER BY rank() OVER (ORDER BY sum(salary));
SELECT dept, count(*) AS n, rank() OVER (ORDER BY count(*)) FROM win_emp GROUP BY dept HAVING count(*) >= 2 ORDER BY dept;
SELECT active, count(*), count(*) * 100 / sum(count(*)) OVER () AS pct FROM win_emp GROUP BY active ORDER BY active;
SELECT g, sum(x), sum(sum(x)) OVER (ORDER BY g NULLS FIRST) FROM win_t GROUP BY g ORDER BY g NULLS FIRST;
SELECT g, first_value(g) OVER (ORDER BY g DESC NULLS LAST), count(*) FROM win_t GROUP BY g ORDER BY g;
SELECT count(*), row_number() OVER () FROM win_emp;
SELECT sum(salary), sum(sum(salary)) OVER () FROM win_emp WHERE false;
SELECT dept, string_agg(name, ',' ORDER BY name), dense_rank() OVER (ORDER BY count(*) DESC) FROM win_emp GROUP BY dept ORDER BY dept;
-- error: 42803
SELECT dept, rank() OVER (ORDER BY salary) FROM win_emp GROUP BY dept;
-- error: 42803
SELECT dept, sum(salary) OVER (PARTITION BY name) FROM win_emp GROUP BY dept;
-- expressions of windows and windows of expressions
SELECT id, sum(salary * 2) OVER (PARTITION BY upper(dept) ORDER BY id % 3, id) FROM win_emp ORDER BY id;
SELECT id, row_number() OVER (ORDER BY CASE WHEN active THEN 0 ELSE 1 END, id) FROM win_emp ORDER BY id;
SELECT id, lag(name || '!') OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, rank() OVER (PARTITION BY hired < '2020-01-01' ORDER BY hired) FROM win_emp ORDER BY id;
SELECT id, row_number() OVER (PARTITION BY NULL ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, row_number() OVER (ORDER BY 1 + 1, id) FROM win_emp ORDER BY id;
SELECT id, count(*) OVER (PARTITION BY salary IS NULL) FROM win_emp ORDER BY id;
SELECT id, sum(1) OVER (ORDER BY id), sum(0.5) OVER (ORDER BY id) FROM win_emp ORDER BY id;
-- error: 42804
SELECT id, first_value('const') OVER () FROM win_emp WHERE id < 3 ORDER BY id;
SELECT id, row_number() OVER (ORDER BY id) AS "RowNum" FROM win_emp WHERE id < 3 ORDER BY id;
SELECT id, max(id) OVER (PARTITION BY dept) = id AS is_last FROM win_emp ORDER BY id;
SELECT s, row_number() OVER (ORDER BY s DESC NULLS FIRST) FROM win_t ORDER BY s NULLS FIRST;
SELECT id, y, rank() OVER (ORDER BY y DESC) FROM win_t ORDER BY id;
-- errors
-- error: 42P20
SELECT id FROM win_emp WHERE row_number() OVER (ORDER BY id) > 2;
-- error: 42P20
SELECT dept FROM win_emp GROUP BY row_number() OVER ();
-- error: 42P20
SELECT dept FROM win_emp GROUP BY dept HAVING rank() OVER () > 1;
-- error: 42P20
SELECT sum(row_number() OVER ()) OVER () FROM win_emp;
-- error: 42803
SELECT sum(row_number() OVER ()) FROM win_emp;
-- error: 42P20
SELECT row_number() OVER (ORDER BY rank() OVER ()) FROM win_emp;
-- error: 42P20
SELECT row_number() OVER (PARTITION BY rank() OVER ()) FROM win_emp;
-- error: 42P20
SELECT * FROM win_emp e JOIN win_t t ON row_number() OVER () = t.id;
-- error: 42P20
UPDATE win_emp SET salary = row_number() OVER ();
-- error: 42P20
INSERT INTO win_empty VALUES (1, row_number() OVER ());
-- error: 42P20
DELETE FROM win_empty WHERE rank() OVER () = 1;
-- error: 0A000
SELECT count(DISTINCT dept) OVER () FROM win_emp;
-- error: 0A000
SELECT string_agg(name, ',' ORDER BY name) OVER () FROM win_emp;
-- error: 42809
SELECT lower(name) OVER () FROM win_emp;
-- error: 42883
SELECT nosuchfunc(1) OVER () FROM win_emp;
-- error: 42883
SELECT row_number(1) OVER () FROM win_emp;
-- error: 42809
SELECT rank(id) OVER () FROM win_emp;
-- error: 42883
SELECT ntile('x'::text) OVER () FROM win_emp;
-- error: 42703
SELECT row_number() OVER (ORDER BY nosuch) FROM win_emp;
-- error: 42703
SELECT row_number() OVER (PARTITION BY nosuch) FROM win_emp;
-- error: 42P20
SELECT sum(salary) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND 1 PRECEDING) FROM win_emp;
-- error: 42P20
SELECT sum(salary) OVER (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND CURRENT ROW) FROM win_emp;
-- error: 42P20
SELECT sum(salary) OVER (ORDER BY id ROWS BETWEEN 2 FOLLOWING AND 1 PRECEDING) FROM win_emp;
-- error: 42P20
SELECT sum(salary) OVER (ORDER BY dept, id RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM win_emp;
-- error: 42P20
SELECT sum(salary) OVER (RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM win_emp;
-- error: 42P20
SELECT sum(salary) OVER (GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM win_emp;
-- error: 22013
SELECT sum(salary) OVER (ORDER BY id ROWS BETWEEN -1 PRECEDING AND CURRENT ROW) FROM win_emp;
-- error: 22004
SELECT sum(salary) OVER (ORDER BY id ROWS BETWEEN NULL PRECEDING AND CURRENT ROW) FROM win_emp;
-- error: 22013
SELECT sum(salary) OVER (ORDER BY salary RANGE BETWEEN -5 PRECEDING AND CURRENT ROW) FROM win_emp;
-- error: 42P10
SELECT sum(salary) OVER (ORDER BY id ROWS BETWEEN id PRECEDING AND CURRENT ROW) FROM win_emp;
-- error: 0A000
SELECT sum(salary) OVER (ORDER BY name RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM win_emp;
-- error: 0A000
SELECT id, row_number() OVER (ORDER BY id) FROM win_emp GROUP BY id FOR UPDATE;
-- error: 42804
SELECT lag('a') OVER () FROM win_emp;
SELECT lag('a', 1, 'b') OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, ntile('2') OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, lag(id, '1') OVER (ORDER BY id) FROM win_emp ORDER BY id;
-- error: 22P02
SELECT lag(id, 1, 'a') OVER (ORDER BY id) FROM win_emp;
-- error: 42883
SELECT lag(id, 1.5) OVER (ORDER BY id) FROM win_emp;
SELECT pg_typeof(lag(1::int2, 1, 1::int8) OVER ()), lag(1::int2, 1, 1::int8) OVER ();
-- error: 42809
SELECT dense_rank(1) OVER () FROM win_emp;
-- dates, numerics and floats in RANGE frames
SELECT id, count(*) OVER (ORDER BY hired RANGE BETWEEN '1 year' PRECEDING AND CURRENT ROW) FROM win_emp ORDER BY id;
SELECT id, array_agg(id) OVER (ORDER BY hired RANGE BETWEEN '400 days' PRECEDING AND '400 days' FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, count(*) OVER (ORDER BY hired DESC RANGE BETWEEN CURRENT ROW AND '2 years' FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, count(*) OVER (ORDER BY hired::timestamp RANGE BETWEEN '1 year 6 months' PRECEDING AND CURRENT ROW) FROM win_emp ORDER BY id;
SELECT id, sum(bonus) OVER (ORDER BY bonus RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, sum(bonus) OVER (ORDER BY bonus DESC NULLS FIRST RANGE BETWEEN 5.5 PRECEDING AND CURRENT ROW) FROM win_emp ORDER BY id;
SELECT id, count(*) OVER (ORDER BY y RANGE BETWEEN 0.5 PRECEDING AND 0.5 FOLLOWING) FROM win_t ORDER BY id;
SELECT id, count(*) OVER (ORDER BY y DESC RANGE BETWEEN UNBOUNDED PRECEDING AND 1 FOLLOWING) FROM win_t ORDER BY id;
SELECT id, array_agg(x) OVER (ORDER BY x RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM win_t ORDER BY id;
SELECT id, array_agg(x) OVER (ORDER BY x NULLS FIRST RANGE BETWEEN 10 PRECEDING AND 10 FOLLOWING), sum(id) OVER (ORDER BY x NULLS FIRST RANGE BETWEEN 10 PRECEDING AND 10 FOLLOWING) FROM win_t ORDER BY id;
SELECT id, count(*) OVER (ORDER BY x::bigint RANGE BETWEEN 3 PRECEDING AND 3 FOLLOWING) FROM win_t ORDER BY id;
SELECT id, count(*) OVER (ORDER BY x::smallint RANGE BETWEEN 3 PRECEDING AND 3 FOLLOWING) FROM win_t ORDER BY id;
SELECT id, count(*) OVER (ORDER BY x RANGE BETWEEN 2147483647 PRECEDING AND 2147483647 FOLLOWING) FROM win_t ORDER BY id;
-- GROUPS with offsets
SELECT id, array_agg(x) OVER (ORDER BY x GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING), sum(id) OVER (ORDER BY x GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM win_t ORDER BY id;
SELECT id, sum(x) OVER (PARTITION BY g ORDER BY x GROUPS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) FROM win_t ORDER BY id;
SELECT id, count(*) OVER (ORDER BY salary DESC GROUPS BETWEEN 2 PRECEDING AND 1 PRECEDING) FROM win_emp ORDER BY id;
-- more aggregates and value functions
SELECT id, json_agg(id) OVER (PARTITION BY g ORDER BY id) FROM win_t ORDER BY id;
SELECT id, jsonb_agg(s) OVER (ORDER BY id ROWS 1 PRECEDING) FROM win_t ORDER BY id;
SELECT id, bit_and(x) OVER (PARTITION BY g), bit_or(x) OVER (PARTITION BY g) FROM win_t ORDER BY id;
SELECT id, var_pop(x) OVER (PARTITION BY g)::numeric(12,4), var_samp(y) OVER (PARTITION BY g) FROM win_t ORDER BY id;
SELECT id, avg(hired - date '2000-01-01') OVER (PARTITION BY dept) FROM win_emp ORDER BY id;
SELECT id, sum(interval '1 day' * id) OVER (ORDER BY id) FROM win_emp ORDER BY id;
SELECT id, nth_value(x, 2) OVER (ORDER BY x DESC NULLS LAST, id) FROM win_t ORDER BY id;
SELECT id, first_value(x) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND CURRENT ROW) FROM win_t ORDER BY id;
SELECT id, lead(id, 2, -1) OVER (PARTITION BY g ORDER BY id) FROM win_t ORDER BY id;
SELECT id, percent_rank() OVER (PARTITION BY g ORDER BY x), cume_dist() OVER (PARTITION BY g ORDER BY x) FROM win_t ORDER BY id;
SELECT id, count(*) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 2 FOLLOWING) FROM win_t ORDER BY id;
SELECT id, sum(x) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND UNBOUNDED FOLLOWING) FROM win_t ORDER BY id;
-- windows with SRFs, casts, star, joins, DML
SELECT generate_series(1, 3) AS g, row_number() OVER () FROM win_emp WHERE id = 1 ORDER BY g;
SELECT id, (row_number() OVER (ORDER BY id))::text || '.' AS label FROM win_emp ORDER BY id;
SELECT *, row_number() OVER (ORDER BY id DESC) FROM win_t ORDER BY id;
SELECT row_number() OVER (ORDER BY id), * FROM win_empty;
SELECT id, row_number() OVER (ORDER BY 1) FROM win_emp WHERE id < 2 ORDER BY id;
SELECT e.dept, t.g, count(*) OVER (PARTITION BY e.dept) FROM win_emp e JOIN win_t t ON t.g = e.id % 3 ORDER BY e.dept, t.g, 3;
SELECT e.id, sum(t.x) OVER (PARTITION BY e.id) FROM win_emp e LEFT JOIN win_t t ON t.g = e.id WHERE e.id <= 4 ORDER BY e.id;
INSERT INTO win_empty SELECT id, row_number() OVER (ORDER BY salary DESC NULLS LAST, id) FROM win_emp;
SELECT id, v FROM win_empty ORDER BY id;
UPDATE win_empty SET v = r.rk FROM (SELECT id, rank() OVER (ORDER BY dept NULLS FIRST) AS rk FROM win_emp) r WHERE r.id = win_empty.id;
SELECT id, v FROM win_empty ORDER BY id;
DELETE FROM win_empty WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id DESC) AS rn FROM win_emp) q WHERE rn > 3);
SELECT id, v, sum(v) OVER (ORDER BY id) FROM win_empty ORDER BY id;
SELECT dept, count(*) OVER (PARTITION BY dept) FROM win_emp GROUP BY dept ORDER BY dept;
SELECT row_number() OVER (ORDER BY dept) AS rn, dept FROM win_emp GROUP BY dept HAVING dept <> 'ops' ORDER BY rn;
SELECT sum(count(*)) OVER (), count(*) FROM win_emp;
SELECT id, rank() OVER w AS "Rank" FROM win_emp WINDOW w AS (ORDER BY id DESC) ORDER BY id;
SELECT id, count(*) OVER w FROM win_emp WINDOW w AS (PARTITION BY dept ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) ORDER BY id;
SELECT id, count(*) OVER w2 FROM win_emp WINDOW w1 AS (PARTITION BY dept), w2 AS (w1 ORDER BY salary) ORDER BY id;
SELECT id FROM win_emp WHERE id = (SELECT max(id) FROM (SELECT id, rank() OVER (ORDER BY id) AS r FROM win_t) q WHERE r = 2) ORDER BY id;
SELECT q.id, q.r FROM (SELECT id, row_number() OVER (PARTITION BY g ORDER BY x DESC NULLS LAST, id) AS r FROM win_t) q ORDER BY q.id;
SELECT id FROM win_emp e WHERE id < (SELECT count(*) OVER () FROM win_t t WHERE t.id = e.id) ORDER BY id;
WITH ranked AS (SELECT dept, name, salary, dense_rank() OVER (PARTITION BY dept ORDER BY salary DESC NULLS LAST) AS dr FROM win_emp) SELECT dept, string_agg(name, ',' ORDER BY name) FROM ranked WHERE dr = 1 GROUP BY dept ORDER BY dept;
SELECT x, count(*) OVER (), count(*) FROM win_t GROUP BY x ORDER BY x;
SELECT id, row_number() OVER (ORDER BY id) FROM win_emp ORDER BY id DESC LIMIT 2;
SELECT max(rn) FROM (SELECT row_number() OVER () AS rn FROM generate_series(1, 1000)) q;
SELECT count(DISTINCT r) FROM (SELECT rank() OVER (ORDER BY i / 10) AS r FROM generate_series(1, 1000) i) q;
SELECT sum(s) FROM (SELECT sum(i) OVER (ORDER BY i ROWS BETWEEN 5 PRECEDING AND 5 FOLLOWING) AS s FROM generate_series(1, 500) i) q;
-- more errors
-- error: 42P20
VALUES (row_number() OVER ());
-- error: 42P20
SELECT id FROM win_emp ORDER BY 1 LIMIT (SELECT 1) OFFSET row_number() OVER ();
-- error: 42P20
SELECT count(*) FILTER (WHERE rank() OVER () > 1) FROM win_emp;
-- error: 42703
SELECT id, row_number() OVER (ORDER BY rn) AS rn FROM win_emp;
-- error: 42704
SELECT id FROM win_emp WINDOW w AS (w2), w2 AS (ORDER BY id);
-- error: 42P20
SELECT sum(id) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED FOLLOWING AND CURRENT ROW) FROM win_emp;
-- error: 42P20
SELECT sum(id) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED PRECEDING) FROM win_emp;
-- error: 22013
SELECT sum(id) OVER (ORDER BY id GROUPS BETWEEN -1 PRECEDING AND CURRENT ROW) FROM win_emp;
-- error: 22013
SELECT sum(id) OVER (ORDER BY hired RANGE BETWEEN '-1 day' PRECEDING AND CURRENT ROW) FROM win_emp;
-- error: 42P20
SELECT id FROM win_emp GROUP BY id HAVING sum(id) OVER () > 0;
-- frame offset types
SELECT id, sum(id) OVER (ORDER BY id ROWS BETWEEN 1.5 PRECEDING AND CURRENT ROW) FROM win_emp ORDER BY id;
SELECT id, sum(id) OVER (ORDER BY id ROWS BETWEEN '1' PRECEDING AND CURRENT ROW) FROM win_emp ORDER BY id;
SELECT id, sum(id) OVER (ORDER BY id GROUPS BETWEEN 1.5 PRECEDING AND CURRENT ROW) FROM win_emp ORDER BY id;
-- error: 0A000
SELECT sum(id) OVER (ORDER BY salary RANGE BETWEEN 1.5 PRECEDING AND CURRENT ROW) FROM win_emp;
-- error: 22P02
SELECT sum(id) OVER (ORDER BY salary RANGE BETWEEN '1 day' PRECEDING AND CURRENT ROW) FROM win_emp;
-- error: 0A000
SELECT sum(id) OVER (ORDER BY hired RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM win_emp;
SELECT id, sum(id) OVER (ORDER BY bonus RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM win_emp ORDER BY id;
SELECT id, sum(id) OVER (ORDER BY y RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM win_t ORDER BY id;
SELECT id, sum(id) OVER (ORDER BY salary RANGE BETWEEN 1::bigint PRECEDING AND CURRENT ROW) FROM win_emp ORDER BY id;
SELECT id, sum(id) OVER (ORDER BY salary::bigint RANGE BETWEEN 5 PRECEDING AND 5::smallint FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, sum(id) OVER (ORDER BY y RANGE BETWEEN 1::real PRECEDING AND CURRENT ROW) FROM win_t ORDER BY id;
SELECT id, sum(id) OVER (ORDER BY hired::timestamptz RANGE BETWEEN '1 day' PRECEDING AND CURRENT ROW) FROM win_emp ORDER BY id;
SELECT id, sum(id) OVER (ORDER BY hired::timestamp DESC RANGE BETWEEN '3 years' PRECEDING AND '1 year' PRECEDING) FROM win_emp ORDER BY id;
-- unused WINDOW definitions are still checked
-- error: 42703
SELECT id FROM win_emp WINDOW w AS (ORDER BY nosuch);
-- error: 42803
SELECT dept FROM win_emp GROUP BY dept WINDOW w AS (ORDER BY salary);
SELECT dept FROM win_emp GROUP BY dept WINDOW w AS (ORDER BY count(*)) ORDER BY dept;
-- error: 42P20
SELECT id FROM win_emp WINDOW w AS (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND CURRENT ROW);
-- error: 42P20
SELECT id FROM win_emp WINDOW w AS (PARTITION BY rank() OVER ());
SELECT id, count(*) OVER w FROM win_emp WINDOW w AS (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING), unused AS (PARTITION BY dept) ORDER BY id;
-- error: 42P20
SELECT id, count(*) OVER (w) FROM win_emp WINDOW w AS (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING);
SELECT id, count(*) OVER (w ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM win_emp WINDOW w AS (ORDER BY id) ORDER BY id;
-- more shapes
SELECT id AS k, row_number() OVER (ORDER BY id DESC) FROM win_emp ORDER BY k;
SELECT id, row_number() OVER (PARTITION BY 1 ORDER BY id) FROM win_emp WHERE id < 4 ORDER BY id;
SELECT DISTINCT dept, rank() OVER (ORDER BY dept NULLS FIRST) AS r FROM win_emp ORDER BY r;
WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 6) SELECT n, sum(n) OVER (ORDER BY n DESC), lag(n) OVER (ORDER BY n) FROM c ORDER BY n;
SELECT e.id, l.rn FROM win_emp e, LATERAL (SELECT row_number() OVER (ORDER BY t.id) AS rn, t.id FROM win_t t WHERE t.g = e.id) l WHERE e.id <= 2 ORDER BY e.id, l.rn;
SELECT g, x, sum(x) OVER (PARTITION BY g ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - x AS before FROM win_t WHERE g IS NOT NULL ORDER BY g, x NULLS FIRST, 3;
SELECT id, count(*) OVER (PARTITION BY dept ORDER BY hired RANGE BETWEEN UNBOUNDED PRECEDING AND '1000 days' FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, max(salary) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running_max FROM win_emp ORDER BY id;
SELECT id, min(name) OVER (ORDER BY id DESC ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, sum(bonus) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING), avg(salary) OVER (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, string_agg(name, ',') OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, sum(y) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM win_t ORDER BY id;
SELECT id, bool_and(active) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING), count(active) OVER (ORDER BY id DESC ROWS BETWEEN 2 FOLLOWING AND UNBOUNDED FOLLOWING) FROM win_emp ORDER BY id;
SELECT id, ntile(3) OVER (PARTITION BY g ORDER BY id), ntile(2) OVER (ORDER BY x DESC NULLS LAST, id) FROM win_t ORDER BY id;
SELECT name, salary, round(100.0 * salary / sum(salary) OVER (), 2) AS share FROM win_emp WHERE salary IS NOT NULL ORDER BY salary DESC, name;
SELECT dept, name, salary FROM (SELECT dept, name, salary, max(salary) OVER (PARTITION BY dept) AS top FROM win_emp) t WHERE salary = top ORDER BY dept, name;
SELECT id, lag(id) OVER w, lead(id) OVER w, first_value(id) OVER w, last_value(id) OVER w FROM win_emp WINDOW w AS (PARTITION BY active ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) ORDER BY id;
SELECT count(*) OVER () FROM win_emp LIMIT 1;
SELECT id, rank() OVER (ORDER BY salary DESC NULLS LAST) FROM win_emp ORDER BY 2, 1;
SELECT id, row_number() OVER (ORDER BY id) % 3 AS bucket FROM win_emp ORDER BY bucket, id;
SELECT hired, lead(hired) OVER (ORDER BY hired) - hired AS days_to_next FROM win_emp ORDER BY hired;
SELECT id, s, lag(s, 1, '-') OVER (ORDER BY s NULLS FIRST, id) FROM win_t ORDER BY id;
SELECT g, array_agg(x) OVER (PARTITION BY g ORDER BY x NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM win_t WHERE g = 1 LIMIT 1;
-- syntax PostgreSQL 15 does not have, and FILTER on window functions
-- error: 42601
SELECT lag(salary) IGNORE NULLS OVER (ORDER BY id) FROM win_emp;
-- error: 42601
SELECT first_value(salary) RESPECT NULLS OVER (ORDER BY id) FROM win_emp;
-- error: 0A000
SELECT row_number() FILTER (WHERE id > 2) OVER (ORDER BY id) FROM win_emp;
SELECT id, count(*) FILTER (WHERE id > 2) OVER (ORDER BY id), sum(salary) FILTER (WHERE dept = 'eng') OVER w FROM win_emp WINDOW w AS (ORDER BY id DESC) ORDER BY id;
-- windows feeding other statements
CREATE TABLE win_ranked AS SELECT id, dept, rank() OVER (PARTITION BY dept ORDER BY salary DESC NULLS LAST) AS r FROM win_emp;
SELECT id, dept, r FROM win_ranked ORDER BY id;
CREATE VIEW win_v AS SELECT id, sum(salary) OVER (ORDER BY id) AS running FROM win_emp;
SELECT id, running FROM win_v WHERE id > 7 ORDER BY id;
SELECT id, running, row_number() OVER (ORDER BY running DESC NULLS LAST, id) FROM win_v ORDER BY id;
-- status-only
EXPLAIN SELECT id, row_number() OVER (ORDER BY id) FROM win_emp;
-- numeric variance of equal values is a plain 0, as in PostgreSQL
SELECT id, var_pop(x) OVER (PARTITION BY g), stddev_samp(x) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM win_t ORDER BY id;
SELECT g, var_pop(x), stddev_pop(x), variance(5) FROM win_t GROUP BY g ORDER BY g NULLS FIRST;
