-- FOREIGN KEY constraints: definitions, checks on the referencing side,
-- ON DELETE / ON UPDATE actions, MATCH SIMPLE NULLs, self references,
-- composite keys, ALTER TABLE, DROP / TRUNCATE of referenced tables, and
-- what the catalogs show.
CREATE TABLE fk_author (id int PRIMARY KEY, email text UNIQUE, name text NOT NULL);
CREATE TABLE fk_book (id int PRIMARY KEY, author_id int REFERENCES fk_author, title text);
INSERT INTO fk_author VALUES (1, 'ann@x.io', 'Ann'), (2, 'bob@x.io', 'Bob'), (3, 'cy@x.io', 'Cy');
INSERT INTO fk_book VALUES (10, 1, 'One'), (11, 1, 'Two'), (12, 2, 'Three');
-- A NULL key is not checked (MATCH SIMPLE).
INSERT INTO fk_book VALUES (13, NULL, 'Anonymous');
-- error: 23503
INSERT INTO fk_book VALUES (14, 99, 'Ghost');
-- error: 23503
INSERT INTO fk_book VALUES (14, 3, 'Ok'), (15, 98, 'Ghost');
SELECT count(*) FROM fk_book;
-- error: 23503
UPDATE fk_book SET author_id = 42 WHERE id = 10;
UPDATE fk_book SET author_id = 3 WHERE id = 13;
UPDATE fk_book SET title = upper(title);
SELECT id, author_id, title FROM fk_book ORDER BY id;
-- The default NO ACTION: referenced keys cannot go.
-- error: 23503
DELETE FROM fk_author WHERE id = 1;
-- error: 23503
UPDATE fk_author SET id = 100 WHERE id = 2;
UPDATE fk_author SET name = 'Ann B.' WHERE id = 1;
UPDATE fk_author SET email = 'ann@y.io' WHERE id = 1;
DELETE FROM fk_book WHERE author_id = 2;
DELETE FROM fk_author WHERE id = 2 RETURNING id, name;
SELECT id, name FROM fk_author ORDER BY id;
-- INSERT ... SELECT and upserts are checked too.
-- error: 23503
INSERT INTO fk_book SELECT 20 + id, id * 10, 'x' FROM fk_author;
INSERT INTO fk_book SELECT 20 + id, id, 'x' FROM fk_author;
INSERT INTO fk_book VALUES (21, 3, 'y') ON CONFLICT (id) DO UPDATE SET author_id = excluded.author_id;
-- error: 23503
INSERT INTO fk_book VALUES (21, 77, 'y') ON CONFLICT (id) DO UPDATE SET author_id = excluded.author_id;
SELECT id, author_id FROM fk_book WHERE id > 20 ORDER BY id;
-- Transactions: the error aborts the block; the parent can go once its
-- children are gone.
BEGIN;
DELETE FROM fk_book WHERE author_id = 3;
DELETE FROM fk_author WHERE id = 3;
ROLLBACK;
SELECT count(*) FROM fk_author;
BEGIN;
-- error: 23503
INSERT INTO fk_book VALUES (30, 5, 'z');
-- error: 25P02
SELECT 1;
ROLLBACK;
BEGIN;
SAVEPOINT s1;
-- error: 23503
DELETE FROM fk_author;
ROLLBACK TO SAVEPOINT s1;
INSERT INTO fk_author VALUES (4, 'di@x.io', 'Di');
INSERT INTO fk_book VALUES (30, 4, 'Four');
COMMIT;
SELECT b.title, a.name FROM fk_book b JOIN fk_author a ON a.id = b.author_id WHERE b.id = 30;
-- ON DELETE CASCADE / SET NULL / SET DEFAULT, ON UPDATE CASCADE.
CREATE TABLE fk_dept (id int PRIMARY KEY, name text);
CREATE TABLE fk_team (id int PRIMARY KEY, dept_id int REFERENCES fk_dept ON DELETE CASCADE ON UPDATE CASCADE, name text);
CREATE TABLE fk_member (id int PRIMARY KEY, team_id int REFERENCES fk_team ON DELETE SET NULL, name text);
CREATE TABLE fk_desk (id int PRIMARY KEY, team_id int DEFAULT 0 REFERENCES fk_team ON DELETE SET DEFAULT);
INSERT INTO fk_dept VALUES (1, 'eng'), (2, 'ops');
INSERT INTO fk_team VALUES (0, NULL, 'pool'), (10, 1, 'db'), (11, 1, 'web'), (20, 2, 'infra');
INSERT INTO fk_member VALUES (1, 10, 'm1'), (2, 11, 'm2'), (3, 20, 'm3');
INSERT INTO fk_desk VALUES (1, 10), (2, 20);
DELETE FROM fk_dept WHERE id = 1;
SELECT id, dept_id, name FROM fk_team ORDER BY id;
SELECT id, team_id FROM fk_member ORDER BY id;
SELECT id, team_id FROM fk_desk ORDER BY id;
UPDATE fk_dept SET id = 3 WHERE id = 2;
SELECT id, dept_id FROM fk_team ORDER BY id;
-- SET DEFAULT to a missing key fails.
DELETE FROM fk_desk WHERE team_id = 0;
DELETE FROM fk_team WHERE id = 0;
INSERT INTO fk_desk VALUES (3, 20);
-- error: 23503
DELETE FROM fk_team WHERE id = 20;
-- SET NULL into a NOT NULL column fails.
CREATE TABLE fk_strict (id int PRIMARY KEY, team_id int NOT NULL REFERENCES fk_team ON DELETE SET NULL);
INSERT INTO fk_strict VALUES (1, 20);
-- error: 23502
DELETE FROM fk_team WHERE id = 20;
-- RESTRICT.
CREATE TABLE fk_r_parent (id int PRIMARY KEY);
CREATE TABLE fk_r_child (pid int REFERENCES fk_r_parent ON DELETE RESTRICT ON UPDATE RESTRICT);
INSERT INTO fk_r_parent VALUES (1), (2);
INSERT INTO fk_r_child VALUES (1);
-- error: 23503
DELETE FROM fk_r_parent;
-- error: 23503
UPDATE fk_r_parent SET id = id + 10;
DELETE FROM fk_r_parent WHERE id = 2;
SELECT id FROM fk_r_parent;
-- Self references: rows checked after the statement, cascades chain.
CREATE TABLE fk_node (id int PRIMARY KEY, parent int REFERENCES fk_node ON DELETE CASCADE);
INSERT INTO fk_node VALUES (2, 1), (1, NULL), (3, 2), (4, 3), (5, 5);
-- error: 23503
INSERT INTO fk_node VALUES (6, 60);
DELETE FROM fk_node WHERE id = 2;
SELECT id, parent FROM fk_node ORDER BY id;
-- Composite keys, columns in another order, a UNIQUE target.
CREATE TABLE fk_region (country text, code int, name text, PRIMARY KEY (country, code));
CREATE TABLE fk_store (id int PRIMARY KEY, code int, country text, CONSTRAINT fk_store_region FOREIGN KEY (country, code) REFERENCES fk_region (country, code));
INSERT INTO fk_region VALUES ('fr', 1, 'IdF'), ('de', 1, 'Berlin');
INSERT INTO fk_store VALUES (1, 1, 'fr'), (2, 1, 'de'), (3, NULL, 'xx'), (4, 2, NULL);
-- error: 23503
INSERT INTO fk_store VALUES (5, 2, 'fr');
CREATE TABLE fk_login (email text REFERENCES fk_author (email) ON UPDATE CASCADE);
INSERT INTO fk_login VALUES ('ann@y.io');
UPDATE fk_author SET email = 'ann@z.io' WHERE id = 1;
SELECT email FROM fk_login;
-- Compatible key types.
CREATE TABLE fk_big (a bigint REFERENCES fk_author, b varchar(20) REFERENCES fk_author (email));
INSERT INTO fk_big VALUES (1, 'ann@z.io');
-- error: 23503
INSERT INTO fk_big VALUES (9000000000, NULL);
-- Definition errors.
-- error: 42830
CREATE TABLE fk_bad (a text REFERENCES fk_author (name));
-- error: 42804
CREATE TABLE fk_bad (a int REFERENCES fk_author (email));
-- error: 42804
CREATE TABLE fk_bad (a numeric REFERENCES fk_author (id));
-- error: 42P01
CREATE TABLE fk_bad (a int REFERENCES fk_nosuch);
-- error: 42703
CREATE TABLE fk_bad (a int REFERENCES fk_author (nosuch));
-- error: 42703
CREATE TABLE fk_bad (a int, FOREIGN KEY (b) REFERENCES fk_author);
-- error: 42830
CREATE TABLE fk_bad (a int, b int, FOREIGN KEY (a, b) REFERENCES fk_author (id));
-- error: 42830
CREATE TABLE fk_bad (a int REFERENCES fk_author (id, id));
CREATE TABLE fk_nopk (a int);
-- error: 42704
CREATE TABLE fk_bad (a int REFERENCES fk_nopk);
-- ALTER TABLE ADD / DROP CONSTRAINT.
CREATE TABLE fk_late (id int, author_id int);
INSERT INTO fk_late VALUES (1, 1), (2, 50);
-- error: 23503
ALTER TABLE fk_late ADD CONSTRAINT fk_late_author FOREIGN KEY (author_id) REFERENCES fk_author (id);
DELETE FROM fk_late WHERE author_id = 50;
ALTER TABLE fk_late ADD CONSTRAINT fk_late_author FOREIGN KEY (author_id) REFERENCES fk_author (id);
-- error: 42710
ALTER TABLE fk_late ADD CONSTRAINT fk_late_author FOREIGN KEY (author_id) REFERENCES fk_author (id);
ALTER TABLE fk_late ADD FOREIGN KEY (author_id) REFERENCES fk_author;
-- error: 23503
INSERT INTO fk_late VALUES (3, 50);
ALTER TABLE fk_late DROP CONSTRAINT fk_late_author;
-- error: 23503
INSERT INTO fk_late VALUES (3, 50);
ALTER TABLE fk_late DROP CONSTRAINT fk_late_author_id_fkey;
INSERT INTO fk_late VALUES (3, 50);
-- error: 42704
ALTER TABLE fk_late DROP CONSTRAINT fk_late_author_id_fkey;
ALTER TABLE fk_late DROP CONSTRAINT IF EXISTS fk_late_author_id_fkey;
-- NOT VALID skips the existing rows until VALIDATE CONSTRAINT.
CREATE TABLE fk_nv_p (id int PRIMARY KEY);
CREATE TABLE fk_nv_c (pid int);
INSERT INTO fk_nv_c VALUES (5);
ALTER TABLE fk_nv_c ADD CONSTRAINT fk_nv FOREIGN KEY (pid) REFERENCES fk_nv_p NOT VALID;
SELECT conname, convalidated, pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'fk_nv';
-- error: 23503
INSERT INTO fk_nv_c VALUES (6);
-- error: 23503
ALTER TABLE fk_nv_c VALIDATE CONSTRAINT fk_nv;
-- error: 42704
ALTER TABLE fk_nv_c VALIDATE CONSTRAINT fk_nosuch;
DELETE FROM fk_nv_c;
ALTER TABLE fk_nv_c VALIDATE CONSTRAINT fk_nv;
SELECT conname, convalidated, pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'fk_nv';
CREATE TABLE fk_nv_other (pid int REFERENCES fk_nv_p);
-- error: 2BP01
DROP TABLE fk_nv_c, fk_nv_p;
DROP TABLE fk_nv_other, fk_nv_c, fk_nv_p;
-- DROP TABLE and TRUNCATE of referenced tables.
CREATE TABLE fk_p (id int PRIMARY KEY);
CREATE TABLE fk_c (pid int REFERENCES fk_p);
INSERT INTO fk_p VALUES (1);
INSERT INTO fk_c VALUES (1);
-- error: 2BP01
DROP TABLE fk_p;
-- error: 0A000
TRUNCATE fk_p;
TRUNCATE fk_c, fk_p;
SELECT count(*) FROM fk_c;
INSERT INTO fk_p VALUES (1);
INSERT INTO fk_c VALUES (1);
TRUNCATE fk_p CASCADE;
SELECT count(*) FROM fk_c;
DROP TABLE fk_p CASCADE;
INSERT INTO fk_c VALUES (99);
SELECT pid FROM fk_c;
CREATE TABLE fk_p2 (id int PRIMARY KEY);
CREATE TABLE fk_c2 (pid int REFERENCES fk_p2);
DROP TABLE fk_p2, fk_c2;
-- error: 2BP01
ALTER TABLE fk_author DROP CONSTRAINT fk_author_email_key;
-- Catalogs.
SELECT conname, contype, confupdtype, confdeltype, confmatchtype, conkey, confkey, condeferrable, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'fk_team'::regclass ORDER BY conname;
SELECT conname, pg_get_constraintdef(oid, true) FROM pg_constraint WHERE contype = 'f' ORDER BY conname;
SELECT c.conname, r.relname AS child, f.relname AS parent FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid JOIN pg_class f ON f.oid = c.confrelid WHERE c.contype = 'f' ORDER BY 1;
SELECT relname, relhastriggers FROM pg_class WHERE relname IN ('fk_author', 'fk_book', 'fk_nopk') ORDER BY relname;
SELECT constraint_name, update_rule, delete_rule, match_option, unique_constraint_name FROM information_schema.referential_constraints ORDER BY constraint_name;
SELECT constraint_name, column_name, ordinal_position, position_in_unique_constraint FROM information_schema.key_column_usage WHERE table_name = 'fk_store' ORDER BY constraint_name, ordinal_position;
SELECT constraint_name, constraint_type FROM information_schema.table_constraints WHERE table_name = 'fk_book' AND constraint_type <> 'CHECK' ORDER BY constraint_name;
