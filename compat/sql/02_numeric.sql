-- Integer, numeric and floating point types, arithmetic and math functions.
CREATE TABLE num_t (i2 smallint, i4 integer, i8 bigint, n numeric(10,3), r real, d double precision);
INSERT INTO num_t VALUES (1, 10, 100, 1.5, 1.5, 2.25), (-2, -20, -200, -2.125, 0.5, 0.125), (NULL, NULL, NULL, NULL, NULL, NULL);
SELECT i2, i4, i8, n, r, d FROM num_t ORDER BY i4 NULLS LAST;
SELECT i2 + i2, i4 * 3, i8 - 1, n * 2, d / 2 FROM num_t ORDER BY i4;
SELECT 7 / 2, -7 / 2, 7 % 3, -7 % 3, 7.0 / 2;
SELECT 2 ^ 10, 2.0 ^ 0.5 > 1.41, |/ 16.0, @ -5;
SELECT abs(-3), abs(-3.5), ceil(4.2), ceiling(-4.2), floor(4.8), floor(-4.8);
SELECT round(2.5), round(-2.5), round(3.14159, 2), round(1234.5, -2), trunc(3.789, 1), trunc(-3.7);
SELECT mod(17, 5), mod(-17, 5), power(2, 8), sqrt(144), sign(-8), sign(0.0);
SELECT 10::numeric / 4, 1::numeric / 3, 2::numeric(5,2), 123.456::numeric(6,1);
SELECT 0.1 + 0.2, 0.1::float8 + 0.2::float8 = 0.3::float8, 1e3::int, 1.5e2;
SELECT 32767::smallint, (-32768)::smallint, 2147483647::int, 9223372036854775807::bigint;
-- error: 22003
SELECT 32768::smallint;
-- error: 22003
SELECT 2147483647 + 1;
-- error: 22003
SELECT 9223372036854775807 + 1;
-- error: 22003
SELECT (-2147483648)::int * -1;
-- error: 22012
SELECT 1 / 0;
-- error: 22012
SELECT 1.0 / 0;
-- error: 22012
SELECT 5 % 0;
-- error: 22003
INSERT INTO num_t (i2) VALUES (40000);
-- error: 22003
INSERT INTO num_t (n) VALUES (12345678.9);
INSERT INTO num_t (n) VALUES (1234567.8915);
SELECT n FROM num_t WHERE n > 1000;
SELECT 1.5::int, 2.5::int, -1.5::int, 3.7::bigint, '42'::int, ' 17 '::int;
-- error: 22P02
SELECT 'abc'::int;
-- error: 22P02
SELECT '1.5'::int;
-- error: 22P02
SELECT ''::numeric;
SELECT '3.14'::numeric, '-0.5'::float8, '1e-2'::float8, 'NaN'::float8, 'Infinity'::float8;
SELECT 100::int2 + 100::int8, pg_typeof(1::int2 + 1::int4), pg_typeof(1 + 1.5), pg_typeof(1::int8 * 2);
SELECT 5::float8 / 2, 1::float4 / 3 < 0.34, 3 * 1.1;
SELECT greatest(1, 5, 3), least(4, 2, 8), greatest(1.5, 2), least(NULL, 3, 1);
SELECT 17 & 5, 17 | 5, 17 # 5, ~5, 1 << 4, 256 >> 2;
SELECT -i4, +i4 FROM num_t WHERE i4 IS NOT NULL ORDER BY i4;
SELECT i4 FROM num_t WHERE i4 BETWEEN -25 AND 15 ORDER BY i4;
SELECT i4 FROM num_t WHERE i4 NOT BETWEEN 0 AND 5 ORDER BY i4;
SELECT i4 FROM num_t WHERE i4 IN (10, 30, NULL) ORDER BY i4;
SELECT exp(0), ln(1), log(100), log(2, 8);
SELECT 12345678901234567890::numeric * 10, 0.000001::numeric * 1000;
SELECT CAST(7 AS numeric(5,2)), CAST('12' AS bigint), CAST(3.99 AS integer), CAST(1 AS double precision);
SELECT div(17, 5), div(-17, 5), gcd(12, 18), lcm(4, 6), factorial(5);
SELECT 1 = 1.0, 2 > 1.5, 3::int2 = 3::int8, 0.1::float4 = 0.1::float8;
SELECT sum(i4), sum(i8), sum(n), avg(i4), avg(n), min(d), max(r) FROM num_t;
SELECT width_bucket(5, 0, 10, 5), scale(12.345), trim_scale(1.2300);
