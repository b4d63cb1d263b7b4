-- CREATE [UNIQUE] INDEX / DROP INDEX, sequences, VACUUM / ANALYZE.
CREATE TABLE ix_t (id int PRIMARY KEY, email text, city text, age int, score numeric);
INSERT INTO ix_t SELECT g, 'user' || g || '@x', CASE g % 3 WHEN 0 THEN 'oslo' WHEN 1 THEN 'rome' ELSE 'lima' END, 20 + g % 50, g * 1.5 FROM generate_series(1, 300) g;
CREATE INDEX ix_t_city ON ix_t (city);
CREATE UNIQUE INDEX ix_t_email ON ix_t (email);
CREATE INDEX ix_t_city_age ON ix_t (city, age);
CREATE INDEX IF NOT EXISTS ix_t_city ON ix_t (city);
-- error: 42P07
CREATE INDEX ix_t_city ON ix_t (age);
SELECT count(*) FROM ix_t WHERE city = 'oslo';
SELECT id, email FROM ix_t WHERE email = 'user42@x';
SELECT id FROM ix_t WHERE email IN ('user1@x', 'user2@x', 'nobody') ORDER BY id;
SELECT count(*) FROM ix_t WHERE city = 'rome' AND age BETWEEN 30 AND 40;
SELECT id FROM ix_t WHERE age > 68 ORDER BY id;
SELECT id FROM ix_t WHERE id >= 295 ORDER BY id DESC;
SELECT id FROM ix_t WHERE id < 3 OR id > 298 ORDER BY id;
SELECT min(id), max(id), count(*) FROM ix_t WHERE city IN ('oslo', 'lima');
-- error: 23505
INSERT INTO ix_t (id, email) VALUES (1000, 'user5@x');
INSERT INTO ix_t (id, email) VALUES (1001, NULL), (1002, NULL);
UPDATE ix_t SET city = 'bergen' WHERE id <= 10;
SELECT count(*) FROM ix_t WHERE city = 'bergen';
SELECT count(*) FROM ix_t WHERE city = 'oslo';
DELETE FROM ix_t WHERE city = 'bergen';
SELECT count(*) FROM ix_t WHERE city = 'bergen';
SELECT a.id, b.id FROM ix_t a JOIN ix_t b ON a.email = b.email WHERE a.id < 13 ORDER BY a.id;
DROP INDEX ix_t_city;
-- error: 42704
DROP INDEX ix_t_city;
DROP INDEX IF EXISTS ix_t_city;
SELECT count(*) FROM ix_t WHERE city = 'oslo';
-- error: 23505
CREATE UNIQUE INDEX ix_t_city_u ON ix_t (city);
CREATE TABLE ix_u (a int, b text);
CREATE UNIQUE INDEX ix_u_ab ON ix_u (a, b);
INSERT INTO ix_u VALUES (1, 'x'), (1, 'y'), (2, 'x');
-- error: 23505
INSERT INTO ix_u VALUES (1, 'x');
INSERT INTO ix_u VALUES (1, 'x') ON CONFLICT (a, b) DO NOTHING;
SELECT count(*) FROM ix_u;
DROP TABLE ix_u;
-- error: 42704
DROP INDEX ix_u_ab;
CREATE INDEX ON ix_t (score);
SELECT id FROM ix_t WHERE score = 150.0;
ANALYZE ix_t;
ANALYZE;
VACUUM ix_t;
VACUUM;
-- Sequences.
CREATE SEQUENCE sq1;
SELECT nextval('sq1'), nextval('sq1'), currval('sq1');
SELECT setval('sq1', 100);
SELECT nextval('sq1');
SELECT setval('sq1', 5, false);
SELECT nextval('sq1'), currval('sq1');
CREATE SEQUENCE sq2 START WITH 10 INCREMENT BY 5;
SELECT nextval('sq2'), nextval('sq2');
CREATE SEQUENCE sq3 INCREMENT -1 START 3 MINVALUE 1 MAXVALUE 3;
SELECT nextval('sq3'), nextval('sq3'), nextval('sq3');
-- error: 2200H
SELECT nextval('sq3');
CREATE SEQUENCE IF NOT EXISTS sq1;
-- error: 42P07
CREATE SEQUENCE sq1;
CREATE SEQUENCE sq4;
-- error: 55000
SELECT currval('sq4');
-- error: 42P01
SELECT nextval('no_such_seq');
CREATE TABLE ix_s (id int DEFAULT nextval('sq2'), v text);
INSERT INTO ix_s (v) VALUES ('a'), ('b') RETURNING id, v;
DROP SEQUENCE sq4;
DROP SEQUENCE IF EXISTS sq4;
-- error: 42P01
DROP SEQUENCE sq4;
CREATE TABLE ix_serial (id serial, v text);
INSERT INTO ix_serial (v) VALUES ('a'), ('b');
SELECT currval('ix_serial_id_seq');
SELECT setval('ix_serial_id_seq', 50);
INSERT INTO ix_serial (v) VALUES ('c') RETURNING id;
SELECT id, v FROM ix_serial ORDER BY id;
-- EXPLAIN: plans are our own, so only success is compared.
-- status-only
EXPLAIN SELECT id FROM ix_t WHERE email = 'user42@x';
-- status-only
EXPLAIN SELECT a.id FROM ix_t a JOIN ix_serial b ON a.id = b.id ORDER BY a.id;
-- status-only
EXPLAIN (COSTS OFF) INSERT INTO ix_serial (v) VALUES ('explained, not run');
SELECT count(*) FROM ix_serial WHERE v = 'explained, not run';
-- status-only
-- error: 42P01
EXPLAIN SELECT * FROM ix_nothere;
