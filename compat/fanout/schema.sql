-- Tables of the fan-out differential corpus (compat/fanout/queries.sql).
-- Deterministic data: every value is a function of the row number.
DROP TABLE IF EXISTS fo_t, fo_s, fo_nopk, fo_txt;
CREATE TABLE fo_t (
    id int PRIMARY KEY,
    k int NOT NULL,
    g text,
    v int,
    n numeric(12,2),
    f float8,
    b bool,
    d date,
    big bigint
);
INSERT INTO fo_t
SELECT i,
       i % 17,
       CASE WHEN i % 11 = 0 THEN NULL ELSE 'g' || (i % 7) END,
       CASE WHEN i % 13 = 0 THEN NULL ELSE (i * 7919) % 1000 - 300 END,
       ((i * 31) % 10000) / 100.0,
       (i % 100) / 8.0,
       i % 3 = 0,
       DATE '2024-01-01' + (i % 400),
       i::bigint * 1000003
FROM generate_series(1, 6000) AS i;
CREATE TABLE fo_s (k int PRIMARY KEY, name text NOT NULL);
INSERT INTO fo_s SELECT i, 'name' || i FROM generate_series(0, 12) AS i;
CREATE TABLE fo_nopk (x int, y int);
INSERT INTO fo_nopk SELECT i, i % 5 FROM generate_series(1, 500) AS i;
CREATE TABLE fo_txt (code text PRIMARY KEY, qty int);
INSERT INTO fo_txt SELECT 'c' || lpad(i::text, 5, '0'), i % 9 FROM generate_series(1, 3000) AS i;
