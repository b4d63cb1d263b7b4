-- A primary key added after the data (as pgbench and pg_restore do) and
-- dropped again: rows, indexes and constraints behave as with CREATE TABLE.
CREATE TABLE rk_a (id int NOT NULL, grp int, name text, code text);
INSERT INTO rk_a SELECT g, g % 7, 'n' || g, 'c' || g FROM generate_series(1, 300) g;
CREATE INDEX rk_a_grp ON rk_a (grp);
CREATE UNIQUE INDEX rk_a_code ON rk_a (code);
ALTER TABLE rk_a ADD PRIMARY KEY (id);
SELECT id, grp, name FROM rk_a WHERE id = 123;
SELECT count(*) FROM rk_a WHERE grp = 3;
SELECT id FROM rk_a WHERE code = 'c77';
SELECT id FROM rk_a WHERE id BETWEEN 10 AND 14 ORDER BY id;
SELECT count(*), sum(id), min(name), max(name) FROM rk_a;
-- error: 23505
INSERT INTO rk_a VALUES (5, 1, 'dup', 'x5');
-- error: 23505
INSERT INTO rk_a VALUES (1000, 1, 'dup', 'c5');
INSERT INTO rk_a VALUES (301, 1, 'n301', 'c301');
UPDATE rk_a SET grp = 99 WHERE id = 7;
SELECT id, grp FROM rk_a WHERE grp = 99;
UPDATE rk_a SET id = 1007 WHERE id = 8;
SELECT id, name FROM rk_a WHERE id IN (8, 1007);
DELETE FROM rk_a WHERE id = 9;
SELECT count(*) FROM rk_a;
SELECT conname, contype FROM pg_constraint WHERE conrelid = 'rk_a'::regclass AND contype = 'p';
-- Composite key, rolled back: the table stays as it was.
CREATE TABLE rk_b (a int NOT NULL, b int NOT NULL, v text);
INSERT INTO rk_b VALUES (1, 1, 'x'), (1, 2, 'y'), (2, 1, 'z');
BEGIN;
ALTER TABLE rk_b ADD PRIMARY KEY (a, b);
SELECT v FROM rk_b WHERE a = 1 AND b = 2;
ROLLBACK;
INSERT INTO rk_b VALUES (1, 1, 'again');
SELECT a, b, v FROM rk_b ORDER BY a, b, v;
-- error: 23505
ALTER TABLE rk_b ADD PRIMARY KEY (a, b);
DELETE FROM rk_b WHERE v = 'again';
ALTER TABLE rk_b ADD CONSTRAINT rk_b_key PRIMARY KEY (a, b);
SELECT v FROM rk_b WHERE a = 2 AND b = 1;
-- error: 23505
INSERT INTO rk_b VALUES (2, 1, 'dup');
-- NULLs in the key column are refused.
CREATE TABLE rk_c (id int, v int);
INSERT INTO rk_c VALUES (1, 1), (NULL, 2);
-- error: 23502
ALTER TABLE rk_c ADD PRIMARY KEY (id);
DELETE FROM rk_c WHERE id IS NULL;
ALTER TABLE rk_c ADD PRIMARY KEY (id);
-- Dropping the key: duplicates are allowed again, the data stays.
ALTER TABLE rk_c DROP CONSTRAINT rk_c_pkey;
INSERT INTO rk_c VALUES (1, 10), (2, 20);
SELECT id, v FROM rk_c ORDER BY id, v;
-- error: 23505
ALTER TABLE rk_c ADD PRIMARY KEY (id);
DELETE FROM rk_c WHERE v = 10;
ALTER TABLE rk_c ADD PRIMARY KEY (id);
SELECT id, v FROM rk_c WHERE id = 2;
-- A key referenced by a foreign key needs CASCADE to go.
CREATE TABLE rk_child (id int PRIMARY KEY, a_id int REFERENCES rk_a (id));
INSERT INTO rk_child VALUES (1, 123);
-- error: 2BP01
ALTER TABLE rk_a DROP CONSTRAINT rk_a_pkey;
ALTER TABLE rk_a DROP CONSTRAINT rk_a_pkey CASCADE;
INSERT INTO rk_child VALUES (2, 99999);
SELECT count(*) FROM rk_a WHERE grp = 3;
SELECT id FROM rk_a WHERE code = 'c77';
INSERT INTO rk_a VALUES (123, 0, 'second', 'c-second');
SELECT id, name FROM rk_a WHERE id = 123 ORDER BY name;
-- A key declared in CREATE TABLE can be dropped and added back too.
CREATE TABLE rk_d (id int PRIMARY KEY, v text);
INSERT INTO rk_d VALUES (1, 'a'), (2, 'b');
ALTER TABLE rk_d DROP CONSTRAINT rk_d_pkey;
INSERT INTO rk_d VALUES (1, 'a2');
SELECT id, v FROM rk_d ORDER BY id, v;
DELETE FROM rk_d WHERE v = 'a2';
ALTER TABLE rk_d ADD PRIMARY KEY (id);
SELECT v FROM rk_d WHERE id = 2;
DROP TABLE rk_child, rk_a, rk_b, rk_c, rk_d;
