-- Date and time functions as applications use them: reporting buckets,
-- due dates, ages and durations, formatting for display, parsing input,
-- interval arithmetic across month ends, and timestamptz in UTC.
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, MDY';
CREATE TABLE df_event (id int PRIMARY KEY, name text, starts timestamp, ends timestamp, due date, created timestamptz, duration interval);
INSERT INTO df_event VALUES
  (1, 'kickoff', '2024-01-08 09:00', '2024-01-08 10:30', '2024-01-31', '2024-01-01 08:00:00+00', '90 minutes'),
  (2, 'review', '2024-02-28 15:00', '2024-02-29 11:15', '2024-02-29', '2024-02-10 23:30:00+00', '20 hours 15 minutes'),
  (3, 'launch', '2024-03-31 23:59:59', '2024-04-01 00:00:01', '2024-03-31', '2024-03-01 12:00:00+00', '2 seconds'),
  (4, 'retro', '2023-12-29 16:00', '2024-01-02 09:00', '2023-12-31', '2023-12-01 00:00:00+00', '3 days 17 hours'),
  (5, 'someday', NULL, NULL, NULL, '2024-05-05 05:05:05.5+00', NULL);
-- Durations.
SELECT id, ends - starts AS took FROM df_event ORDER BY id;
SELECT id, extract(epoch FROM ends - starts) AS secs FROM df_event ORDER BY id;
SELECT id, (ends - starts) > interval '1 hour' AS long FROM df_event ORDER BY id;
SELECT id, ends - starts = duration FROM df_event ORDER BY id;
SELECT sum(duration), avg(duration), max(duration), min(duration) FROM df_event;
SELECT id, due - starts::date AS days_left FROM df_event ORDER BY id;
SELECT id, justify_hours(ends - starts) FROM df_event ORDER BY id;
-- Bucketing for reports.
SELECT date_trunc('month', starts) AS m, count(*) FROM df_event GROUP BY 1 ORDER BY 1 NULLS LAST;
SELECT date_trunc('week', starts), name FROM df_event WHERE starts IS NOT NULL ORDER BY starts;
SELECT date_trunc('day', starts), date_trunc('minute', ends), date_trunc('quarter', starts) FROM df_event WHERE id = 2;
SELECT date_trunc('second', timestamp '2024-05-05 05:05:05.789'), date_trunc('milliseconds', timestamp '2024-05-05 05:05:05.789123');
SELECT date_trunc('decade', timestamp '2024-05-05'), date_trunc('century', timestamp '2024-05-05'), date_trunc('millennium', timestamp '2024-05-05');
SELECT extract(year FROM starts) AS y, extract(quarter FROM starts) AS q, count(*) FROM df_event WHERE starts IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2;
SELECT extract(isodow FROM d), extract(dow FROM d), extract(week FROM d), extract(doy FROM d) FROM (VALUES (date '2024-01-01'), (date '2024-12-31'), (date '2023-01-01')) v(d) ORDER BY d;
SELECT extract(isoyear FROM date '2024-12-30'), extract(isoyear FROM date '2021-01-01'), extract(week FROM date '2021-01-01');
SELECT extract(century FROM date '2000-12-31'), extract(millennium FROM date '2001-01-01'), extract(decade FROM date '1999-06-01');
SELECT extract(second FROM timestamp '2024-01-01 10:20:30.25'), extract(milliseconds FROM time '00:00:01.5'), extract(microseconds FROM time '00:00:01.5');
SELECT extract(epoch FROM timestamptz '2024-01-01 00:00:00+00'), extract(epoch FROM date '1970-01-02'), extract(epoch FROM interval '1 month');
SELECT extract(day FROM interval '40 days 3 hours'), extract(hour FROM interval '40 days 3 hours'), extract(month FROM interval '14 months'), extract(year FROM interval '14 months');
SELECT date_part('hour', timestamp '2024-01-01 17:45'), date_part('minute', time '17:45'), date_part('day', date '2024-02-29'), date_part('epoch', interval '2 hours');
SELECT to_char(starts, 'Day'), to_char(starts, 'Dy DD Mon'), to_char(starts, 'FMDay, FMDD FMMonth YYYY') FROM df_event WHERE id = 1;
-- Display formatting.
SELECT id, to_char(starts, 'YYYY-MM-DD"T"HH24:MI:SS') FROM df_event ORDER BY id;
SELECT to_char(timestamp '2024-07-04 15:07:09', 'HH12:MI AM'), to_char(timestamp '2024-07-04 03:07:09', 'HH12:MI PM'), to_char(timestamp '2024-07-04 00:00:00', 'HH12 am');
SELECT to_char(date '2024-07-04', 'DD/MM/YYYY'), to_char(date '2024-07-04', 'MM/DD/YY'), to_char(date '2024-07-04', 'YYYYMMDD'), to_char(date '2024-07-04', 'Q');
SELECT to_char(date '2024-07-04', 'Month'), to_char(date '2024-07-04', 'MONTH'), to_char(date '2024-07-04', 'mon'), to_char(date '2024-07-04', 'DAY');
SELECT to_char(date '2024-07-04', 'DDD'), to_char(date '2024-07-04', 'IW'), to_char(date '2024-07-04', 'WW'), to_char(date '2024-07-04', 'D');
SELECT to_char(timestamp '2024-07-04 15:07:09.123456', 'HH24:MI:SS.MS'), to_char(timestamp '2024-07-04 15:07:09.123456', 'SS.US');
SELECT to_char(date '2024-07-01', 'DDth'), to_char(date '2024-07-02', 'DDth'), to_char(date '2024-07-03', 'FMDDth'), to_char(date '2024-07-11', 'FMDDth');
SELECT to_char(interval '3 hours 25 minutes', 'HH24:MI'), to_char(timestamptz '2024-07-04 15:07:09+00', 'YYYY-MM-DD HH24:MI TZ');
SELECT to_char(NULL::date, 'YYYY'), to_char(date '2024-01-05', '');
-- Parsing input.
SELECT to_date('2024-07-04', 'YYYY-MM-DD'), to_date('04/07/2024', 'DD/MM/YYYY'), to_date('20240704', 'YYYYMMDD'), to_date('July 4, 2024', 'Month DD, YYYY');
SELECT to_timestamp('2024-07-04 15:07', 'YYYY-MM-DD HH24:MI'), to_timestamp('04.07.2024 03:07 PM', 'DD.MM.YYYY HH12:MI PM');
SELECT to_timestamp(1700000000), to_timestamp(0), to_timestamp(1700000000.5);
SELECT '2024-07-04'::date, '07/04/2024'::date, 'July 4 2024'::date, '2024-07-04 15:07'::timestamp, '20240704'::date;
SELECT 'today'::date = current_date, 'tomorrow'::date - 'yesterday'::date, 'epoch'::date;
SELECT '2024-07-04T15:07:09'::timestamp, '2024-07-04 15:07:09.5'::timestamp, '15:07'::time, '3:07 PM'::time;
SELECT '2024-07-04 15:07:09+02'::timestamptz, '2024-07-04 15:07:09-0530'::timestamptz, '2024-07-04 15:07:09Z'::timestamptz;
SELECT '1 day'::interval, '2 weeks'::interval, '1.5 hours'::interval, '1:30'::interval, '-1 month'::interval, '1 year -1 day'::interval;
SELECT '3 mons 2 days 01:00:00'::interval, 'P1DT2H'::interval, 'PT90M'::interval, '100 seconds'::interval;
-- Month-end and leap-year arithmetic.
SELECT date '2024-01-31' + interval '1 month', date '2024-03-31' - interval '1 month', date '2023-01-31' + interval '1 month';
SELECT timestamp '2024-02-29 12:00' + interval '1 year', timestamp '2024-02-29 12:00' - interval '4 years';
SELECT date '2024-12-31' + 1, date '2024-03-01' - 1, date '2023-03-01' - 1, date '2024-02-28' + 2;
SELECT date '2024-01-01' + interval '1 day 25 hours', timestamp '2024-01-01' + interval '0.5 days';
SELECT (date '2024-01-31' + interval '1 month')::date + interval '1 month';
SELECT interval '1 month' * 1.5, interval '1 day' * 0.5, interval '3 days' / 4, interval '1 hour' * -2;
SELECT interval '25 hours' = interval '1 day 1 hour', interval '30 days' = interval '1 month', interval '24 hours' < interval '1 day 1 second';
SELECT justify_days(interval '65 days'), justify_hours(interval '-30 hours'), justify_interval(interval '1 month -1 hour');
-- Ages.
SELECT age(date '2024-03-15', date '1990-07-20'), age(timestamp '2024-03-01', timestamp '2024-01-31'), age(timestamp '2024-01-01', timestamp '2024-01-01');
SELECT extract(year FROM age(date '2024-03-15', date '1990-07-20')) AS years_old;
SELECT age(timestamp '2020-02-29', timestamp '2021-03-01'), age(timestamp '2024-05-01 10:00', timestamp '2024-04-30 11:00');
-- Due-date logic.
SELECT id, CASE WHEN due < date '2024-02-15' THEN 'overdue' WHEN due < date '2024-03-15' THEN 'soon' ELSE 'later' END FROM df_event ORDER BY id;
SELECT id, name FROM df_event WHERE due BETWEEN date '2024-01-01' AND date '2024-02-29' ORDER BY id;
SELECT id FROM df_event WHERE starts >= date '2024-02-01' AND starts < date '2024-03-01' ORDER BY id;
SELECT id FROM df_event WHERE starts::date = date '2024-03-31';
SELECT id FROM df_event WHERE extract(month FROM due) = 2;
SELECT id FROM df_event WHERE created > timestamptz '2024-02-01 00:00+00' ORDER BY id;
SELECT id FROM df_event WHERE created < now() ORDER BY id;
SELECT id, due + 30 AS grace FROM df_event ORDER BY id;
SELECT count(*) FILTER (WHERE due < date '2024-02-01'), count(*) FILTER (WHERE due >= date '2024-02-01') FROM df_event;
-- Overlaps and ranges.
SELECT a.id, b.id FROM df_event a JOIN df_event b ON a.id < b.id AND (a.starts, a.ends) OVERLAPS (b.starts, b.ends) ORDER BY 1, 2;
SELECT (date '2024-01-01', date '2024-01-10') OVERLAPS (date '2024-01-10', date '2024-01-20'), (date '2024-01-01', interval '10 days') OVERLAPS (date '2024-01-05', date '2024-01-06');
-- Series of dates (calendar tables).
SELECT d::date, extract(dow FROM d) FROM generate_series(timestamp '2024-02-26', timestamp '2024-03-03', interval '1 day') d ORDER BY d;
SELECT count(*) FROM generate_series(timestamp '2024-01-01', timestamp '2024-12-31', interval '1 day') d WHERE extract(dow FROM d) IN (0, 6);
SELECT d::date FROM generate_series(date '2024-01-31', date '2024-06-30', interval '1 month') d ORDER BY d;
SELECT m::date, (m + interval '1 month' - interval '1 day')::date AS last_day FROM generate_series(date '2024-01-01', date '2024-04-01', interval '1 month') m ORDER BY m;
-- Constructors.
SELECT make_date(2024, 2, 29), make_time(23, 59, 59.5), make_timestamp(2024, 2, 29, 23, 59, 59.5), make_interval(days => 10), make_interval(1, 2, 3, 4, 5, 6, 7.5);
SELECT make_timestamptz(2024, 7, 4, 12, 0, 0), make_timestamptz(2024, 7, 4, 12, 0, 0, 'UTC');
-- Time-of-day.
SELECT time '08:30' + interval '90 minutes', time '23:30' + interval '1 hour', time '10:00' - interval '11 hours', time '17:00' - time '08:30';
SELECT time '12:00' > time '09:59:59.999', time '00:00' = time '24:00', '24:00'::time, time '10:00:00.123456';
SELECT starts::time, ends::time FROM df_event WHERE id = 3;
-- timestamptz in UTC.
SELECT created, created::date, created::timestamp, created + interval '1 day' FROM df_event ORDER BY id;
SELECT created AT TIME ZONE 'UTC', timestamp '2024-07-04 12:00' AT TIME ZONE 'UTC' FROM df_event WHERE id = 1;
SELECT date_trunc('day', created), extract(hour FROM created) FROM df_event ORDER BY id;
SELECT max(created) - min(created) FROM df_event;
SELECT timestamptz '2024-03-10 12:00+00' - timestamptz '2024-03-09 12:00+00', timestamptz '2024-07-04 00:00+05' = timestamptz '2024-07-03 19:00+00';
-- Special values.
SELECT 'infinity'::timestamp > now()::timestamp, '-infinity'::date < date '0001-01-01', isfinite('infinity'::timestamp), isfinite(interval '1 day');
SELECT date 'infinity' - 1, timestamp 'infinity' + interval '1 day', extract(year FROM date '0001-01-01');
SELECT date '4713-11-24 BC' IS NOT NULL, date '0044-03-15 BC', '2024-01-01 AD'::date;
-- Comparisons across types.
SELECT date '2024-01-01' = timestamp '2024-01-01 00:00', date '2024-01-01' < timestamp '2024-01-01 00:00:01', timestamp '2024-01-01' = timestamptz '2024-01-01 00:00+00';
SELECT greatest(date '2024-01-01', date '2023-12-31'), least(timestamp '2024-01-01', timestamp '2024-01-02'), greatest(interval '1 day', interval '23 hours');
-- Errors.
-- error: 22008
SELECT date '2023-02-29';
-- error: 22008
SELECT timestamp '2024-01-01 24:00:01';
-- error: 22008
SELECT '2024-13-01'::date;
-- error: 22007
SELECT to_date('2024-07-04', 'YYYY-MM-DD') + 'x'::interval;
-- error: 22008
SELECT make_date(2024, 2, 30);
-- error: 22023
SELECT date_trunc('fortnight', timestamp '2024-01-01');
-- error: 22023
SELECT extract(fortnight FROM date '2024-01-01');
-- error: 42883
SELECT date '2024-01-01' + date '2024-01-02';
-- error: 42725
SELECT age('2024-01-01');
-- error: 22008
SELECT timestamp '294277-01-01 00:00';
-- error: 22008
SELECT to_timestamp('2024-99-01', 'YYYY-MM-DD');
-- error: 42804
INSERT INTO df_event (id, due) VALUES (9, 5);
