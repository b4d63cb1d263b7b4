-- SELECT basics: WHERE, DISTINCT, ORDER BY, LIMIT/OFFSET, CASE and friends.
CREATE TABLE sel_t (id int PRIMARY KEY, cat text, price numeric(8,2), qty int, tag text);
INSERT INTO sel_t VALUES
  (1, 'fruit', 1.20, 10, 'red'), (2, 'fruit', 0.50, NULL, 'yellow'), (3, 'veg', 2.00, 5, NULL),
  (4, 'veg', 0.75, 20, 'green'), (5, 'dairy', 3.10, 2, 'white'), (6, 'dairy', NULL, 7, 'white'),
  (7, 'fruit', 4.00, 1, 'red'), (8, NULL, 9.99, NULL, NULL);
SELECT * FROM sel_t ORDER BY id;
SELECT id, price FROM sel_t WHERE price > 1 AND qty IS NOT NULL ORDER BY id;
SELECT id FROM sel_t WHERE cat = 'fruit' OR tag = 'white' ORDER BY id;
SELECT id FROM sel_t WHERE NOT (cat = 'veg') ORDER BY id;
SELECT id FROM sel_t WHERE cat IS NULL OR tag IS NULL ORDER BY id;
SELECT DISTINCT cat FROM sel_t;
SELECT DISTINCT cat, tag FROM sel_t ORDER BY cat, tag;
SELECT DISTINCT ON (cat) cat, id, price FROM sel_t ORDER BY cat, price DESC;
SELECT id, qty FROM sel_t ORDER BY qty;
SELECT id, qty FROM sel_t ORDER BY qty DESC;
SELECT id, qty FROM sel_t ORDER BY qty ASC NULLS FIRST, id;
SELECT id, qty FROM sel_t ORDER BY qty DESC NULLS LAST, id;
SELECT id, cat FROM sel_t ORDER BY cat NULLS FIRST, id DESC;
SELECT id, price * qty AS total FROM sel_t ORDER BY total DESC NULLS LAST, id;
SELECT id, cat FROM sel_t ORDER BY 2, 1;
SELECT id FROM sel_t ORDER BY id LIMIT 3;
SELECT id FROM sel_t ORDER BY id LIMIT 3 OFFSET 2;
SELECT id FROM sel_t ORDER BY id OFFSET 6;
SELECT id FROM sel_t ORDER BY id LIMIT 0;
SELECT id FROM sel_t ORDER BY id DESC LIMIT ALL OFFSET 5;
SELECT id FROM sel_t ORDER BY id FETCH FIRST 2 ROWS ONLY;
-- error: 2201W
SELECT id FROM sel_t LIMIT -1;
SELECT id, CASE WHEN qty >= 10 THEN 'many' WHEN qty >= 5 THEN 'some' ELSE 'few' END AS amount FROM sel_t ORDER BY id;
SELECT id, CASE cat WHEN 'fruit' THEN 1 WHEN 'veg' THEN 2 END FROM sel_t ORDER BY id;
SELECT id, coalesce(qty, 0), coalesce(tag, cat, 'none') FROM sel_t ORDER BY id;
SELECT id, nullif(tag, 'white'), nullif(qty, 10) FROM sel_t ORDER BY id;
SELECT greatest(qty, 6), least(price, 1.00) FROM sel_t ORDER BY id;
SELECT id FROM sel_t WHERE id IN (1, 3, 5, 99) ORDER BY id;
SELECT id FROM sel_t WHERE id NOT IN (1, 3, 5) ORDER BY id;
SELECT id FROM sel_t WHERE qty NOT IN (10, NULL);
SELECT id FROM sel_t WHERE tag IN ('red', 'white') AND price BETWEEN 1 AND 4 ORDER BY id;
SELECT id FROM sel_t WHERE price BETWEEN SYMMETRIC 3 AND 1 ORDER BY id;
SELECT id, price::int, CAST(price AS text), qty::text || 'x', price::float8 FROM sel_t ORDER BY id;
SELECT 1 AS one, 'two' AS "Second Col", NULL AS nothing, 3.5 AS x;
SELECT 1 + 1, 'lit', NULL, true;
SELECT count(*) FROM sel_t;
SELECT sel_t.id, s.cat FROM sel_t, sel_t AS s WHERE sel_t.id = s.id AND s.id < 3 ORDER BY 1;
SELECT * FROM (SELECT id, cat FROM sel_t WHERE qty > 5) sub ORDER BY id;
SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(n, s) ORDER BY n;
SELECT x FROM generate_series(1, 5) AS x;
SELECT generate_series(1, 10, 4);
SELECT id, price FROM sel_t WHERE price > (SELECT avg(price) FROM sel_t) ORDER BY id;
SELECT id, -qty, qty IS DISTINCT FROM 10, qty IS NOT DISTINCT FROM NULL FROM sel_t ORDER BY id;
SELECT cat, id FROM sel_t WHERE cat LIKE 'f%' ORDER BY price DESC;
SELECT id FROM sel_t WHERE tag = ANY (ARRAY['red', 'green']) ORDER BY id;
SELECT id FROM sel_t WHERE qty > ALL (ARRAY[1, 2, 3]) ORDER BY id;
-- error: 42703
SELECT nosuch FROM sel_t;
-- error: 42P01
SELECT * FROM sel_nosuch;
-- error: 42702
SELECT id FROM sel_t a, sel_t b;
-- error: 42601
SELECT id FROM sel_t WHERE;
-- error: 42883
SELECT * FROM sel_t WHERE cat > 1;
-- error: 42804
SELECT id FROM sel_t WHERE qty;
-- error: 42P10
SELECT id FROM sel_t ORDER BY 5;
