-- More error cases, the ones applications and ORMs actually hit, each
-- followed by a statement showing the session and data are still sound.
CREATE TABLE er_acct (id int PRIMARY KEY, email text UNIQUE NOT NULL, balance numeric(10,2) NOT NULL DEFAULT 0 CHECK (balance >= 0), kind text CHECK (kind IN ('personal', 'business')), age smallint);
CREATE TABLE er_tx (id serial PRIMARY KEY, acct_id int NOT NULL, amount numeric(10,2) NOT NULL, note varchar(10));
INSERT INTO er_acct VALUES (1, 'a@x.io', 100, 'personal', 30), (2, 'b@x.io', 0, 'business', NULL);
-- Unique and primary key violations.
-- error: 23505
INSERT INTO er_acct VALUES (1, 'c@x.io', 0, 'personal', 1);
-- error: 23505
INSERT INTO er_acct VALUES (3, 'a@x.io', 0, 'personal', 1);
-- error: 23505
UPDATE er_acct SET email = 'a@x.io' WHERE id = 2;
-- error: 23505
UPDATE er_acct SET id = 1 WHERE id = 2;
-- error: 23505
INSERT INTO er_acct VALUES (3, 'c@x.io', 0, NULL, NULL), (4, 'c@x.io', 0, NULL, NULL);
SELECT id, email FROM er_acct ORDER BY id;
INSERT INTO er_acct VALUES (3, 'c@x.io', 5, NULL, NULL) ON CONFLICT (id) DO NOTHING;
INSERT INTO er_acct VALUES (3, 'a@x.io', 5, NULL, NULL) ON CONFLICT (id) DO UPDATE SET balance = er_acct.balance + excluded.balance RETURNING id, email, balance;
-- error: 23505
INSERT INTO er_acct VALUES (9, 'a@x.io', 5, NULL, NULL) ON CONFLICT (id) DO NOTHING;
-- error: 42P10
INSERT INTO er_acct VALUES (9, 'z@x.io', 5, NULL, NULL) ON CONFLICT (balance) DO NOTHING;
-- NOT NULL violations.
-- error: 23502
INSERT INTO er_acct (id) VALUES (5);
-- error: 23502
INSERT INTO er_acct (id, email, balance) VALUES (5, 'e@x.io', NULL);
-- error: 23502
UPDATE er_acct SET email = NULL WHERE id = 1;
-- error: 23502
INSERT INTO er_tx (acct_id) VALUES (1);
-- error: 23502
INSERT INTO er_acct VALUES (NULL, 'n@x.io', 0, NULL, NULL);
-- CHECK violations.
-- error: 23514
INSERT INTO er_acct VALUES (6, 'f@x.io', -1, NULL, NULL);
-- error: 23514
UPDATE er_acct SET balance = balance - 500 WHERE id = 1;
-- error: 23514
INSERT INTO er_acct VALUES (6, 'f@x.io', 1, 'charity', NULL);
INSERT INTO er_acct VALUES (6, 'f@x.io', 1, NULL, NULL);
SELECT id, balance, kind FROM er_acct ORDER BY id;
-- Value and type errors on write.
-- error: 22001
INSERT INTO er_tx (acct_id, amount, note) VALUES (1, 5, 'far too long note');
-- error: 22003
INSERT INTO er_acct VALUES (7, 'g@x.io', 123456789.00, NULL, NULL);
-- error: 22003
INSERT INTO er_acct VALUES (7, 'g@x.io', 0, NULL, 40000);
-- error: 22P02
INSERT INTO er_acct VALUES (7, 'g@x.io', 'lots', NULL, NULL);
-- error: 22P02
INSERT INTO er_acct VALUES ('seven', 'g@x.io', 0, NULL, NULL);
-- error: 42804
INSERT INTO er_acct VALUES (7, 'g@x.io', true, NULL, NULL);
-- error: 42601
INSERT INTO er_acct VALUES (7, 'g@x.io', 0, NULL, NULL, 'extra');
-- error: 42601
INSERT INTO er_acct (id, email) VALUES (7);
-- error: 42703
INSERT INTO er_acct (id, mail) VALUES (7, 'g@x.io');
-- error: 42701
INSERT INTO er_acct (id, id) VALUES (7, 8);
-- error: 42703
UPDATE er_acct SET nope = 1;
-- error: 42703
UPDATE er_acct SET balance = 1 WHERE nope = 1;
-- error: 42804
UPDATE er_acct SET balance = 'a@x.io'::text WHERE id = 1;
INSERT INTO er_tx (acct_id, amount, note) VALUES (1, 5.555, 'rounded') RETURNING id, amount;
SELECT count(*) FROM er_tx;
-- Arithmetic errors in queries.
-- error: 22012
SELECT balance / 0 FROM er_acct WHERE id = 1;
-- error: 22012
SELECT id % 0 FROM er_acct;
-- error: 22012
SELECT 1.5 / 0.0;
-- error: 22003
SELECT 32767::smallint + 1::smallint;
-- error: 22003
SELECT (-2147483648)::int * -1;
-- error: 22003
SELECT 9223372036854775807 + 1;
-- error: 22003
SELECT 40000::smallint;
-- error: 22003
SELECT 1e400::float8;
-- error: 2201E
SELECT ln(0);
-- error: 2201F
SELECT power(0, -1);
-- error: 2201F
SELECT sqrt(-4);
-- error: 22003
SELECT (10::numeric * 100)::numeric(3,1);
SELECT balance / nullif(0, 0) FROM er_acct WHERE id = 1;
-- Name resolution errors.
-- error: 42P01
SELECT * FROM er_accounts;
-- error: 42P01
INSERT INTO er_missing VALUES (1);
-- error: 42P01
DELETE FROM er_missing;
-- error: 42703
SELECT er_acct.nope FROM er_acct;
-- error: 42703
SELECT id FROM er_acct ORDER BY nope;
-- error: 42P10
SELECT id FROM er_acct ORDER BY 2;
-- error: 42883
SELECT no_such_function(1);
-- error: 42883
SELECT id FROM er_acct WHERE email = 1;
-- error: 42883
SELECT 'a'::text - 'b'::text;
-- error: 42704
SELECT 1 + NULL::unknown_type_here;
-- Syntax errors.
-- error: 42601
SELEC 1;
-- error: 42601
SELECT * FROM;
-- error: 42601
SELECT 1 +;
-- error: 42601
SELECT id FROM er_acct WHERE;
-- error: 42601
SELECT id FROM er_acct ORDER id;
-- error: 42601
INSERT INTO er_acct VALUES;
-- error: 42601
UPDATE er_acct balance = 1;
SELECT 1 AS still_fine;
-- DDL errors.
-- error: 42P07
CREATE TABLE er_acct (id int);
-- error: 42701
CREATE TABLE er_dup (a int, b int, a text);
-- error: 42701
ALTER TABLE er_acct ADD COLUMN email text;
-- error: 42703
ALTER TABLE er_acct DROP COLUMN nope;
-- error: 42P01
DROP TABLE er_nothing;
DROP TABLE IF EXISTS er_nothing;
-- error: 42704
DROP INDEX er_no_index;
-- error: 42704
CREATE TABLE er_bad (a nosuchtype);
-- error: 42P16
CREATE TABLE er_pk2 (a int PRIMARY KEY, b int PRIMARY KEY);
-- error: 23502
ALTER TABLE er_acct ADD COLUMN must text NOT NULL;
-- Errors inside a transaction abort it until ROLLBACK.
BEGIN;
INSERT INTO er_tx (acct_id, amount) VALUES (2, 1);
-- error: 23505
INSERT INTO er_acct VALUES (1, 'dup@x.io', 0, NULL, NULL);
-- error: 25P02
SELECT 1;
ROLLBACK;
SELECT count(*) FROM er_tx WHERE acct_id = 2;
BEGIN;
SAVEPOINT s1;
-- error: 22012
SELECT 1 / 0;
ROLLBACK TO SAVEPOINT s1;
INSERT INTO er_tx (acct_id, amount) VALUES (2, 2);
COMMIT;
SELECT acct_id, amount FROM er_tx WHERE acct_id = 2;
-- error: 25P01
ROLLBACK TO SAVEPOINT nowhere;
-- Subquery and cardinality errors.
-- error: 21000
UPDATE er_acct SET balance = (SELECT amount FROM er_tx);
-- error: 21000
SELECT * FROM er_acct WHERE id = (SELECT acct_id FROM er_tx UNION ALL SELECT 1);
-- error: 42601
SELECT 1 UNION SELECT 1, 2;
-- error: 42804
SELECT 1 UNION SELECT 'a'::text;
-- error: 42804
SELECT CASE WHEN true THEN 1 ELSE 'x'::text END;
-- error: 42804
SELECT id FROM er_acct WHERE email;
-- error: 42804
SELECT coalesce(1, 'a'::text);
-- error: 22P02
SELECT coalesce(1, 'a');
SELECT id, email, balance FROM er_acct ORDER BY id;
