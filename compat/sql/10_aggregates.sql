-- GROUP BY, HAVING and the aggregate functions.
CREATE TABLE agg_t (id int, grp text, n int, x numeric, f double precision, ok boolean, s text);
INSERT INTO agg_t VALUES
  (1, 'a', 1, 1.5, 0.5, true, 'p'), (2, 'a', 2, 2.5, 1.5, true, 'q'), (3, 'a', NULL, NULL, NULL, NULL, NULL),
  (4, 'b', 10, 0.1, 2.5, false, 'r'), (5, 'b', 20, 0.2, 3.5, true, 's'), (6, 'c', 5, 7, 0.25, false, 't'),
  (7, NULL, 3, 3, 1, NULL, 'u');
SELECT count(*), count(n), count(DISTINCT grp), sum(n), min(n), max(n) FROM agg_t;
SELECT avg(n), avg(x), avg(f), sum(x), sum(f) FROM agg_t;
SELECT grp, count(*), sum(n), avg(n), min(x), max(x) FROM agg_t GROUP BY grp ORDER BY grp NULLS LAST;
SELECT grp, bool_and(ok), bool_or(ok), every(ok) FROM agg_t GROUP BY grp ORDER BY grp;
SELECT grp, string_agg(s, ',' ORDER BY s), string_agg(s, '' ORDER BY s DESC) FROM agg_t GROUP BY grp ORDER BY grp;
SELECT grp, array_agg(n ORDER BY n NULLS FIRST) FROM agg_t GROUP BY grp ORDER BY grp;
SELECT array_agg(id ORDER BY id DESC) FROM agg_t WHERE n > 1;
SELECT grp, count(*) FROM agg_t GROUP BY grp HAVING count(*) > 1 ORDER BY grp;
SELECT grp, sum(n) FROM agg_t GROUP BY grp HAVING sum(n) > 4 AND min(n) >= 1;
SELECT grp FROM agg_t GROUP BY grp HAVING bool_or(ok);
SELECT count(*) FROM agg_t HAVING count(*) > 100;
SELECT sum(n), count(n), max(s), avg(n) FROM agg_t WHERE false;
SELECT count(*) FROM agg_t WHERE false;
SELECT grp, count(*) FROM agg_t WHERE false GROUP BY grp;
SELECT n % 2 AS parity, count(*) FROM agg_t WHERE n IS NOT NULL GROUP BY n % 2 ORDER BY parity;
SELECT upper(grp), count(*) FROM agg_t GROUP BY upper(grp) ORDER BY 1 NULLS FIRST;
SELECT grp, ok, count(*) FROM agg_t GROUP BY grp, ok ORDER BY grp, ok;
SELECT grp, count(*) FROM agg_t GROUP BY 1 ORDER BY 2 DESC, 1;
SELECT count(DISTINCT ok), sum(DISTINCT n % 3), string_agg(DISTINCT grp, '|' ORDER BY grp) FROM agg_t;
SELECT max(grp), min(s), max(ok::int), min(id) FILTER (WHERE n > 5) FROM agg_t;
SELECT grp, count(*) FILTER (WHERE ok), sum(n) FILTER (WHERE n < 10) FROM agg_t GROUP BY grp ORDER BY grp;
SELECT sum(n)::numeric / count(n), round(avg(x), 2), round(avg(f)::numeric, 3) FROM agg_t;
SELECT sum(i) FROM generate_series(1, 100) i;
SELECT sum(i::bigint * 1000000000) FROM generate_series(1, 10) i;
SELECT avg(i), sum(i), pg_typeof(sum(i)), pg_typeof(avg(i)) FROM generate_series(1, 4) i;
SELECT grp, max(n) - min(n) AS spread FROM agg_t GROUP BY grp HAVING max(n) - min(n) > 0 ORDER BY spread;
SELECT (SELECT max(n) FROM agg_t) AS top, (SELECT count(*) FROM agg_t WHERE ok) AS oks;
SELECT bool_and(n > 0), bool_or(n > 15) FROM agg_t;
SELECT string_agg(grp, ',') IS NULL FROM agg_t WHERE grp = 'zzz';
SELECT grp, avg(n)::numeric(10,2) FROM agg_t GROUP BY grp ORDER BY avg(n) DESC NULLS LAST;
SELECT count(*) FROM (SELECT DISTINCT grp FROM agg_t) d;
SELECT stddev_samp(n)::numeric(10,4), variance(n)::numeric(10,4) FROM agg_t;
-- error: 42803
SELECT grp, n FROM agg_t GROUP BY grp;
-- error: 42803
SELECT id FROM agg_t HAVING count(*) > 1;
-- error: 42803
SELECT count(*) FROM agg_t WHERE sum(n) > 1;
-- error: 42883
SELECT sum(s) FROM agg_t;
-- error: 42803
SELECT sum(count(*)) FROM agg_t;
