-- Transactions: BEGIN/COMMIT/ROLLBACK, savepoints, aborted transactions.
CREATE TABLE tx_t (id int PRIMARY KEY, v text);
BEGIN;
INSERT INTO tx_t VALUES (1, 'committed');
SELECT count(*) FROM tx_t;
COMMIT;
SELECT id, v FROM tx_t ORDER BY id;
BEGIN;
INSERT INTO tx_t VALUES (2, 'rolled back');
UPDATE tx_t SET v = 'changed' WHERE id = 1;
SELECT id, v FROM tx_t ORDER BY id;
ROLLBACK;
SELECT id, v FROM tx_t ORDER BY id;
START TRANSACTION;
DELETE FROM tx_t;
SELECT count(*) FROM tx_t;
ABORT;
SELECT count(*) FROM tx_t;
BEGIN WORK;
INSERT INTO tx_t VALUES (3, 'work');
COMMIT WORK;
BEGIN;
INSERT INTO tx_t VALUES (4, 'end');
END;
SELECT id FROM tx_t ORDER BY id;
-- Savepoints.
BEGIN;
INSERT INTO tx_t VALUES (10, 'before sp');
SAVEPOINT sp1;
INSERT INTO tx_t VALUES (11, 'inside sp1');
SAVEPOINT sp2;
INSERT INTO tx_t VALUES (12, 'inside sp2');
ROLLBACK TO SAVEPOINT sp2;
SELECT id FROM tx_t WHERE id >= 10 ORDER BY id;
ROLLBACK TO sp1;
SELECT id FROM tx_t WHERE id >= 10 ORDER BY id;
INSERT INTO tx_t VALUES (13, 'after rollback to');
SAVEPOINT sp3;
INSERT INTO tx_t VALUES (14, 'released');
RELEASE SAVEPOINT sp3;
-- error: 3B001
ROLLBACK TO sp3;
ROLLBACK;
SELECT id FROM tx_t WHERE id >= 10 ORDER BY id;
BEGIN;
INSERT INTO tx_t VALUES (20, 'kept');
SAVEPOINT a;
INSERT INTO tx_t VALUES (21, 'kept too');
RELEASE a;
COMMIT;
SELECT id FROM tx_t WHERE id >= 20 ORDER BY id;
-- An error aborts the transaction until ROLLBACK.
BEGIN;
INSERT INTO tx_t VALUES (30, 'lost');
-- error: 23505
INSERT INTO tx_t VALUES (1, 'duplicate');
-- error: 25P02
SELECT 1;
-- error: 25P02
INSERT INTO tx_t VALUES (31, 'ignored');
ROLLBACK;
SELECT count(*) FROM tx_t WHERE id >= 30;
-- COMMIT of an aborted transaction rolls back.
BEGIN;
INSERT INTO tx_t VALUES (32, 'lost as well');
-- error: 22012
SELECT 1 / 0;
COMMIT;
SELECT count(*) FROM tx_t WHERE id = 32;
-- ROLLBACK TO SAVEPOINT recovers from an error.
BEGIN;
INSERT INTO tx_t VALUES (40, 'kept');
SAVEPOINT s;
-- error: 42P01
SELECT * FROM tx_missing;
-- error: 25P02
SELECT 2;
ROLLBACK TO SAVEPOINT s;
INSERT INTO tx_t VALUES (41, 'also kept');
COMMIT;
SELECT id, v FROM tx_t WHERE id >= 40 ORDER BY id;
-- Transaction-control edge cases.
-- error: 25P01
SAVEPOINT outside;
COMMIT;
ROLLBACK;
BEGIN;
BEGIN;
COMMIT;
BEGIN;
-- error: 3B001
RELEASE SAVEPOINT nope;
ROLLBACK;
-- DDL is transactional.
BEGIN;
CREATE TABLE tx_ddl (x int);
INSERT INTO tx_ddl VALUES (1);
ROLLBACK;
-- error: 42P01
SELECT * FROM tx_ddl;
BEGIN;
CREATE TABLE tx_ddl2 (x int);
INSERT INTO tx_ddl2 VALUES (1), (2);
COMMIT;
SELECT count(*) FROM tx_ddl2;
BEGIN;
DROP TABLE tx_ddl2;
ROLLBACK;
SELECT count(*) FROM tx_ddl2;
BEGIN;
TRUNCATE tx_ddl2;
ROLLBACK;
SELECT count(*) FROM tx_ddl2;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SHOW transaction_isolation;
SELECT count(*) FROM tx_t;
COMMIT;
BEGIN;
SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;
SHOW transaction_isolation;
COMMIT;
SHOW transaction_isolation;
BEGIN READ ONLY;
SELECT count(*) FROM tx_t;
-- error: 25006
INSERT INTO tx_t VALUES (50, 'read only');
ROLLBACK;
-- Sequences are not transactional.
CREATE SEQUENCE tx_seq;
BEGIN;
SELECT nextval('tx_seq');
ROLLBACK;
SELECT nextval('tx_seq');
BEGIN;
SET extra_float_digits = 2;
SAVEPOINT settings_sp;
SET extra_float_digits = 3;
SET LOCAL lock_timeout = '3s';
ROLLBACK TO SAVEPOINT settings_sp;
SHOW extra_float_digits;
SHOW lock_timeout;
SET LOCAL statement_timeout = '5s';
SAVEPOINT settings_sp2;
SET statement_timeout = '7s';
RELEASE SAVEPOINT settings_sp2;
SHOW statement_timeout;
COMMIT;
SHOW extra_float_digits;
SHOW statement_timeout;
BEGIN;
SET LOCAL statement_timeout = '9s';
COMMIT;
SHOW statement_timeout;
RESET statement_timeout;
RESET extra_float_digits;
