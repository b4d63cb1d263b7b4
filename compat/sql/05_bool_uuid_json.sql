-- boolean, uuid, json / jsonb, serial types.
CREATE TABLE misc_t (id serial PRIMARY KEY, flag boolean, u uuid, j json, jb jsonb);
INSERT INTO misc_t (flag, u, j, jb) VALUES
  (true, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1, "b": [1, 2]}', '{"a": 1, "b": [1, 2]}'),
  (false, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12', '[1, "two", null]', '[1, "two", null]'),
  (NULL, NULL, NULL, NULL);
SELECT id, flag, u, j, jb FROM misc_t ORDER BY id;
SELECT 't'::boolean, 'yes'::boolean, 'off'::boolean, '0'::boolean, ' TRUE '::boolean;
-- error: 22P02
SELECT 'maybe'::boolean;
SELECT true AND NULL, false AND NULL, true OR NULL, false OR NULL, NOT NULL::boolean;
SELECT id FROM misc_t WHERE flag ORDER BY id;
SELECT id FROM misc_t WHERE NOT flag ORDER BY id;
SELECT id, flag IS TRUE, flag IS NOT TRUE, flag IS FALSE, flag IS UNKNOWN FROM misc_t ORDER BY id;
SELECT true > false, true::int, 0::boolean, 5::boolean;
SELECT u FROM misc_t WHERE u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12';
SELECT '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'::uuid, 'a0eebc999c0b4ef8bb6d6bb9bd380a11'::uuid;
-- error: 22P02
SELECT 'not-a-uuid'::uuid;
SELECT u::text, length(u::text) FROM misc_t WHERE id = 1;
SELECT j -> 'a', j ->> 'a', j -> 'b', jb -> 'b' -> 1, jb ->> 'b' FROM misc_t WHERE id = 1;
SELECT j -> 1, j ->> 1, jb -> 2, jb ->> 2 IS NULL, jb -> 5 FROM misc_t WHERE id = 2;
SELECT j -> 'missing', jb ->> 'missing' FROM misc_t WHERE id = 1;
SELECT '{"b": 2, "a": 1, "a": 3}'::jsonb, '{"b": 2, "a": 1, "a": 3}'::json;
SELECT '  {"x" :  [ true, false ] }  '::jsonb, '  {"x" :  [ true ] }  '::json;
SELECT '{"n": 1.50}'::jsonb, '"str"'::jsonb, 'null'::jsonb, '12'::json;
-- error: 22P02
SELECT '{bad json'::jsonb;
-- error: 22P02
SELECT '{"a":}'::json;
SELECT '{"a": {"b": {"c": 42}}}'::jsonb -> 'a' -> 'b' ->> 'c';
SELECT id FROM misc_t WHERE jb ->> 'a' = '1';
SELECT jsonb_typeof(jb), json_typeof(j) FROM misc_t WHERE id < 3 ORDER BY id;
SELECT '{"a":1}'::jsonb = '{"a": 1}'::jsonb, '[1,2]'::jsonb = '[2,1]'::jsonb;
CREATE TABLE misc_s (id bigserial, label text, small smallserial);
INSERT INTO misc_s (label) VALUES ('a'), ('b');
INSERT INTO misc_s (label) VALUES ('c') RETURNING id, label, small;
SELECT id, label, small FROM misc_s ORDER BY id;
INSERT INTO misc_s (id, label) VALUES (100, 'explicit');
INSERT INTO misc_s (label) VALUES ('after explicit') RETURNING id;
SELECT pg_typeof(id), pg_typeof(small) FROM misc_s LIMIT 1;
SELECT count(*), count(u), count(DISTINCT flag) FROM misc_t;
SELECT gen_random_uuid() IS NOT NULL, length(gen_random_uuid()::text);
