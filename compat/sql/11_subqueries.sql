-- Scalar, IN, EXISTS, correlated subqueries and derived tables.
CREATE TABLE sq_c (id int PRIMARY KEY, name text, city text);
CREATE TABLE sq_o (id int PRIMARY KEY, cust int, amount int);
INSERT INTO sq_c VALUES (1, 'ann', 'oslo'), (2, 'bob', 'rome'), (3, 'cy', 'oslo'), (4, 'di', NULL);
INSERT INTO sq_o VALUES (10, 1, 50), (11, 1, 25), (12, 2, 100), (13, 9, 5), (14, NULL, 7);
SELECT name FROM sq_c WHERE id IN (SELECT cust FROM sq_o) ORDER BY name;
SELECT name FROM sq_c WHERE id NOT IN (SELECT cust FROM sq_o WHERE cust IS NOT NULL) ORDER BY name;
SELECT name FROM sq_c WHERE id NOT IN (SELECT cust FROM sq_o);
SELECT name FROM sq_c c WHERE EXISTS (SELECT 1 FROM sq_o o WHERE o.cust = c.id) ORDER BY name;
SELECT name FROM sq_c c WHERE NOT EXISTS (SELECT 1 FROM sq_o o WHERE o.cust = c.id) ORDER BY name;
SELECT name, (SELECT sum(amount) FROM sq_o o WHERE o.cust = c.id) AS total FROM sq_c c ORDER BY id;
SELECT name, (SELECT count(*) FROM sq_o o WHERE o.cust = c.id) FROM sq_c c ORDER BY id;
SELECT (SELECT max(amount) FROM sq_o), (SELECT name FROM sq_c WHERE id = 2), (SELECT name FROM sq_c WHERE id = 99);
-- error: 21000
SELECT (SELECT id FROM sq_c);
-- error: 42601
SELECT (SELECT id, name FROM sq_c WHERE id = 1);
SELECT id, amount FROM sq_o WHERE amount > (SELECT avg(amount) FROM sq_o) ORDER BY id;
SELECT id FROM sq_o o WHERE amount = (SELECT max(amount) FROM sq_o i WHERE i.cust = o.cust) ORDER BY id;
SELECT c.city, t.total FROM sq_c c JOIN (SELECT cust, sum(amount) AS total FROM sq_o GROUP BY cust) t ON t.cust = c.id ORDER BY c.city, t.total;
SELECT city, count(*) FROM (SELECT * FROM sq_c WHERE city IS NOT NULL) s GROUP BY city ORDER BY city;
SELECT name FROM sq_c WHERE city = (SELECT city FROM sq_c WHERE name = 'ann') AND name <> 'ann';
SELECT name FROM sq_c WHERE id = ANY (SELECT cust FROM sq_o WHERE amount > 20) ORDER BY 1;
SELECT name FROM sq_c WHERE id > ALL (SELECT cust FROM sq_o WHERE cust < 3) ORDER BY 1;
SELECT name FROM sq_c WHERE (id, city) IN (SELECT id, city FROM sq_c WHERE city = 'oslo') ORDER BY 1;
SELECT 5 IN (SELECT amount FROM sq_o), 6 IN (SELECT amount FROM sq_o), NULL IN (SELECT amount FROM sq_o);
SELECT 6 NOT IN (SELECT cust FROM sq_o), 6 NOT IN (SELECT cust FROM sq_o WHERE cust IS NOT NULL);
SELECT EXISTS (SELECT 1 FROM sq_o WHERE amount > 90), EXISTS (SELECT 1 FROM sq_o WHERE amount > 900);
SELECT c.name, (SELECT o.amount FROM sq_o o WHERE o.cust = c.id ORDER BY o.amount DESC LIMIT 1) AS biggest FROM sq_c c ORDER BY c.id;
SELECT id FROM sq_o WHERE cust IN (SELECT id FROM sq_c WHERE city IN (SELECT city FROM sq_c WHERE name = 'cy')) ORDER BY id;
UPDATE sq_o SET amount = amount + 1 WHERE cust IN (SELECT id FROM sq_c WHERE city = 'rome') RETURNING id, amount;
DELETE FROM sq_o o WHERE NOT EXISTS (SELECT 1 FROM sq_c c WHERE c.id = o.cust) RETURNING id;
SELECT * FROM sq_o ORDER BY id;
SELECT name FROM sq_c c WHERE (SELECT count(*) FROM sq_o o WHERE o.cust = c.id) >= 2;
SELECT x.id, x.double_amount FROM (SELECT id, amount * 2 AS double_amount FROM sq_o) x WHERE x.double_amount > 100;
SELECT * FROM (SELECT * FROM (SELECT id, name FROM sq_c) a WHERE id < 4) b WHERE id > 1 ORDER BY id;
-- error: 42601
SELECT * FROM (SELECT 1);
-- error: 42703
SELECT name FROM sq_c WHERE id IN (SELECT nope FROM sq_o);
