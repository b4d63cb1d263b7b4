-- INSERT: multi-row, DEFAULT, INSERT ... SELECT, ON CONFLICT, RETURNING.
CREATE TABLE ins_t (id int PRIMARY KEY, name text NOT NULL DEFAULT 'anon', qty int DEFAULT 1, note text);
INSERT INTO ins_t VALUES (1, 'a', 10, 'first');
INSERT INTO ins_t (id, name) VALUES (2, 'b'), (3, 'c'), (4, 'd');
INSERT INTO ins_t (id) VALUES (5);
INSERT INTO ins_t VALUES (6, DEFAULT, DEFAULT, DEFAULT);
INSERT INTO ins_t (id, name, qty) VALUES (7, 'g', DEFAULT), (8, DEFAULT, 80);
SELECT * FROM ins_t ORDER BY id;
INSERT INTO ins_t (id, name) VALUES (9, 'i') RETURNING *;
INSERT INTO ins_t (id, name) VALUES (10, 'j'), (11, 'k') RETURNING id, upper(name) AS big, qty * 2;
INSERT INTO ins_t (id, qty) VALUES (12, 5) RETURNING name;
-- error: 23505
INSERT INTO ins_t (id) VALUES (1);
-- error: 23505
INSERT INTO ins_t (id) VALUES (20), (20);
SELECT count(*) FROM ins_t WHERE id = 20;
-- error: 42703
INSERT INTO ins_t (id, nope) VALUES (30, 1);
-- error: 42601
INSERT INTO ins_t (id, name) VALUES (31);
-- error: 42601
INSERT INTO ins_t (id) VALUES (32, 'extra');
-- error: 23502
INSERT INTO ins_t (id, name) VALUES (33, NULL);
INSERT INTO ins_t (id, name) VALUES ('34', 'text to int');
-- error: 22P02
INSERT INTO ins_t (id, name) VALUES ('x35', 'bad');
INSERT INTO ins_t (id, name) VALUES (36.4, 'rounded'), (36.6, 'rounded up');
SELECT id, name FROM ins_t WHERE name LIKE 'round%' OR name = 'text to int' ORDER BY id;
CREATE TABLE ins_copy (id int, name text, qty int);
INSERT INTO ins_copy SELECT id, name, qty FROM ins_t WHERE id <= 4;
INSERT INTO ins_copy (id, name) SELECT id + 100, name || '!' FROM ins_t WHERE id BETWEEN 5 AND 6 RETURNING *;
SELECT * FROM ins_copy ORDER BY id;
INSERT INTO ins_copy SELECT * FROM ins_copy WHERE id > 100;
SELECT count(*) FROM ins_copy;
INSERT INTO ins_copy (id) SELECT 200 WHERE false;
INSERT INTO ins_copy VALUES (300, 'x', 1) , (301, NULL, NULL);
-- ON CONFLICT
CREATE TABLE ins_kv (k text PRIMARY KEY, v int NOT NULL, hits int DEFAULT 0);
INSERT INTO ins_kv VALUES ('a', 1), ('b', 2);
INSERT INTO ins_kv VALUES ('a', 100) ON CONFLICT DO NOTHING;
INSERT INTO ins_kv VALUES ('a', 100), ('c', 3) ON CONFLICT (k) DO NOTHING RETURNING k, v;
SELECT k, v, hits FROM ins_kv ORDER BY k;
INSERT INTO ins_kv VALUES ('a', 10) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, hits = ins_kv.hits + 1;
INSERT INTO ins_kv AS t VALUES ('b', 20), ('d', 4) ON CONFLICT (k) DO UPDATE SET v = t.v + EXCLUDED.v, hits = t.hits + 1 RETURNING k, v, hits;
INSERT INTO ins_kv VALUES ('a', 999) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v WHERE ins_kv.v > 1000;
SELECT k, v, hits FROM ins_kv ORDER BY k;
-- error: 21000
INSERT INTO ins_kv VALUES ('e', 1), ('e', 2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v;
-- error: 42P10
INSERT INTO ins_kv VALUES ('f', 1) ON CONFLICT (v) DO NOTHING;
CREATE TABLE ins_u (id int PRIMARY KEY, email text UNIQUE, n int);
INSERT INTO ins_u VALUES (1, 'x@a', 1);
INSERT INTO ins_u VALUES (2, 'x@a', 1) ON CONFLICT (email) DO UPDATE SET n = ins_u.n + 10;
INSERT INTO ins_u VALUES (2, 'x@a', 1) ON CONFLICT DO NOTHING;
SELECT * FROM ins_u;
-- error: 23505
INSERT INTO ins_u VALUES (3, 'x@a', 1) ON CONFLICT (id) DO NOTHING;
CREATE TABLE ins_typ (a int, b boolean, c text, d date);
-- error: 42804
INSERT INTO ins_typ (a) VALUES (true);
-- error: 42804
INSERT INTO ins_typ (b) VALUES (1);
-- error: 42804
INSERT INTO ins_typ (d) VALUES (5);
INSERT INTO ins_typ (c) VALUES (5);
INSERT INTO ins_typ (a, b, d) VALUES ('7', 'true', '2024-01-01');
SELECT * FROM ins_typ ORDER BY a NULLS FIRST;
