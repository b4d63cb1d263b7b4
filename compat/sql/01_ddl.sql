-- DDL: CREATE/DROP TABLE, IF [NOT] EXISTS, constraints, ALTER TABLE.
CREATE TABLE ddl_a (id int PRIMARY KEY, name text NOT NULL, score int DEFAULT 10);
-- error: 42P07
CREATE TABLE ddl_a (id int);
CREATE TABLE IF NOT EXISTS ddl_a (id int);
INSERT INTO ddl_a (id, name) VALUES (1, 'one');
SELECT id, name, score FROM ddl_a;
DROP TABLE ddl_a;
-- error: 42P01
DROP TABLE ddl_a;
DROP TABLE IF EXISTS ddl_a;
-- error: 42P01
SELECT * FROM ddl_a;

CREATE TABLE ddl_b (
    id bigint,
    code varchar(8) UNIQUE,
    qty int CHECK (qty >= 0),
    price numeric(10,2) DEFAULT 0.00 NOT NULL,
    created date DEFAULT '2024-01-01',
    PRIMARY KEY (id)
);
INSERT INTO ddl_b (id, code, qty) VALUES (1, 'A1', 5);
SELECT id, code, qty, price, created FROM ddl_b;
-- error: 23514
INSERT INTO ddl_b (id, code, qty) VALUES (2, 'A2', -1);
-- error: 23505
INSERT INTO ddl_b (id, code, qty) VALUES (3, 'A1', 1);
-- error: 23505
INSERT INTO ddl_b (id, code, qty) VALUES (1, 'A3', 1);
-- error: 23502
INSERT INTO ddl_b (id, code, qty, price) VALUES (4, 'A4', 1, NULL);
-- error: 23502
INSERT INTO ddl_b (code, qty) VALUES ('A5', 1);
INSERT INTO ddl_b (id, code, qty) VALUES (5, NULL, 2), (6, NULL, 3);
SELECT count(*) FROM ddl_b;

-- Named table constraints and a multi-column unique key.
CREATE TABLE ddl_c (
    a int,
    b int,
    c text,
    CONSTRAINT ddl_c_ab UNIQUE (a, b),
    CONSTRAINT ddl_c_pos CHECK (a > 0 AND b > 0)
);
INSERT INTO ddl_c VALUES (1, 1, 'x'), (1, 2, 'y');
-- error: 23505
INSERT INTO ddl_c VALUES (1, 1, 'z');
-- error: 23514
INSERT INTO ddl_c VALUES (0, 5, 'w');
INSERT INTO ddl_c VALUES (NULL, NULL, 'nulls do not conflict'), (NULL, NULL, 'again');
SELECT count(*) FROM ddl_c;

-- ALTER TABLE ... ADD / DROP / RENAME COLUMN, RENAME TO.
CREATE TABLE ddl_d (id int, v text);
INSERT INTO ddl_d VALUES (1, 'a'), (2, 'b');
ALTER TABLE ddl_d ADD COLUMN w int;
SELECT id, v, w FROM ddl_d ORDER BY id;
ALTER TABLE ddl_d ADD COLUMN z int DEFAULT 7;
SELECT id, z FROM ddl_d ORDER BY id;
ALTER TABLE ddl_d ADD COLUMN IF NOT EXISTS z int;
-- error: 42701
ALTER TABLE ddl_d ADD COLUMN z int;
ALTER TABLE ddl_d RENAME COLUMN v TO label;
SELECT label FROM ddl_d ORDER BY label;
-- error: 42703
SELECT v FROM ddl_d;
ALTER TABLE ddl_d DROP COLUMN w;
-- error: 42703
SELECT w FROM ddl_d;
SELECT * FROM ddl_d ORDER BY id;
ALTER TABLE ddl_d DROP COLUMN IF EXISTS w;
-- error: 42703
ALTER TABLE ddl_d DROP COLUMN w;
ALTER TABLE ddl_d RENAME TO ddl_d2;
-- error: 42P01
SELECT * FROM ddl_d;
SELECT id, label, z FROM ddl_d2 ORDER BY id;
ALTER TABLE ddl_d2 ADD PRIMARY KEY (id);
-- error: 23505
INSERT INTO ddl_d2 (id, label) VALUES (1, 'dup');
INSERT INTO ddl_d2 (id, label) VALUES (3, 'c');
SELECT id, label, z FROM ddl_d2 ORDER BY id;
CREATE TABLE ddl_e (id int, v int);
INSERT INTO ddl_e VALUES (1, 1), (1, 2);
-- error: 23505
ALTER TABLE ddl_e ADD PRIMARY KEY (id);
CREATE TABLE ddl_f (id int, v int);
INSERT INTO ddl_f VALUES (1, NULL);
-- Adding NOT NULL data through a column default fills existing rows.
ALTER TABLE ddl_f ADD COLUMN flag boolean NOT NULL DEFAULT false;
SELECT id, v, flag FROM ddl_f;
-- error: 42P07
ALTER TABLE ddl_f RENAME TO ddl_e;
DROP TABLE ddl_b, ddl_c;
-- error: 42P01
SELECT * FROM ddl_c;
DROP TABLE IF EXISTS ddl_missing, ddl_e;
-- error: 42P01
SELECT * FROM ddl_e;
CREATE TABLE "Mixed Case" ("Col One" int, "select" text);
INSERT INTO "Mixed Case" VALUES (1, 'quoted');
SELECT "Col One", "select" FROM "Mixed Case";
-- error: 42P01
SELECT * FROM mixed_case;
-- error: 42601
CREATE TABLE ddl_bad (id int,);
-- error: 42704
CREATE TABLE ddl_bad (id nosuchtype);
