-- More joins, shaped like application queries: a small shop schema
-- (customers, orders, items, products, categories) joined every usual way.
CREATE TABLE jm_cat (id int PRIMARY KEY, name text NOT NULL, parent_id int);
CREATE TABLE jm_prod (id int PRIMARY KEY, sku text UNIQUE, name text, cat_id int, price numeric(10,2), active boolean DEFAULT true);
CREATE TABLE jm_cust (id int PRIMARY KEY, email text UNIQUE, name text, country text, referred_by int);
CREATE TABLE jm_ord (id int PRIMARY KEY, cust_id int, status text, placed date);
CREATE TABLE jm_item (ord_id int, prod_id int, qty int, unit_price numeric(10,2), PRIMARY KEY (ord_id, prod_id));
INSERT INTO jm_cat VALUES (1, 'books', NULL), (2, 'fiction', 1), (3, 'science', 1), (4, 'games', NULL), (5, 'puzzles', 4), (6, 'empty', NULL);
INSERT INTO jm_prod VALUES
  (1, 'B-001', 'Dune', 2, 9.99, true), (2, 'B-002', 'Cosmos', 3, 14.50, true),
  (3, 'B-003', 'Emma', 2, 5.00, false), (4, 'G-001', 'Chess', 4, 30.00, true),
  (5, 'G-002', 'Jigsaw', 5, 12.25, true), (6, 'X-001', 'Orphan', NULL, 1.00, true),
  (7, 'B-004', 'Brief History', 3, 11.00, true);
INSERT INTO jm_cust VALUES
  (1, 'ann@x.io', 'Ann', 'NO', NULL), (2, 'bob@x.io', 'Bob', 'SE', 1), (3, 'cy@x.io', 'Cy', 'NO', 1),
  (4, 'di@x.io', 'Di', 'DK', 2), (5, 'ed@x.io', 'Ed', NULL, NULL);
INSERT INTO jm_ord VALUES
  (100, 1, 'paid', '2024-01-05'), (101, 1, 'shipped', '2024-02-11'), (102, 2, 'paid', '2024-02-12'),
  (103, 3, 'cancelled', '2024-03-01'), (104, 3, 'paid', '2024-03-02'), (105, 9, 'paid', '2024-03-03'),
  (106, NULL, 'draft', NULL);
INSERT INTO jm_item VALUES
  (100, 1, 2, 9.99), (100, 2, 1, 14.50), (101, 4, 1, 30.00), (102, 1, 1, 9.50), (102, 5, 3, 12.25),
  (103, 3, 1, 5.00), (104, 7, 2, 11.00), (104, 2, 1, 14.50), (105, 6, 10, 1.00), (107, 1, 1, 9.99);
-- Order lines with product names.
SELECT o.id, p.name, i.qty, i.unit_price FROM jm_ord o JOIN jm_item i ON i.ord_id = o.id JOIN jm_prod p ON p.id = i.prod_id ORDER BY o.id, p.name;
-- Order totals per customer.
SELECT c.name, count(DISTINCT o.id) AS orders, sum(i.qty * i.unit_price) AS total FROM jm_cust c JOIN jm_ord o ON o.cust_id = c.id JOIN jm_item i ON i.ord_id = o.id GROUP BY c.name ORDER BY total DESC;
SELECT c.name, coalesce(sum(i.qty * i.unit_price), 0) AS total FROM jm_cust c LEFT JOIN jm_ord o ON o.cust_id = c.id AND o.status <> 'cancelled' LEFT JOIN jm_item i ON i.ord_id = o.id GROUP BY c.id, c.name ORDER BY c.id;
-- Customers without orders (anti-join three ways).
SELECT c.name FROM jm_cust c LEFT JOIN jm_ord o ON o.cust_id = c.id WHERE o.id IS NULL ORDER BY c.name;
SELECT c.name FROM jm_cust c WHERE NOT EXISTS (SELECT 1 FROM jm_ord o WHERE o.cust_id = c.id) ORDER BY c.name;
SELECT c.name FROM jm_cust c WHERE c.id NOT IN (SELECT cust_id FROM jm_ord WHERE cust_id IS NOT NULL) ORDER BY c.name;
-- Orders whose customer is gone, and items whose order is gone.
SELECT o.id FROM jm_ord o LEFT JOIN jm_cust c ON c.id = o.cust_id WHERE c.id IS NULL ORDER BY o.id;
SELECT i.ord_id, i.prod_id FROM jm_item i LEFT JOIN jm_ord o ON o.id = i.ord_id WHERE o.id IS NULL;
-- Category tree: child with parent name.
SELECT c.name AS child, p.name AS parent FROM jm_cat c LEFT JOIN jm_cat p ON p.id = c.parent_id ORDER BY c.id;
SELECT p.name AS parent, count(c.id) AS children FROM jm_cat p LEFT JOIN jm_cat c ON c.parent_id = p.id WHERE p.parent_id IS NULL GROUP BY p.id, p.name ORDER BY p.id;
-- Products with category and top-level category.
SELECT p.sku, c.name, coalesce(top.name, c.name) AS top FROM jm_prod p JOIN jm_cat c ON c.id = p.cat_id LEFT JOIN jm_cat top ON top.id = c.parent_id ORDER BY p.sku;
SELECT p.sku, c.name FROM jm_prod p LEFT JOIN jm_cat c ON c.id = p.cat_id ORDER BY p.sku;
SELECT c.name, p.sku FROM jm_prod p RIGHT JOIN jm_cat c ON c.id = p.cat_id ORDER BY c.id, p.sku;
SELECT c.name, p.sku FROM jm_prod p FULL JOIN jm_cat c ON c.id = p.cat_id ORDER BY c.id NULLS FIRST, p.sku;
-- Referral chain (self join, two levels).
SELECT c.name, r.name AS referrer, rr.name AS referrer_of_referrer FROM jm_cust c LEFT JOIN jm_cust r ON r.id = c.referred_by LEFT JOIN jm_cust rr ON rr.id = r.referred_by ORDER BY c.id;
SELECT r.name, count(*) AS referred FROM jm_cust c JOIN jm_cust r ON r.id = c.referred_by GROUP BY r.name ORDER BY r.name;
-- Join conditions beyond equality.
SELECT o.id, p.sku FROM jm_ord o JOIN jm_prod p ON p.price > 12 AND o.status = 'shipped' ORDER BY o.id, p.sku;
SELECT a.id, b.id FROM jm_ord a JOIN jm_ord b ON b.placed BETWEEN a.placed + 1 AND a.placed + 2 ORDER BY a.id, b.id;
SELECT i.ord_id, p.sku FROM jm_item i JOIN jm_prod p ON p.id = i.prod_id AND i.unit_price <> p.price ORDER BY 1, 2;
SELECT p.sku, c.name FROM jm_prod p JOIN jm_cat c ON p.cat_id = c.id OR (p.cat_id IS NULL AND c.id = 6) ORDER BY p.sku;
SELECT p.sku FROM jm_prod p JOIN jm_cat c ON c.id = p.cat_id AND c.name LIKE '%ion' ORDER BY p.sku;
-- Filters in ON vs WHERE for outer joins differ.
SELECT c.name, o.id FROM jm_cust c LEFT JOIN jm_ord o ON o.cust_id = c.id AND o.status = 'paid' ORDER BY c.id, o.id;
SELECT c.name, o.id FROM jm_cust c LEFT JOIN jm_ord o ON o.cust_id = c.id WHERE o.status = 'paid' ORDER BY c.id, o.id;
SELECT c.name, o.id FROM jm_cust c LEFT JOIN jm_ord o ON o.cust_id = c.id WHERE o.status = 'paid' OR o.id IS NULL ORDER BY c.id, o.id;
-- USING and NATURAL with more columns.
CREATE TABLE jm_stock (prod_id int, warehouse text, qty int);
CREATE TABLE jm_price_hist (prod_id int, warehouse text, price numeric(10,2));
INSERT INTO jm_stock VALUES (1, 'osl', 5), (1, 'sto', 0), (2, 'osl', 3), (4, 'cph', 1), (9, 'osl', 7);
INSERT INTO jm_price_hist VALUES (1, 'osl', 9.99), (1, 'sto', 10.49), (2, 'cph', 14.00), (4, 'cph', 29.00);
SELECT prod_id, warehouse, qty, price FROM jm_stock JOIN jm_price_hist USING (prod_id, warehouse) ORDER BY prod_id, warehouse;
SELECT prod_id, warehouse, qty, price FROM jm_stock LEFT JOIN jm_price_hist USING (prod_id, warehouse) ORDER BY prod_id, warehouse;
SELECT prod_id, warehouse, qty, price FROM jm_stock FULL JOIN jm_price_hist USING (prod_id, warehouse) ORDER BY prod_id, warehouse;
SELECT * FROM jm_stock NATURAL JOIN jm_price_hist ORDER BY prod_id, warehouse;
SELECT * FROM jm_stock NATURAL LEFT JOIN jm_price_hist ORDER BY prod_id, warehouse;
SELECT prod_id, s.qty, h.price FROM jm_stock s JOIN jm_price_hist h USING (prod_id) ORDER BY prod_id, s.qty, h.price;
SELECT p.name, sum(s.qty) FROM jm_prod p JOIN jm_stock s ON s.prod_id = p.id GROUP BY p.name HAVING sum(s.qty) > 0 ORDER BY p.name;
-- Joins against derived tables and aggregates.
SELECT p.sku, t.sold FROM jm_prod p JOIN (SELECT prod_id, sum(qty) AS sold FROM jm_item GROUP BY prod_id) t ON t.prod_id = p.id ORDER BY t.sold DESC, p.sku;
SELECT p.sku, coalesce(t.sold, 0) FROM jm_prod p LEFT JOIN (SELECT prod_id, sum(qty) AS sold FROM jm_item GROUP BY prod_id) t ON t.prod_id = p.id ORDER BY p.id;
SELECT c.country, count(o.id) FROM jm_cust c LEFT JOIN jm_ord o ON o.cust_id = c.id GROUP BY c.country ORDER BY c.country NULLS LAST;
SELECT o.status, count(*), sum(i.qty) FROM jm_ord o JOIN jm_item i ON i.ord_id = o.id GROUP BY o.status ORDER BY o.status;
SELECT o.id, sum(i.qty * i.unit_price) AS total FROM jm_ord o JOIN jm_item i ON i.ord_id = o.id GROUP BY o.id HAVING sum(i.qty * i.unit_price) > 30 ORDER BY o.id;
SELECT c.name, max(o.placed) AS last_order FROM jm_cust c JOIN jm_ord o ON o.cust_id = c.id GROUP BY c.name ORDER BY c.name;
-- Latest order per customer (join back to the max).
SELECT c.name, o.id, o.placed FROM jm_cust c JOIN jm_ord o ON o.cust_id = c.id JOIN (SELECT cust_id, max(placed) AS mp FROM jm_ord GROUP BY cust_id) m ON m.cust_id = o.cust_id AND m.mp = o.placed ORDER BY c.name;
-- Joins with subqueries in the ON clause.
SELECT o.id FROM jm_ord o JOIN jm_cust c ON c.id = o.cust_id AND c.id IN (SELECT referred_by FROM jm_cust WHERE referred_by IS NOT NULL) ORDER BY o.id;
-- Cross joins for combinations.
SELECT c.country, s.status FROM (SELECT DISTINCT country FROM jm_cust WHERE country IS NOT NULL) c CROSS JOIN (SELECT DISTINCT status FROM jm_ord WHERE status IN ('paid', 'shipped')) s ORDER BY 1, 2;
SELECT count(*) FROM jm_cat a CROSS JOIN jm_cat b WHERE a.id < b.id;
SELECT d::date FROM generate_series(date '2024-03-01', date '2024-03-04', interval '1 day') d LEFT JOIN jm_ord o ON o.placed = d::date WHERE o.id IS NULL ORDER BY 1;
SELECT g.d, count(o.id) FROM generate_series(1, 3) g(d) LEFT JOIN jm_ord o ON extract(month FROM o.placed) = g.d GROUP BY g.d ORDER BY g.d;
-- Parenthesized and nested joins.
SELECT o.id, p.sku FROM jm_ord o JOIN (jm_item i JOIN jm_prod p ON p.id = i.prod_id) ON i.ord_id = o.id WHERE o.cust_id = 1 ORDER BY o.id, p.sku;
SELECT c.name, o.id FROM jm_cust c LEFT JOIN (jm_ord o JOIN jm_item i ON i.ord_id = o.id AND i.qty > 1) ON o.cust_id = c.id ORDER BY c.id, o.id;
SELECT count(*) FROM jm_ord o, jm_item i, jm_prod p WHERE i.ord_id = o.id AND p.id = i.prod_id AND p.active;
SELECT o.id, i.prod_id FROM jm_ord o, jm_item i WHERE o.id = i.ord_id AND o.status = 'paid' ORDER BY 1, 2;
-- Joins in UPDATE/DELETE-free reporting over the same table twice.
SELECT a.sku, b.sku FROM jm_prod a JOIN jm_prod b ON a.cat_id = b.cat_id AND a.id < b.id ORDER BY a.sku, b.sku;
SELECT a.name, b.name FROM jm_cust a JOIN jm_cust b ON a.country = b.country AND a.id <> b.id ORDER BY a.name, b.name;
-- Join on expressions and casts.
SELECT p.sku, s.qty FROM jm_prod p JOIN jm_stock s ON s.prod_id::text = split_part(p.sku, '-', 2)::int::text ORDER BY p.sku, s.qty;
SELECT c.email, o.id FROM jm_cust c JOIN jm_ord o ON lower(c.name) = 'ann' AND o.cust_id = c.id ORDER BY o.id;
-- Joins with LIMIT and DISTINCT.
SELECT DISTINCT c.name FROM jm_cust c JOIN jm_ord o ON o.cust_id = c.id ORDER BY c.name;
SELECT DISTINCT p.cat_id FROM jm_prod p JOIN jm_item i ON i.prod_id = p.id ORDER BY p.cat_id NULLS FIRST;
SELECT o.id, c.name FROM jm_ord o JOIN jm_cust c ON c.id = o.cust_id ORDER BY o.placed DESC LIMIT 2;
SELECT o.id, c.name FROM jm_ord o LEFT JOIN jm_cust c ON c.id = o.cust_id ORDER BY o.id LIMIT 3 OFFSET 2;
-- Joins with empty inputs.
SELECT c.name, o.id FROM jm_cust c LEFT JOIN (SELECT * FROM jm_ord WHERE false) o ON o.cust_id = c.id ORDER BY c.id;
SELECT c.name FROM (SELECT * FROM jm_cust WHERE false) c JOIN jm_ord o ON o.cust_id = c.id;
SELECT count(*) FROM jm_cust c FULL JOIN (SELECT * FROM jm_ord WHERE false) o ON o.cust_id = c.id;
-- Qualified star and column aliases in joins.
SELECT c.*, o.id AS order_id FROM jm_cust c JOIN jm_ord o ON o.cust_id = c.id WHERE o.id = 102;
SELECT o.*, i.qty FROM jm_ord o JOIN jm_item i ON i.ord_id = o.id WHERE o.id = 101;
SELECT x.a, y.b FROM (VALUES (1, 'one'), (2, 'two')) x(a, s) JOIN (VALUES (1, 'uno'), (3, 'tres')) y(a, b) ON x.a = y.a;
SELECT x.a, y.b FROM (VALUES (1), (2)) x(a) LEFT JOIN (VALUES (2, 'dos')) y(a, b) ON x.a = y.a ORDER BY x.a;
-- Joining on nullable columns: NULL never equals NULL.
SELECT count(*) FROM jm_cust a JOIN jm_cust b ON a.country = b.country;
SELECT count(*) FROM jm_cust a JOIN jm_cust b ON a.country IS NOT DISTINCT FROM b.country;
-- Ambiguity and bad references.
-- error: 42702
SELECT id FROM jm_cust JOIN jm_ord ON jm_ord.cust_id = jm_cust.id;
-- error: 42703
SELECT c.nope FROM jm_cust c JOIN jm_ord o ON o.cust_id = c.id;
-- error: 42P01
SELECT o.id FROM jm_cust c JOIN jm_ord o ON o.cust_id = x.id;
-- error: 42804
SELECT 1 FROM jm_cust c JOIN jm_ord o ON o.id;
-- error: 42703
SELECT * FROM jm_stock JOIN jm_price_hist USING (nope);
-- error: 42712
SELECT 1 FROM jm_cust c JOIN jm_ord c ON true;
