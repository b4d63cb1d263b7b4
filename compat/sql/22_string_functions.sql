-- String functions as applications use them: normalising user input,
-- building display strings, searching, parsing codes and e-mail addresses,
-- padding and formatting, regular expressions, and NULL propagation.
CREATE TABLE sf_user (id int PRIMARY KEY, email text, first_name text, last_name text, phone varchar(20), bio text, code char(6));
INSERT INTO sf_user VALUES
  (1, 'Ann.Smith@Example.COM', 'ann', 'smith', '+47 912 34 567', 'Likes  SQL and Rust.', 'AB12'),
  (2, 'bob@mail.example.org', 'Bob', 'O''Brien', '(555) 123-4567', NULL, 'CD345'),
  (3, '  cy@x.io ', 'CY', 'lee-park', NULL, '', 'E6'),
  (4, 'di@example.com', 'Di', NULL, '555.987.6543', 'Café owner; ☕ lover', NULL),
  (5, NULL, NULL, 'Nobody', '', 'multi
line', 'ZZZZZZ');
-- Normalising input.
SELECT id, lower(trim(email)) FROM sf_user ORDER BY id;
SELECT id, initcap(first_name) || ' ' || initcap(last_name) FROM sf_user ORDER BY id;
SELECT id, concat_ws(' ', initcap(first_name), initcap(last_name)) AS full_name FROM sf_user ORDER BY id;
SELECT id, concat(first_name, ' ', last_name) FROM sf_user ORDER BY id;
SELECT id, coalesce(first_name, '') || coalesce(' ' || last_name, '') FROM sf_user ORDER BY id;
SELECT id, upper(left(first_name, 1)) || lower(substr(first_name, 2)) FROM sf_user ORDER BY id;
SELECT id, regexp_replace(phone, '[^0-9+]', '', 'g') AS digits FROM sf_user ORDER BY id;
SELECT id, nullif(trim(bio), '') IS NULL AS no_bio FROM sf_user ORDER BY id;
SELECT id, length(code), octet_length(code), code || '|' FROM sf_user ORDER BY id;
-- E-mail parsing.
SELECT id, split_part(lower(trim(email)), '@', 1) AS local, split_part(lower(trim(email)), '@', 2) AS domain FROM sf_user ORDER BY id;
SELECT id, substring(email FROM position('@' IN email) + 1) FROM sf_user WHERE email IS NOT NULL ORDER BY id;
SELECT id, strpos(email, '@') FROM sf_user ORDER BY id;
SELECT split_part(lower(trim(email)), '@', 2) AS domain, count(*) FROM sf_user WHERE email IS NOT NULL GROUP BY 1 ORDER BY 1;
SELECT id FROM sf_user WHERE email ILIKE '%@example.com' ORDER BY id;
SELECT id FROM sf_user WHERE lower(email) LIKE '%example%' ORDER BY id;
SELECT id, email ~ '^[^@\s]+@[^@\s]+\.[a-z]+$' AS valid FROM sf_user ORDER BY id;
SELECT id, email ~* '^[a-z.]+@example\.(com|org)$' FROM sf_user ORDER BY id;
SELECT id, regexp_replace(lower(trim(email)), '^(.).*@', '\1***@') AS masked FROM sf_user WHERE email IS NOT NULL ORDER BY id;
-- Searching.
SELECT id FROM sf_user WHERE bio LIKE '%SQL%' ORDER BY id;
SELECT id FROM sf_user WHERE bio ILIKE '%sql%' OR first_name ILIKE 'b%' ORDER BY id;
SELECT id FROM sf_user WHERE last_name LIKE '%''%';
SELECT id FROM sf_user WHERE last_name LIKE '%-%' ORDER BY id;
SELECT id FROM sf_user WHERE position('a' IN lower(coalesce(first_name, ''))) > 0 ORDER BY id;
SELECT id FROM sf_user WHERE starts_with(lower(email), 'b') ORDER BY id;
SELECT id FROM sf_user WHERE bio SIMILAR TO '%(SQL|Rust)%' ORDER BY id;
SELECT id FROM sf_user WHERE first_name ~ '^[A-Z][a-z]+$' ORDER BY id;
SELECT id FROM sf_user WHERE phone ~ '^\(\d{3}\)' ORDER BY id;
SELECT id FROM sf_user WHERE bio !~ 'o' ORDER BY id;
-- Padding, truncation and formatting for display.
SELECT id, lpad(id::text, 5, '0'), rpad(coalesce(first_name, '?'), 6, '.') || '|' FROM sf_user ORDER BY id;
SELECT id, left(coalesce(bio, ''), 8) || CASE WHEN length(bio) > 8 THEN '...' ELSE '' END FROM sf_user ORDER BY id;
SELECT id, format('%s <%s>', first_name, lower(email)) FROM sf_user ORDER BY id;
SELECT format('%-6s|%6s|', 'ab', 'cd'), format('%s%%', 42), format('%2$s %1$s', 'a', 'b');
SELECT format('INSERT INTO %I VALUES (%L, %L)', 'My Table', 'it''s', NULL);
SELECT format('%s', NULL), format('[%s]', ''), format('%L', 42), format('%I', 'lower');
SELECT to_char(1234.5, '99999.00'), to_char(42, '000'), to_char(-3.14159, '9.99'), to_char(1234567.891, '9,999,999.99');
SELECT to_char(0.5, '0.9'), to_char(7, 'FM999'), to_char(12, 'FM00'), to_char(1500, 'FM9,999');
SELECT repeat('-', 10), repeat('ab', 0), repeat('x', -1);
SELECT lpad('abc', 2), rpad('abc', 2), lpad('', 3, 'z'), lpad('a', 4, ''), rpad('a', 5, 'xy');
-- Substrings and positions.
SELECT substring('2024-03-15' FROM 1 FOR 4), substring('2024-03-15' FROM 6 FOR 2), substring('abc' FROM 10), substring('abc' FROM -1 FOR 3);
SELECT substring('order #12345 shipped' FROM '[0-9]+'), substring('no digits' FROM '[0-9]+'), substring('key=value' FROM '=(.*)$');
SELECT left('hello', 0), left('hello', 10), right('hello', -2), right('hello', 0), left('', 3);
SELECT position('' IN 'abc'), strpos('abc', ''), position('c' IN 'abcabc'), strpos('ééa', 'a');
SELECT split_part('a.b.c', '.', 1), split_part('a.b.c', '.', 3), split_part('a..c', '.', 2), split_part('abc', '', 1);
SELECT split_part('2024-03-15', '-', 2)::int + 1, split_part('x', ',', 2) = '';
SELECT overlay('1234567890' PLACING '****' FROM 1 FOR 6), overlay('abc' PLACING 'XY' FROM 2), overlay('abc' PLACING '' FROM 2 FOR 1);
SELECT reverse('stressed'), reverse(''), reverse('añb');
-- Trimming variants.
SELECT '[' || trim('  x  ') || ']', '[' || ltrim('  x  ') || ']', '[' || rtrim('  x  ') || ']';
SELECT trim(BOTH '*' FROM '**a*b**'), trim(LEADING 'ab' FROM 'abbaXab'), trim(TRAILING '.' FROM 'end...'), trim(TRAILING FROM '  t  ') || '|';
SELECT btrim('  a  '), btrim('xxaxx', 'x'), ltrim('0042', '0'), rtrim('1.500', '0'), rtrim(ltrim('--a--', '-'), '-');
-- Replacing and translating.
SELECT replace('a b  c', ' ', ''), replace('aaa', 'a', 'bb'), replace('abc', '', 'x'), replace('abc', 'b', '');
SELECT translate('hello world', 'lo', '01'), translate('abc', 'abc', ''), translate('2024/03/15', '/', '-');
SELECT regexp_replace('hello world', 'o', '0'), regexp_replace('hello world', 'o', '0', 'g'), regexp_replace('ABC abc', 'b', 'x', 'gi');
SELECT regexp_replace('John Smith', '(\w+) (\w+)', '\2, \1'), regexp_replace('a.b.c', '\.', '/', 'g');
SELECT regexp_replace('  many   spaces  here ', '\s+', ' ', 'g'), regexp_replace('x', 'y', 'z');
SELECT lower(regexp_replace(trim('  Hello, World! 2024  '), '[^a-zA-Z0-9]+', '-', 'g')) AS slug;
-- Regular expression matching functions.
SELECT regexp_match('order 42 of 99', '(\d+) of (\d+)'), regexp_match('none', '\d+'), (regexp_match('v1.2.3', 'v(\d+)\.(\d+)'))[2];
SELECT regexp_matches('a1b2c3', '[0-9]', 'g') ORDER BY 1;
SELECT 'abc' ~ 'b', 'abc' ~ '^b', 'ABC' ~* 'b', 'abc' !~* 'B', 'a.c' ~ '^a\.c$', 'abc' ~ 'a.c';
SELECT 'foo@bar' SIMILAR TO '%@%', 'abc' SIMILAR TO 'a_c', 'abc' SIMILAR TO '(a|b)+c', 'abc' NOT SIMILAR TO 'b%';
-- String <-> array.
SELECT string_to_array('a,b,,c', ','), string_to_array('a b c', ' '), string_to_array('', ','), string_to_array('abc', NULL);
SELECT array_to_string(ARRAY['x', NULL, 'z'], '-'), array_to_string(ARRAY['x', NULL, 'z'], '-', '?'), array_to_string(ARRAY[1, 2, 3], ', ');
SELECT cardinality(string_to_array('one two three', ' ')), (string_to_array('k1=v1;k2=v2', ';'))[2];
SELECT array_length(string_to_array('a|b|c|d', '|'), 1);
-- Character codes, hashes and encodings.
SELECT ascii('a'), ascii(''), ascii('é'), chr(97), chr(233), chr(9731);
SELECT md5(''), md5('The quick brown fox'), length(md5('x')), upper(md5('abc')) = upper('900150983cd24fb0d6963f7d28e17f72');
SELECT encode(sha256('abc'::bytea), 'hex');
SELECT encode('hello'::bytea, 'base64'), convert_from(decode('aGVsbG8=', 'base64'), 'UTF8'), encode('a\000b'::bytea, 'escape');
SELECT to_hex(0), to_hex(4095), to_hex(-1), to_hex(2147483647::bigint * 2);
-- Lengths with multi-byte characters.
SELECT length('naïve café'), octet_length('naïve café'), char_length('☕'), octet_length('☕'), bit_length('☕');
SELECT upper('straße café'), lower('ÀÉÎ'), initcap('élan vital');
SELECT length(bio), octet_length(bio) FROM sf_user WHERE id = 4;
-- quote_* helpers.
SELECT quote_ident('users'), quote_ident('User'), quote_ident('select'), quote_ident('a"b'), quote_literal('O''Brien'), quote_literal(42), quote_nullable(NULL), quote_nullable('x');
-- NULL propagation.
SELECT upper(NULL), length(NULL::text), substr(NULL, 1), replace('a', NULL, 'b'), lpad(NULL, 3, 'x'), split_part(NULL, ',', 1), 'a' || NULL || 'b';
SELECT concat(NULL), concat_ws(',', NULL, NULL), concat_ws(NULL, 'a', 'b'), coalesce(NULL, '') || 'x';
SELECT id, last_name, length(last_name) FROM sf_user WHERE length(last_name) > 5 ORDER BY id;
-- Comparisons and sorting of text (C collation).
SELECT first_name FROM sf_user ORDER BY first_name NULLS LAST;
SELECT first_name FROM sf_user ORDER BY lower(first_name) NULLS FIRST, first_name;
SELECT 'a' < 'B', 'a' < 'b', 'abc' < 'abcd', '' < 'a', 'Z' > 'A', '10' < '9';
SELECT greatest('apple', 'Banana', 'cherry'), least('apple', 'Banana', 'cherry'), max(first_name), min(first_name) FROM sf_user;
-- Casting text.
SELECT '42'::int + 1, ' 7 '::int, '3.5'::numeric * 2, 'TRUE'::boolean, 'no'::boolean, '2024-03-15'::date + 1;
SELECT 42::text || '!', 3.50::text, (1.0 / 3)::text, true::text, 'x'::char(3) || 'y', 'abc'::varchar(2);
SELECT id::text || ':' || coalesce(code, '') FROM sf_user ORDER BY id;
-- Errors.
-- error: 22P02
SELECT 'abc'::int;
-- error: 22P02
SELECT ' 12x'::int;
-- error: 22P02
SELECT 'maybe'::boolean;
-- error: 54000
SELECT repeat('x', 3) || chr(0);
-- error: 22023
SELECT split_part('a,b', ',', 0);
-- error: 22023
SELECT format('%s %s', 'only one');
-- error: 2201B
SELECT regexp_replace('abc', '(', 'x');
-- error: 42883
SELECT upper(42);
-- error: 42883
SELECT length(1, 2);
-- error: 42883
SELECT lpad(5, 3, '0');
-- error: 22001
INSERT INTO sf_user (id, phone) VALUES (9, '+47 123 45 678 999 000 111');
-- error: 22021
SELECT convert_from('\xff'::bytea, 'UTF8');
