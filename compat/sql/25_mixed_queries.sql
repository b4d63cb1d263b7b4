-- Mixed application workloads: an issue tracker's typical statements
-- (pagination, search, dashboards, upserts, soft deletes, status changes,
-- reporting with CTEs and set operations, ORM-style parameter casts).
SET TimeZone = 'UTC';
CREATE TABLE mx_user (id bigserial PRIMARY KEY, login text NOT NULL UNIQUE, display text, active boolean NOT NULL DEFAULT true, created_at timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+00');
CREATE TABLE mx_project (id serial PRIMARY KEY, key varchar(8) NOT NULL UNIQUE, title text NOT NULL, owner_id bigint);
CREATE TABLE mx_issue (id serial PRIMARY KEY, project_id int NOT NULL, number int NOT NULL, title text NOT NULL, status text NOT NULL DEFAULT 'open', priority smallint NOT NULL DEFAULT 3, assignee_id bigint, estimate numeric(6,2), opened date NOT NULL, closed date, deleted boolean NOT NULL DEFAULT false, labels text[], meta jsonb, UNIQUE (project_id, number));
CREATE INDEX mx_issue_status ON mx_issue (status);
CREATE INDEX mx_issue_assignee ON mx_issue (assignee_id);
INSERT INTO mx_user (login, display) VALUES ('ann', 'Ann A'), ('bob', 'Bob B'), ('cyd', NULL), ('dan', 'Dan D') RETURNING id, login;
UPDATE mx_user SET active = false WHERE login = 'dan';
INSERT INTO mx_project (key, title, owner_id) VALUES ('CORE', 'Core engine', 1), ('WEB', 'Website', 2), ('OPS', 'Operations', NULL) RETURNING id, key;
INSERT INTO mx_issue (project_id, number, title, status, priority, assignee_id, estimate, opened, closed, labels, meta) VALUES
  (1, 1, 'Crash on startup', 'closed', 1, 1, 3.5, '2024-01-02', '2024-01-05', ARRAY['bug', 'p1'], '{"os": "linux", "votes": 5}'),
  (1, 2, 'Slow query planner', 'open', 2, 2, 8, '2024-01-10', NULL, ARRAY['perf'], '{"votes": 2}'),
  (1, 3, 'Add window functions', 'in_progress', 2, 1, 13, '2024-02-01', NULL, ARRAY['feature'], NULL),
  (1, 4, 'Typo in error message', 'open', 5, NULL, 0.5, '2024-02-03', NULL, ARRAY['docs', 'good-first'], '{"votes": 0}'),
  (2, 1, 'Broken link on home', 'closed', 3, 3, 1, '2024-01-15', '2024-01-16', ARRAY['bug'], '{"browser": "firefox"}'),
  (2, 2, 'Dark mode', 'open', 4, 2, 5, '2024-02-20', NULL, ARRAY['feature', 'ui'], '{"votes": 12}'),
  (2, 3, 'Spam in comments', 'open', 1, NULL, NULL, '2024-03-01', NULL, NULL, NULL),
  (3, 1, 'Rotate certificates', 'in_progress', 2, 4, 2, '2024-02-25', NULL, ARRAY['ops'], '{"due": "2024-03-31"}'),
  (3, 2, 'Old ticket', 'open', 3, 1, 1, '2023-06-01', NULL, ARRAY[]::text[], '{}');
UPDATE mx_issue SET deleted = true WHERE project_id = 3 AND number = 2;
-- Dashboard counters.
SELECT status, count(*) FROM mx_issue WHERE NOT deleted GROUP BY status ORDER BY status;
SELECT p.key, count(i.id) FILTER (WHERE i.status <> 'closed') AS open, count(i.id) FILTER (WHERE i.status = 'closed') AS closed FROM mx_project p LEFT JOIN mx_issue i ON i.project_id = p.id AND NOT i.deleted GROUP BY p.key ORDER BY p.key;
SELECT u.login, count(i.id) AS assigned, coalesce(sum(i.estimate), 0) AS hours FROM mx_user u LEFT JOIN mx_issue i ON i.assignee_id = u.id AND i.status <> 'closed' AND NOT i.deleted WHERE u.active GROUP BY u.login ORDER BY hours DESC, u.login;
SELECT count(*) AS unassigned FROM mx_issue WHERE assignee_id IS NULL AND status <> 'closed';
SELECT priority, count(*) FROM mx_issue WHERE status = 'open' GROUP BY priority ORDER BY priority;
-- Issue list with keyset and offset pagination.
SELECT p.key || '-' || i.number AS ref, i.title FROM mx_issue i JOIN mx_project p ON p.id = i.project_id WHERE NOT i.deleted ORDER BY i.opened DESC, i.id DESC LIMIT 3;
SELECT p.key || '-' || i.number AS ref, i.title FROM mx_issue i JOIN mx_project p ON p.id = i.project_id WHERE NOT i.deleted ORDER BY i.opened DESC, i.id DESC LIMIT 3 OFFSET 3;
SELECT id, title FROM mx_issue WHERE (opened, id) < ('2024-02-01', 3) AND NOT deleted ORDER BY opened DESC, id DESC LIMIT 2;
SELECT id, title FROM mx_issue WHERE id > 4 ORDER BY id LIMIT 2;
SELECT count(*) FROM mx_issue WHERE NOT deleted;
-- Search.
SELECT id, title FROM mx_issue WHERE title ILIKE '%' || 'query' || '%' ORDER BY id;
SELECT id, title FROM mx_issue WHERE lower(title) LIKE '%on%' AND NOT deleted ORDER BY id;
SELECT id FROM mx_issue WHERE 'bug' = ANY (labels) ORDER BY id;
SELECT id FROM mx_issue WHERE labels @> ARRAY['feature'] ORDER BY id;
SELECT id FROM mx_issue WHERE cardinality(labels) = 0 OR labels IS NULL ORDER BY id;
SELECT id, array_length(labels, 1), labels[1] FROM mx_issue ORDER BY id;
SELECT id, meta ->> 'votes' AS votes FROM mx_issue WHERE meta ? 'votes' ORDER BY (meta ->> 'votes')::int DESC;
SELECT id FROM mx_issue WHERE meta @> '{"os": "linux"}' ORDER BY id;
SELECT id, coalesce((meta ->> 'votes')::int, 0) FROM mx_issue ORDER BY id;
SELECT id, meta -> 'due', jsonb_typeof(meta -> 'votes') FROM mx_issue ORDER BY id;
-- Typical ORM statements with explicit casts of parameters.
SELECT id, login, display, active FROM mx_user WHERE login = 'ann'::text LIMIT 1;
SELECT id FROM mx_issue WHERE project_id = '1'::int4 AND number = '2'::int4;
SELECT id FROM mx_issue WHERE opened >= '2024-02-01'::date AND opened < '2024-03-01'::date ORDER BY id;
SELECT id FROM mx_issue WHERE id = ANY ('{1,3,5}'::int[]) ORDER BY id;
SELECT id FROM mx_issue WHERE status IN ('open', 'in_progress') AND assignee_id = 1::bigint ORDER BY id;
SELECT EXISTS (SELECT 1 FROM mx_user WHERE login = 'bob') AS taken;
SELECT count(*) > 0 FROM mx_project WHERE key = 'WEB';
-- Status transitions and soft deletes.
UPDATE mx_issue SET status = 'closed', closed = '2024-03-05' WHERE project_id = 1 AND number = 2 AND status <> 'closed' RETURNING id, status, closed;
UPDATE mx_issue SET status = 'closed', closed = '2024-03-06' WHERE project_id = 1 AND number = 2 AND status <> 'closed' RETURNING id;
UPDATE mx_issue SET assignee_id = (SELECT id FROM mx_user WHERE login = 'cyd') WHERE assignee_id IS NULL AND status = 'open' RETURNING id, assignee_id;
UPDATE mx_issue SET priority = priority - 1 WHERE priority > 1 AND status = 'open' AND 'feature' = ANY (labels) RETURNING id, priority;
UPDATE mx_issue SET labels = array_append(labels, 'triaged') WHERE id IN (2, 6) RETURNING id, labels;
UPDATE mx_issue SET meta = jsonb_set(coalesce(meta, '{}'), '{votes}', '1') WHERE meta IS NULL OR NOT meta ? 'votes' RETURNING id, meta;
UPDATE mx_issue SET deleted = true WHERE status = 'closed' AND closed < '2024-02-01' RETURNING id;
SELECT id, status, deleted FROM mx_issue ORDER BY id;
-- Upserts on a natural key.
CREATE TABLE mx_watch (issue_id int, user_id bigint, since date NOT NULL, notify boolean NOT NULL DEFAULT true, PRIMARY KEY (issue_id, user_id));
INSERT INTO mx_watch VALUES (2, 1, '2024-01-11', true), (2, 2, '2024-01-12', false), (3, 1, '2024-02-02', true);
INSERT INTO mx_watch VALUES (2, 1, '2024-03-01', false) ON CONFLICT (issue_id, user_id) DO UPDATE SET notify = excluded.notify RETURNING issue_id, user_id, since, notify;
INSERT INTO mx_watch VALUES (6, 3, '2024-03-01', true) ON CONFLICT (issue_id, user_id) DO UPDATE SET notify = excluded.notify RETURNING issue_id, user_id, since, notify;
INSERT INTO mx_watch VALUES (3, 1, '2024-03-01', true) ON CONFLICT DO NOTHING RETURNING issue_id;
INSERT INTO mx_watch (issue_id, user_id, since) SELECT id, assignee_id, opened FROM mx_issue WHERE assignee_id IS NOT NULL ON CONFLICT (issue_id, user_id) DO NOTHING;
SELECT issue_id, user_id, since, notify FROM mx_watch ORDER BY issue_id, user_id;
DELETE FROM mx_watch w USING mx_user u WHERE u.id = w.user_id AND NOT u.active RETURNING w.issue_id, w.user_id;
-- Reports with CTEs and set operations.
WITH open_work AS (SELECT assignee_id, sum(estimate) AS hours FROM mx_issue WHERE status <> 'closed' AND NOT deleted GROUP BY assignee_id) SELECT coalesce(u.login, '(nobody)') AS who, o.hours FROM open_work o LEFT JOIN mx_user u ON u.id = o.assignee_id ORDER BY who;
WITH per_month AS (SELECT date_trunc('month', opened)::date AS m, count(*) AS opened FROM mx_issue GROUP BY 1), closed_month AS (SELECT date_trunc('month', closed)::date AS m, count(*) AS closed FROM mx_issue WHERE closed IS NOT NULL GROUP BY 1) SELECT coalesce(p.m, c.m) AS month, coalesce(p.opened, 0), coalesce(c.closed, 0) FROM per_month p FULL JOIN closed_month c ON c.m = p.m ORDER BY month;
SELECT assignee_id FROM mx_issue WHERE status = 'open' UNION SELECT owner_id FROM mx_project ORDER BY 1 NULLS LAST;
SELECT assignee_id FROM mx_issue WHERE assignee_id IS NOT NULL INTERSECT SELECT owner_id FROM mx_project ORDER BY 1;
SELECT id FROM mx_user EXCEPT SELECT assignee_id FROM mx_issue WHERE assignee_id IS NOT NULL ORDER BY 1;
SELECT 'issue' AS kind, count(*) FROM mx_issue UNION ALL SELECT 'project', count(*) FROM mx_project UNION ALL SELECT 'user', count(*) FROM mx_user ORDER BY kind;
SELECT i.id, i.closed - i.opened AS days_open FROM mx_issue i WHERE i.closed IS NOT NULL ORDER BY days_open DESC, i.id;
SELECT p.key, round(avg(i.closed - i.opened), 2) AS avg_days FROM mx_issue i JOIN mx_project p ON p.id = i.project_id WHERE i.closed IS NOT NULL GROUP BY p.key ORDER BY p.key;
SELECT unnest(labels) AS label, count(*) FROM mx_issue GROUP BY 1 ORDER BY 2 DESC, 1;
-- Next issue number per project (a common concurrency-naive pattern).
INSERT INTO mx_issue (project_id, number, title, opened) SELECT 2, coalesce(max(number), 0) + 1, 'Follow-up', '2024-03-10' FROM mx_issue WHERE project_id = 2 RETURNING number, status, priority, deleted;
INSERT INTO mx_issue (project_id, number, title, opened) VALUES (3, (SELECT coalesce(max(number), 0) + 1 FROM mx_issue WHERE project_id = 3), 'Renew domain', '2024-03-11') RETURNING number;
-- error: 23505
INSERT INTO mx_issue (project_id, number, title, opened) VALUES (1, 1, 'Duplicate number', '2024-03-12');
-- error: 23502
INSERT INTO mx_issue (project_id, number, opened) VALUES (1, 9, '2024-03-12');
-- error: 22001
INSERT INTO mx_project (key, title) VALUES ('TOOLONGKEY', 'x');
SELECT p.key, max(i.number) FROM mx_project p JOIN mx_issue i ON i.project_id = p.id GROUP BY p.key ORDER BY p.key;
-- Transactions around multi-statement changes.
BEGIN;
UPDATE mx_issue SET assignee_id = 2 WHERE assignee_id = 1 AND status <> 'closed';
INSERT INTO mx_watch (issue_id, user_id, since) SELECT id, 2, '2024-03-15' FROM mx_issue WHERE assignee_id = 2 ON CONFLICT DO NOTHING;
SELECT count(*) FROM mx_issue WHERE assignee_id = 1 AND status <> 'closed';
ROLLBACK;
SELECT count(*) FROM mx_issue WHERE assignee_id = 1 AND status <> 'closed';
BEGIN;
DELETE FROM mx_watch WHERE issue_id IN (SELECT id FROM mx_issue WHERE deleted);
DELETE FROM mx_issue WHERE deleted RETURNING id;
COMMIT;
SELECT count(*) FROM mx_issue;
SELECT count(*) FROM mx_watch;
-- Sequences behind serial columns.
SELECT currval(pg_get_serial_sequence('mx_issue', 'id')) >= 9;
SELECT max(id) FROM mx_user;
INSERT INTO mx_user (login) VALUES ('eve') RETURNING id, display, active, created_at;
TRUNCATE mx_watch;
SELECT count(*) FROM mx_watch;
