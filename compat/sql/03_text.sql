-- Character types, bytea, string functions, LIKE / ILIKE.
CREATE TABLE txt_t (id int PRIMARY KEY, t text, v varchar(5), c char(4));
INSERT INTO txt_t VALUES (1, 'Hello', 'abc', 'ab'), (2, 'world', 'xyz', 'wxyz'), (3, '', '', ''), (4, NULL, NULL, NULL);
SELECT id, t, v, c, length(c), octet_length(c) FROM txt_t ORDER BY id;
-- error: 22001
INSERT INTO txt_t VALUES (5, 'x', 'toolong', 'a');
-- error: 22001
INSERT INTO txt_t VALUES (6, 'x', 'a', 'fivec');
-- Trailing spaces beyond the limit are silently trimmed, as in PostgreSQL.
INSERT INTO txt_t VALUES (7, 'spaces', 'abc    ', 'ab     ');
SELECT v, length(v), c FROM txt_t WHERE id = 7;
SELECT 'abc'::varchar(2), 'abcdef'::char(3), CAST('xy' AS char(4)) = 'xy';
SELECT t IS NULL, t = '' FROM txt_t WHERE id IN (3, 4) ORDER BY id;
SELECT 'a' || 'b' || 'c', 'n=' || 42, 42 || '!', 'x' || NULL;
SELECT concat('a', NULL, 'b', 1), concat_ws('-', 'a', NULL, 'b', 'c');
SELECT upper('mIxEd'), lower('MiXeD'), initcap('hello wORLD foo');
SELECT length('héllo'), char_length('abc'), octet_length('héllo'), bit_length('a');
SELECT substring('PostgreSQL' FROM 5 FOR 3), substring('PostgreSQL', 5), substr('abcdef', 2, 3), substr('abc', 0, 2);
SELECT position('SQL' IN 'PostgreSQL'), strpos('hello', 'l'), position('z' IN 'abc');
SELECT trim('  both  '), ltrim('  left'), rtrim('right  '), trim(BOTH 'x' FROM 'xxhixx'), trim(LEADING '0' FROM '000120');
SELECT btrim('xyhixy', 'xy'), lpad('7', 3, '0'), rpad('ab', 5, '*'), lpad('hello', 3), repeat('ab', 3);
SELECT replace('a-b-c', '-', '+'), reverse('abc'), left('abcdef', 2), right('abcdef', 2), left('abc', -1);
SELECT split_part('a,b,c', ',', 2), split_part('a,b,c', ',', 5), translate('12345', '143', 'ax');
SELECT ascii('A'), chr(66), md5('abc'), to_hex(255), starts_with('alphabet', 'alp');
SELECT overlay('Txxxxas' PLACING 'hom' FROM 2 FOR 4), quote_ident('a b'), quote_literal('it''s');
SELECT format('%s has %s items', 'cart', 3), format('%I.%L', 'my col', 'v');
SELECT 'abc' LIKE 'a%', 'abc' LIKE '_b_', 'abc' LIKE 'A%', 'abc' ILIKE 'A%', 'abc' NOT LIKE '%z%';
SELECT 'a%c' LIKE 'a\%c', 'abc' LIKE 'a\%c', 'a_c' LIKE 'a!_c' ESCAPE '!';
SELECT id, t FROM txt_t WHERE t LIKE '%o%' ORDER BY id;
SELECT id, t FROM txt_t WHERE t ILIKE 'h%' OR t ILIKE 'W%' ORDER BY id;
SELECT id FROM txt_t WHERE t NOT ILIKE '%L%' ORDER BY id;
SELECT 'abc' ~~ 'a%', 'ABC' ~~* 'a%', 'abc' !~~ 'b%';
SELECT 'abc' < 'abd', 'Z' < 'a', 'abc' = 'abc ', 'ab'::char(4) = 'ab  '::char(4);
SELECT t FROM txt_t WHERE t IS NOT NULL ORDER BY t;
SELECT t FROM txt_t ORDER BY t DESC NULLS LAST;
SELECT string_agg(t, ',' ORDER BY id) FROM txt_t;
SELECT '\x48656c6c6f'::bytea, 'abc'::bytea, length('\x0001ff'::bytea), octet_length('abc'::bytea);
CREATE TABLE txt_bin (id int, b bytea);
INSERT INTO txt_bin VALUES (1, '\xdeadbeef'), (2, 'plain'), (3, '\x');
SELECT id, b, length(b) FROM txt_bin ORDER BY id;
SELECT encode('\x00ff10'::bytea, 'hex'), decode('cafe', 'hex'), encode('hi'::bytea, 'base64');
SELECT 'E''x''' AS quoted, E'tab\there', E'new\\nline', 'single''quote';
SELECT 'abc'::text::varchar(2), 12345::text, true::text, 'x'::char, NULL::text IS NULL;
SELECT regexp_replace('a1b22c', '[0-9]+', '#', 'g'), 'abc' ~ '^a', 'ABC' ~* '^a', 'abc' !~ 'z';
-- An unknown-typed literal is coerced to int, so this is a bad-input error.
-- error: 22P02
SELECT 'abc' + 1;
-- error: 22P02
SELECT 'abc'::bytea::text::int;
