-- Error cases and their SQLSTATEs; the session keeps working after each.
CREATE TABLE err_t (id int PRIMARY KEY, name varchar(5) NOT NULL, qty int CHECK (qty > 0), code text UNIQUE, small int2, d date);
INSERT INTO err_t VALUES (1, 'ok', 1, 'c1', 1, '2024-01-01');
-- error: 42P01
SELECT * FROM err_missing;
-- error: 42P01
INSERT INTO err_missing VALUES (1);
-- error: 42P01
UPDATE err_missing SET a = 1;
-- error: 42P01
DELETE FROM err_missing;
-- error: 42703
SELECT missing_col FROM err_t;
-- error: 42703
SELECT * FROM err_t WHERE missing_col = 1;
-- error: 42703
SELECT err_t.missing FROM err_t;
-- error: 42703
UPDATE err_t SET qty = 1 WHERE nope = 2;
-- error: 42601
SELEC 1;
-- error: 42601
SELECT FROM WHERE;
-- error: 42601
SELECT (1;
-- error: 42601
INSERT INTO err_t VALUES (1,;
-- error: 22012
SELECT 10 / 0;
-- error: 22012
SELECT 10 % 0;
-- error: 22012
SELECT 10.5 / 0.0;
-- error: 22012
SELECT sum(qty / 0) FROM err_t;
-- error: 22003
SELECT 2147483647::int + 1;
-- error: 22003
SELECT (-32768)::int2 - 1::int2;
-- error: 22003
SELECT 9223372036854775807::int8 * 2;
-- error: 22003
SELECT 99999::smallint;
-- error: 22003
INSERT INTO err_t (id, name, small) VALUES (2, 'x', 70000);
-- error: 22003
SELECT 1e400::float8;
-- error: 22003
SELECT 123.45::numeric(4,2);
-- error: 22P02
SELECT 'x'::int;
-- error: 22P02
SELECT '12abc'::bigint;
-- error: 22P02
SELECT 'truthy'::boolean;
-- error: 22P02
INSERT INTO err_t (id, name) VALUES ('one', 'x');
-- error: 22P02
SELECT 'abc'::numeric;
-- error: 22008
SELECT '2024-13-45'::timestamp;
-- error: 22007
SELECT 'half past noon'::timestamp;
-- error: 22008
SELECT '2024-02-30'::date;
-- error: 23502
INSERT INTO err_t (id, name) VALUES (3, NULL);
-- error: 23502
INSERT INTO err_t (id) VALUES (4);
-- error: 23502
UPDATE err_t SET name = NULL;
-- error: 23505
INSERT INTO err_t (id, name) VALUES (1, 'dup');
-- error: 23505
INSERT INTO err_t (id, name, code) VALUES (5, 'x', 'c1');
-- error: 23514
INSERT INTO err_t (id, name, qty) VALUES (6, 'x', 0);
-- error: 23514
UPDATE err_t SET qty = -5;
-- error: 42804
INSERT INTO err_t (id, name, qty) VALUES (7, 'x', true);
-- error: 42804
INSERT INTO err_t (id, name, d) VALUES (8, 'x', 20240101);
-- error: 42804
UPDATE err_t SET qty = false;
-- error: 42804
SELECT * FROM err_t WHERE 1;
-- error: 42804
SELECT CASE WHEN true THEN 1 ELSE 'a'::text END;
-- error: 22001
INSERT INTO err_t (id, name) VALUES (9, 'toolong');
-- error: 22001
UPDATE err_t SET name = 'abcdefg';
-- error: 22001
INSERT INTO err_t (id, name) SELECT 10, 'longer than five';
-- error: 42883
SELECT 1 + 'a'::text;
-- error: 42883
SELECT no_such_function(1);
-- error: 42883
SELECT length(1, 2, 3);
-- error: 42846
SELECT true::date;
-- error: 42601
SELECT * FROM err_t ORDER BY;
-- error: 42P07
CREATE TABLE err_t (x int);
-- error: 42701
CREATE TABLE err_dupcol (a int, a int);
-- error: 42P16
CREATE TABLE err_twopk (a int PRIMARY KEY, b int PRIMARY KEY);
-- error: 42703
CREATE TABLE err_badpk (a int, PRIMARY KEY (b));
-- error: 42703
CREATE INDEX err_idx ON err_t (nope);
-- error: 42P01
DROP TABLE err_missing;
-- error: 42704
DROP INDEX err_missing_idx;
-- error: 42704
SELECT 'x'::no_such_type;
-- error: 22023
SELECT generate_series(1, 5, 0);
-- error: 2201X
SELECT 1 OFFSET -1;
SELECT id, name, qty, code, small, d FROM err_t;
