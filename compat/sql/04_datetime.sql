-- date / time / timestamp / timestamptz / interval, date/time functions.
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, MDY';
CREATE TABLE dt_t (id int PRIMARY KEY, d date, t time, ts timestamp, tz timestamptz, iv interval);
INSERT INTO dt_t VALUES
  (1, '2024-02-29', '13:45:00', '2024-02-29 13:45:00', '2024-02-29 13:45:00+00', '1 day 2 hours'),
  (2, '1999-12-31', '23:59:59.5', '1999-12-31 23:59:59.5', '1999-12-31 23:59:59+02', '-3 days'),
  (3, '2000-01-01', '00:00', '2000-01-01', '2000-01-01 12:00:00-05', '1 year 2 mons 3 days 04:05:06'),
  (4, NULL, NULL, NULL, NULL, NULL);
SELECT id, d, t, ts, tz, iv FROM dt_t ORDER BY id;
SELECT id FROM dt_t WHERE d > '2000-01-01' ORDER BY id;
SELECT id, d + 1, d - 1, d + interval '1 month', ts + iv FROM dt_t WHERE id < 4 ORDER BY id;
SELECT date '2024-03-01' - date '2024-02-01', date '2024-01-31' + 30;
SELECT timestamp '2024-01-01 10:00' - timestamp '2023-12-31 08:30';
SELECT interval '1 hour' * 3, interval '90 minutes', interval '1 day' / 2, interval '36 hours';
SELECT interval '2 days' + interval '3 hours', -interval '1 week', interval '1 year' > interval '360 days';
SELECT extract(year FROM d), extract(month FROM d), extract(day FROM d), extract(dow FROM d) FROM dt_t WHERE id = 1;
SELECT extract(hour FROM ts), extract(minute FROM ts), extract(epoch FROM ts) FROM dt_t WHERE id = 1;
SELECT date_part('year', date '2010-06-15'), date_part('doy', date '2010-06-15'), extract(quarter FROM date '2010-06-15');
SELECT date_trunc('month', timestamp '2024-05-17 10:11:12'), date_trunc('hour', timestamp '2024-05-17 10:11:12'), date_trunc('year', date '2024-05-17');
SELECT make_date(2023, 7, 4), make_time(8, 15, 30), make_timestamp(2023, 7, 4, 8, 15, 30);
SELECT to_char(timestamp '2024-01-05 14:03:09', 'YYYY-MM-DD HH24:MI:SS'), to_char(date '2024-01-05', 'DD Mon YYYY');
SELECT to_date('05-01-2024', 'DD-MM-YYYY'), to_timestamp('2024-01-05 10:00', 'YYYY-MM-DD HH24:MI');
SELECT age(timestamp '2024-03-15', timestamp '2023-01-10'), justify_hours(interval '50 hours'), justify_days(interval '45 days');
SELECT timestamptz '2024-06-01 12:00:00+02', timestamptz '2024-06-01 12:00:00+02' AT TIME ZONE 'UTC';
SET TimeZone = 'America/New_York';
SELECT tz FROM dt_t WHERE id = 1;
SELECT timestamp '2024-01-15 12:00' AT TIME ZONE 'UTC';
RESET TimeZone;
SET TimeZone = 'UTC';
-- error: 22008
SELECT '2024-02-30'::date;
-- error: 22007
SELECT 'not a date'::date;
-- error: 22008
SELECT '25:00:00'::time;
-- error: 22007
SELECT 'soon'::interval;
SELECT '2024-01-01'::date::timestamp, '2024-01-01 10:30'::timestamp::date, '2024-01-01 10:30'::timestamp::time;
SELECT 'epoch'::timestamp, 'infinity'::date > '2999-01-01', '-infinity'::timestamp < '1900-01-01';
SELECT now() IS NOT NULL, current_date IS NOT NULL, current_timestamp >= timestamptz '2020-01-01', localtimestamp IS NOT NULL;
SELECT now() = current_timestamp, pg_typeof(now()), pg_typeof(current_date);
SELECT d, count(*) FROM dt_t GROUP BY d ORDER BY d NULLS FIRST;
SELECT min(ts), max(ts), min(iv), max(iv) FROM dt_t;
SELECT id FROM dt_t WHERE ts BETWEEN '2000-01-01' AND '2024-12-31' ORDER BY id;
SELECT date '2024-01-01' + time '10:00', (date '2024-01-01' + 7)::text;
SELECT interval '1 day 2 hours 3 minutes 4.5 seconds', interval 'P1Y2M', interval '-1 days +2 hours';
SELECT time '10:00' + interval '3 hours', time '23:00' + interval '2 hours', time '12:00' - time '10:30';
SELECT isfinite(date '2024-01-01'), date '2024-01-01' < timestamp '2024-01-01 00:00:01';
SELECT (timestamp '2024-01-01 00:00' + interval '1 month' * 13)::date;
SELECT EXTRACT(epoch FROM interval '1 day 1 hour'), to_timestamp(0) AT TIME ZONE 'UTC';
