-- Joins: inner, left, right, full, cross, self, USING, NATURAL, multi-way.
CREATE TABLE j_dept (id int PRIMARY KEY, name text);
CREATE TABLE j_emp (id int PRIMARY KEY, name text, dept_id int, boss_id int, salary int);
CREATE TABLE j_proj (id int, emp_id int, title text);
INSERT INTO j_dept VALUES (1, 'eng'), (2, 'sales'), (3, 'empty');
INSERT INTO j_emp VALUES (1, 'ann', 1, NULL, 100), (2, 'bob', 1, 1, 80), (3, 'cid', 2, 1, 70), (4, 'dee', NULL, 2, 60), (5, 'eve', 2, 3, 90);
INSERT INTO j_proj VALUES (1, 1, 'db'), (2, 1, 'api'), (3, 3, 'crm'), (4, 9, 'ghost');
SELECT e.name, d.name FROM j_emp e JOIN j_dept d ON e.dept_id = d.id ORDER BY e.name;
SELECT e.name, d.name FROM j_emp e INNER JOIN j_dept d ON d.id = e.dept_id AND d.name = 'eng';
SELECT e.name, d.name FROM j_emp e LEFT JOIN j_dept d ON e.dept_id = d.id ORDER BY e.id;
SELECT e.name, d.name FROM j_emp e LEFT OUTER JOIN j_dept d ON e.dept_id = d.id WHERE d.id IS NULL;
SELECT e.name, d.name FROM j_emp e RIGHT JOIN j_dept d ON e.dept_id = d.id ORDER BY d.id, e.id;
SELECT e.name, d.name FROM j_emp e FULL JOIN j_dept d ON e.dept_id = d.id ORDER BY d.id NULLS FIRST, e.id;
SELECT e.name, d.name FROM j_emp e FULL OUTER JOIN j_dept d ON e.dept_id = d.id WHERE e.id IS NULL OR d.id IS NULL;
SELECT e.name, d.name FROM j_emp e CROSS JOIN j_dept d WHERE e.id <= 2 ORDER BY e.name, d.name;
SELECT count(*) FROM j_emp, j_dept;
SELECT e.name AS emp, b.name AS boss FROM j_emp e LEFT JOIN j_emp b ON e.boss_id = b.id ORDER BY e.id;
SELECT e.name, p.title, d.name FROM j_emp e JOIN j_proj p ON p.emp_id = e.id JOIN j_dept d ON d.id = e.dept_id ORDER BY p.id;
SELECT e.name, p.title FROM j_emp e LEFT JOIN j_proj p ON p.emp_id = e.id ORDER BY e.id, p.title;
SELECT p.title, e.name FROM j_proj p LEFT JOIN j_emp e ON e.id = p.emp_id LEFT JOIN j_dept d ON d.id = e.dept_id ORDER BY p.id;
CREATE TABLE j_a (k int, va text);
CREATE TABLE j_b (k int, vb text);
INSERT INTO j_a VALUES (1, 'a1'), (2, 'a2'), (2, 'a2b'), (NULL, 'anull');
INSERT INTO j_b VALUES (2, 'b2'), (3, 'b3'), (NULL, 'bnull');
SELECT * FROM j_a JOIN j_b USING (k);
SELECT k, va, vb FROM j_a FULL JOIN j_b USING (k) ORDER BY k NULLS LAST, va NULLS LAST, vb;
SELECT * FROM j_a NATURAL JOIN j_b;
SELECT * FROM j_a LEFT JOIN j_b ON j_a.k = j_b.k ORDER BY j_a.va;
SELECT * FROM j_a RIGHT JOIN j_b ON j_a.k = j_b.k AND j_a.va <> 'a2' ORDER BY j_b.vb, j_a.va;
SELECT * FROM j_a JOIN j_b ON true ORDER BY va, vb;
SELECT * FROM j_a JOIN j_b ON j_a.k < j_b.k ORDER BY va, vb;
SELECT a.va, b.vb FROM j_a a, j_b b WHERE a.k = b.k;
SELECT d.name, count(e.id), coalesce(sum(e.salary), 0) FROM j_dept d LEFT JOIN j_emp e ON e.dept_id = d.id GROUP BY d.name ORDER BY d.name;
SELECT d.name, (SELECT count(*) FROM j_emp e WHERE e.dept_id = d.id) FROM j_dept d ORDER BY d.id;
SELECT e.name FROM j_emp e JOIN (SELECT dept_id, max(salary) AS m FROM j_emp GROUP BY dept_id) top ON top.dept_id = e.dept_id AND top.m = e.salary ORDER BY e.name;
SELECT e1.name, e2.name FROM j_emp e1 JOIN j_emp e2 ON e1.dept_id = e2.dept_id AND e1.id < e2.id ORDER BY 1, 2;
SELECT x.n, y.n FROM generate_series(1, 3) x(n) LEFT JOIN generate_series(2, 4) y(n) ON x.n = y.n ORDER BY x.n;
SELECT * FROM j_dept d LEFT JOIN j_emp e ON e.dept_id = d.id AND e.salary > 85 ORDER BY d.id, e.id;
SELECT * FROM j_a a JOIN j_b b ON a.k = b.k JOIN j_a c ON c.k = b.k ORDER BY a.va, c.va;
-- error: 42702
SELECT k FROM j_a JOIN j_b ON j_a.k = j_b.k;
-- error: 42P01
SELECT * FROM j_a JOIN j_nothere ON true;
-- error: 42601
SELECT * FROM j_a JOIN j_b;
-- error: 42P01
SELECT j_b.vb FROM j_a;
