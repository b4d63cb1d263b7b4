-- UPDATE / DELETE (RETURNING, UPDATE ... FROM), TRUNCATE.
CREATE TABLE upd_t (id int PRIMARY KEY, grp text, val int, note text);
INSERT INTO upd_t VALUES (1, 'a', 10, NULL), (2, 'a', 20, NULL), (3, 'b', 30, 'x'), (4, 'b', 40, NULL), (5, 'c', NULL, NULL);
UPDATE upd_t SET val = val + 1 WHERE grp = 'a';
SELECT id, val FROM upd_t ORDER BY id;
UPDATE upd_t SET note = 'touched', val = val * 2 WHERE id = 3 RETURNING id, val, note;
UPDATE upd_t SET val = 0 WHERE false;
UPDATE upd_t SET val = 0 WHERE id = 999 RETURNING *;
UPDATE upd_t SET note = grp || ':' || coalesce(val::text, 'null') RETURNING id, note;
UPDATE upd_t SET val = DEFAULT WHERE id = 5;
SELECT id, val, note FROM upd_t ORDER BY id;
UPDATE upd_t SET (val, note) = (100, 'tuple') WHERE id = 4;
SELECT * FROM upd_t WHERE id = 4;
UPDATE upd_t u SET val = u.val - 1 WHERE u.val > 20 RETURNING u.id, u.val;
-- error: 23505
UPDATE upd_t SET id = 1 WHERE id = 2;
-- error: 42703
UPDATE upd_t SET nope = 1;
-- error: 22012
UPDATE upd_t SET val = val / 0 WHERE id = 1;
SELECT id, val FROM upd_t ORDER BY id;
-- Swapping keys in one statement works: uniqueness is checked per row at the end.
CREATE TABLE upd_swap (id int PRIMARY KEY, v text);
INSERT INTO upd_swap VALUES (1, 'one'), (2, 'two'), (3, 'three');
UPDATE upd_swap SET id = id + 10;
SELECT id, v FROM upd_swap ORDER BY id;
-- UPDATE ... FROM
CREATE TABLE upd_price (grp text PRIMARY KEY, factor int);
INSERT INTO upd_price VALUES ('a', 2), ('b', 3);
UPDATE upd_t SET val = upd_t.val * p.factor FROM upd_price p WHERE p.grp = upd_t.grp RETURNING upd_t.id, upd_t.val, p.factor;
SELECT id, grp, val FROM upd_t ORDER BY id;
UPDATE upd_t t SET note = p.grp || '*' || p.factor FROM upd_price p WHERE t.grp = p.grp AND p.factor > 2;
SELECT id, note FROM upd_t ORDER BY id;
UPDATE upd_t SET val = (SELECT max(factor) FROM upd_price) WHERE id = 5;
SELECT val FROM upd_t WHERE id = 5;
-- DELETE
DELETE FROM upd_t WHERE id = 1;
DELETE FROM upd_t WHERE id = 1;
DELETE FROM upd_t WHERE grp = 'b' RETURNING id, grp;
DELETE FROM upd_t WHERE val IS NULL;
SELECT id FROM upd_t ORDER BY id;
DELETE FROM upd_t USING upd_price p WHERE upd_t.grp = p.grp AND p.factor = 2 RETURNING upd_t.id;
SELECT count(*) FROM upd_t;
DELETE FROM upd_t WHERE id IN (SELECT id FROM upd_t WHERE grp = 'c');
DELETE FROM upd_t;
SELECT count(*) FROM upd_t;
INSERT INTO upd_t VALUES (1, 'z', 1, NULL), (2, 'z', 2, NULL);
DELETE FROM upd_t RETURNING *;
-- TRUNCATE
INSERT INTO upd_price VALUES ('c', 4);
TRUNCATE upd_price;
SELECT count(*) FROM upd_price;
INSERT INTO upd_price VALUES ('a', 1);
TRUNCATE TABLE upd_price, upd_swap;
SELECT (SELECT count(*) FROM upd_price), (SELECT count(*) FROM upd_swap);
-- error: 42P01
TRUNCATE upd_nothere;
CREATE TABLE upd_seq (id serial PRIMARY KEY, v text);
INSERT INTO upd_seq (v) VALUES ('a'), ('b');
TRUNCATE upd_seq RESTART IDENTITY;
INSERT INTO upd_seq (v) VALUES ('c') RETURNING id, v;
TRUNCATE upd_seq;
INSERT INTO upd_seq (v) VALUES ('d') RETURNING id, v;
-- error: 23502
UPDATE upd_seq SET v = 'ok', id = NULL;
SELECT id, v FROM upd_seq;
