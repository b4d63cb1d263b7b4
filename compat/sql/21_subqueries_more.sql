-- More subqueries: correlated scalar subqueries in SELECT/WHERE/ORDER BY,
-- IN/NOT IN/EXISTS/ANY/ALL with NULLs, derived tables, CTEs used like
-- applications do, LATERAL-free top-N per group, and subqueries in DML.
CREATE TABLE sm_author (id int PRIMARY KEY, name text NOT NULL, country text);
CREATE TABLE sm_book (id int PRIMARY KEY, author_id int, title text, year int, pages int, rating numeric(3,1));
CREATE TABLE sm_loan (id serial PRIMARY KEY, book_id int, member text, out_on date, back_on date);
INSERT INTO sm_author VALUES (1, 'Austen', 'UK'), (2, 'Borges', 'AR'), (3, 'Calvino', 'IT'), (4, 'Duras', 'FR'), (5, 'Eco', 'IT');
INSERT INTO sm_book VALUES
  (10, 1, 'Emma', 1815, 474, 4.1), (11, 1, 'Persuasion', 1817, 249, 4.3), (12, 2, 'Ficciones', 1944, 174, 4.5),
  (13, 2, 'El Aleph', 1949, 146, 4.4), (14, 3, 'Invisible Cities', 1972, 165, 4.2), (15, 3, 'If on a winter''s night', 1979, 260, NULL),
  (16, 5, 'The Name of the Rose', 1980, 536, 4.2), (17, NULL, 'Anonymous Tales', 1900, 90, 3.0);
INSERT INTO sm_loan (book_id, member, out_on, back_on) VALUES
  (10, 'kim', '2024-01-02', '2024-01-20'), (12, 'kim', '2024-01-21', NULL), (12, 'lee', '2023-11-01', '2023-11-15'),
  (14, 'max', '2024-02-01', '2024-02-10'), (16, 'lee', '2024-02-05', NULL), (16, 'max', '2023-05-05', '2023-06-01'),
  (99, 'zed', '2024-03-01', NULL);
-- Scalar subqueries in the select list.
SELECT a.name, (SELECT count(*) FROM sm_book b WHERE b.author_id = a.id) AS books FROM sm_author a ORDER BY a.id;
SELECT a.name, (SELECT max(year) FROM sm_book b WHERE b.author_id = a.id) AS latest FROM sm_author a ORDER BY a.id;
SELECT a.name, (SELECT title FROM sm_book b WHERE b.author_id = a.id ORDER BY pages DESC LIMIT 1) AS longest FROM sm_author a ORDER BY a.id;
SELECT b.title, (SELECT name FROM sm_author a WHERE a.id = b.author_id) AS author FROM sm_book b ORDER BY b.id;
SELECT b.title, coalesce((SELECT count(*) FROM sm_loan l WHERE l.book_id = b.id), 0) AS loans FROM sm_book b ORDER BY loans DESC, b.id;
SELECT b.title, (SELECT count(*) FROM sm_loan l WHERE l.book_id = b.id AND l.back_on IS NULL) > 0 AS out FROM sm_book b ORDER BY b.id;
SELECT (SELECT count(*) FROM sm_book) AS books, (SELECT count(*) FROM sm_author) AS authors, (SELECT count(*) FROM sm_loan WHERE back_on IS NULL) AS open_loans;
SELECT b.title, b.pages - (SELECT avg(pages) FROM sm_book)::int AS vs_avg FROM sm_book b ORDER BY b.id;
-- Scalar subqueries in WHERE.
SELECT title FROM sm_book WHERE pages > (SELECT avg(pages) FROM sm_book) ORDER BY title;
SELECT title FROM sm_book WHERE year = (SELECT min(year) FROM sm_book WHERE author_id IS NOT NULL);
SELECT title FROM sm_book b WHERE rating = (SELECT max(rating) FROM sm_book b2 WHERE b2.author_id = b.author_id) ORDER BY title;
SELECT title FROM sm_book b WHERE pages > (SELECT avg(pages) FROM sm_book b2 WHERE b2.author_id = b.author_id) ORDER BY title;
SELECT name FROM sm_author a WHERE (SELECT sum(pages) FROM sm_book b WHERE b.author_id = a.id) > 400 ORDER BY name;
SELECT name FROM sm_author a WHERE 2 <= (SELECT count(*) FROM sm_book b WHERE b.author_id = a.id) ORDER BY name;
SELECT title FROM sm_book WHERE author_id = (SELECT id FROM sm_author WHERE name = 'Nobody');
-- Scalar subqueries in ORDER BY.
SELECT a.name FROM sm_author a ORDER BY (SELECT count(*) FROM sm_book b WHERE b.author_id = a.id) DESC, a.name;
-- IN / NOT IN.
SELECT name FROM sm_author WHERE id IN (SELECT author_id FROM sm_book WHERE year < 1950) ORDER BY name;
SELECT name FROM sm_author WHERE id NOT IN (SELECT author_id FROM sm_book WHERE author_id IS NOT NULL) ORDER BY name;
SELECT name FROM sm_author WHERE id NOT IN (SELECT author_id FROM sm_book) ORDER BY name;
SELECT title FROM sm_book WHERE id IN (SELECT book_id FROM sm_loan WHERE member = 'kim') ORDER BY title;
SELECT title FROM sm_book WHERE id NOT IN (SELECT book_id FROM sm_loan) ORDER BY title;
SELECT title FROM sm_book WHERE author_id IN (SELECT id FROM sm_author WHERE country IN ('IT', 'AR')) AND year > 1945 ORDER BY title;
SELECT member FROM sm_loan WHERE book_id IN (SELECT id FROM sm_book WHERE author_id IN (SELECT id FROM sm_author WHERE country = 'AR')) ORDER BY member, id;
SELECT title FROM sm_book WHERE (author_id, year) IN (SELECT author_id, max(year) FROM sm_book GROUP BY author_id) ORDER BY title;
SELECT 1 IN (SELECT author_id FROM sm_book), 4 IN (SELECT author_id FROM sm_book), 4 NOT IN (SELECT author_id FROM sm_book);
SELECT NULL::int IN (SELECT 1 WHERE false), NULL::int NOT IN (SELECT 1 WHERE false);
-- EXISTS / NOT EXISTS.
SELECT name FROM sm_author a WHERE EXISTS (SELECT 1 FROM sm_book b WHERE b.author_id = a.id AND b.rating >= 4.4) ORDER BY name;
SELECT name FROM sm_author a WHERE NOT EXISTS (SELECT 1 FROM sm_book b WHERE b.author_id = a.id) ORDER BY name;
SELECT title FROM sm_book b WHERE EXISTS (SELECT 1 FROM sm_loan l WHERE l.book_id = b.id AND l.back_on IS NULL) ORDER BY title;
SELECT title FROM sm_book b WHERE NOT EXISTS (SELECT 1 FROM sm_loan l WHERE l.book_id = b.id) ORDER BY title;
SELECT member FROM sm_loan l WHERE NOT EXISTS (SELECT 1 FROM sm_book b WHERE b.id = l.book_id);
SELECT DISTINCT member FROM sm_loan l WHERE EXISTS (SELECT * FROM sm_book b JOIN sm_author a ON a.id = b.author_id WHERE b.id = l.book_id AND a.country = 'IT') ORDER BY member;
SELECT EXISTS (SELECT 1 FROM sm_loan WHERE back_on < out_on) AS bad_dates;
SELECT a.name, EXISTS (SELECT 1 FROM sm_book b WHERE b.author_id = a.id AND b.year > 1970) AS modern FROM sm_author a ORDER BY a.id;
-- ANY / ALL / SOME.
SELECT title FROM sm_book WHERE pages > ALL (SELECT pages FROM sm_book WHERE author_id = 2) ORDER BY title;
SELECT title FROM sm_book WHERE pages < ANY (SELECT pages FROM sm_book WHERE author_id = 2) ORDER BY title;
SELECT title FROM sm_book WHERE year = SOME (SELECT year FROM sm_book WHERE rating > 4.2) ORDER BY title;
SELECT title FROM sm_book WHERE rating >= ALL (SELECT rating FROM sm_book WHERE rating IS NOT NULL);
SELECT title FROM sm_book WHERE rating >= ALL (SELECT rating FROM sm_book);
SELECT 5 > ALL (SELECT 1 WHERE false), 5 > ANY (SELECT 1 WHERE false);
SELECT title FROM sm_book WHERE author_id <> ALL (SELECT id FROM sm_author WHERE country = 'UK') ORDER BY title;
SELECT title FROM sm_book WHERE id = ANY (ARRAY[10, 12, 99]) ORDER BY id;
-- Derived tables.
SELECT s.author_id, s.n FROM (SELECT author_id, count(*) AS n FROM sm_book GROUP BY author_id) s WHERE s.n > 1 ORDER BY s.author_id;
SELECT a.name, s.total_pages FROM sm_author a JOIN (SELECT author_id, sum(pages) AS total_pages FROM sm_book GROUP BY author_id) s ON s.author_id = a.id ORDER BY s.total_pages DESC;
SELECT avg(n) FROM (SELECT count(*) AS n FROM sm_loan GROUP BY member) t;
SELECT decade, count(*) FROM (SELECT (year / 10) * 10 AS decade FROM sm_book) d GROUP BY decade ORDER BY decade;
SELECT * FROM (SELECT title, rating FROM sm_book ORDER BY rating DESC NULLS LAST, id LIMIT 3) top ORDER BY title;
SELECT t.member, t.cnt FROM (SELECT member, count(*) AS cnt FROM sm_loan GROUP BY member) t ORDER BY t.cnt DESC, t.member;
SELECT x FROM (SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 3) u WHERE x > 1 ORDER BY x;
SELECT count(*) FROM (SELECT DISTINCT member FROM sm_loan) m;
-- Top book per author without window functions (correlated max).
SELECT a.name, b.title, b.rating FROM sm_author a JOIN sm_book b ON b.author_id = a.id WHERE b.rating = (SELECT max(b2.rating) FROM sm_book b2 WHERE b2.author_id = a.id) ORDER BY a.name;
SELECT b.title FROM sm_book b WHERE (SELECT count(*) FROM sm_book b2 WHERE b2.author_id = b.author_id AND b2.year > b.year) = 0 AND b.author_id IS NOT NULL ORDER BY b.title;
-- CTEs as applications write them.
WITH per_author AS (SELECT author_id, count(*) AS n, avg(rating) AS r FROM sm_book GROUP BY author_id) SELECT a.name, p.n, round(p.r, 2) FROM sm_author a JOIN per_author p ON p.author_id = a.id ORDER BY a.name;
WITH open_loans AS (SELECT book_id FROM sm_loan WHERE back_on IS NULL) SELECT b.title FROM sm_book b WHERE b.id IN (SELECT book_id FROM open_loans) ORDER BY b.title;
WITH a AS (SELECT id FROM sm_author WHERE country = 'IT'), b AS (SELECT * FROM sm_book WHERE author_id IN (SELECT id FROM a)) SELECT title FROM b ORDER BY year;
WITH stats AS (SELECT min(pages) AS lo, max(pages) AS hi FROM sm_book) SELECT title FROM sm_book, stats WHERE pages IN (lo, hi) ORDER BY title;
WITH RECURSIVE years(y) AS (SELECT 1940 UNION ALL SELECT y + 10 FROM years WHERE y < 1980) SELECT y, (SELECT count(*) FROM sm_book WHERE year >= y AND year < y + 10) FROM years ORDER BY y;
WITH counts AS (SELECT member, count(*) AS c FROM sm_loan GROUP BY member) SELECT member FROM counts WHERE c = (SELECT max(c) FROM counts) ORDER BY member;
-- Subqueries in CASE and function arguments.
SELECT title, CASE WHEN id IN (SELECT book_id FROM sm_loan WHERE back_on IS NULL) THEN 'out' ELSE 'in' END FROM sm_book ORDER BY id;
SELECT title, coalesce((SELECT max(out_on) FROM sm_loan l WHERE l.book_id = b.id), date '1900-01-01') FROM sm_book b ORDER BY id;
SELECT upper((SELECT name FROM sm_author WHERE id = 3)), length((SELECT title FROM sm_book WHERE id = 14));
-- Subqueries in DML.
CREATE TABLE sm_archive (book_id int, title text);
INSERT INTO sm_archive SELECT id, title FROM sm_book WHERE year < (SELECT min(year) FROM sm_book WHERE author_id = 2);
SELECT * FROM sm_archive ORDER BY book_id;
UPDATE sm_book SET rating = (SELECT avg(rating) FROM sm_book WHERE rating IS NOT NULL)::numeric(3,1) WHERE rating IS NULL RETURNING id, rating;
UPDATE sm_book b SET pages = pages + 1 WHERE EXISTS (SELECT 1 FROM sm_loan l WHERE l.book_id = b.id AND l.member = 'max') RETURNING id, pages;
UPDATE sm_author a SET country = 'XX' WHERE NOT EXISTS (SELECT 1 FROM sm_book b WHERE b.author_id = a.id) RETURNING name;
DELETE FROM sm_loan WHERE book_id NOT IN (SELECT id FROM sm_book) RETURNING member;
DELETE FROM sm_archive WHERE book_id IN (SELECT id FROM sm_book WHERE author_id IS NULL) RETURNING title;
SELECT count(*) FROM sm_loan;
INSERT INTO sm_loan (book_id, member, out_on) SELECT id, 'new', date '2024-04-01' FROM sm_book WHERE id NOT IN (SELECT book_id FROM sm_loan) AND author_id IS NOT NULL RETURNING book_id;
SELECT member, count(*) FROM sm_loan GROUP BY member ORDER BY member;
-- Errors.
-- error: 21000
SELECT title FROM sm_book WHERE author_id = (SELECT id FROM sm_author WHERE country = 'IT');
-- error: 21000
SELECT (SELECT title FROM sm_book b WHERE b.author_id = a.id) FROM sm_author a;
-- error: 42601
SELECT id FROM sm_book WHERE id IN (SELECT id, title FROM sm_book);
-- error: 42703
SELECT title FROM sm_book WHERE EXISTS (SELECT 1 FROM sm_author WHERE nope = 1);
-- error: 42P01
SELECT * FROM (SELECT * FROM sm_missing) s;
-- error: 42601
SELECT * FROM sm_book WHERE id IN ();
-- error: 42883
SELECT title FROM sm_book WHERE title IN (SELECT id FROM sm_book);
