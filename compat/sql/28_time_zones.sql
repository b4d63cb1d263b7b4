-- Session time zones: SET TimeZone, timestamptz input/output, DST edges,
-- casts, extract, date_trunc, AT TIME ZONE, arithmetic, to_char, JSON.
CREATE TABLE tz_events (id int PRIMARY KEY, at timestamptz, local_ts timestamp, d date);
INSERT INTO tz_events VALUES
  (1, '2024-01-15 12:00:00+00', '2024-01-15 12:00', '2024-01-15'),
  (2, '2024-07-01 23:30:00+00', '2024-07-01 23:30', '2024-07-01'),
  (3, '2024-03-10 06:59:59+00', '2024-03-10 01:59:59', '2024-03-10'),
  (4, '2024-03-10 07:00:00+00', '2024-03-10 03:00:00', '2024-03-10'),
  (5, '2024-11-03 05:30:00+00', '2024-11-03 01:30', '2024-11-03'),
  (6, '2024-11-03 06:30:00+00', '2024-11-03 01:30', '2024-11-03'),
  (7, NULL, NULL, NULL);
SET TimeZone = 'America/New_York';
SHOW TimeZone;
SELECT id, at FROM tz_events ORDER BY id;
SELECT id, at::date, at::timestamp, at::time FROM tz_events ORDER BY id;
SELECT id, extract(hour FROM at), extract(day FROM at), extract(timezone FROM at), extract(timezone_hour FROM at), extract(epoch FROM at) FROM tz_events ORDER BY id;
SELECT id, date_trunc('day', at), date_trunc('month', at), date_trunc('hour', at) FROM tz_events ORDER BY id;
SELECT timestamptz '2024-11-03 01:30', timestamptz '2024-03-10 02:30', timestamptz '2024-07-01 12:00';
SELECT timestamptz '2024-03-09 12:00' + interval '1 day', timestamptz '2024-03-09 12:00' + interval '24 hours', timestamptz '2024-11-02 12:00' + interval '1 day';
SELECT timestamptz '2024-01-31 12:00' + interval '1 month', timestamptz '2024-03-10 12:00' - interval '1 day';
SELECT timestamptz '2024-03-11 00:00' - timestamptz '2024-03-10 00:00';
SELECT timestamp '2024-07-01 12:00'::timestamptz, date '2024-07-01'::timestamptz, '2024-07-01 12:00'::timestamptz;
SELECT id FROM tz_events WHERE at < date '2024-03-10' ORDER BY id;
SELECT id FROM tz_events WHERE at >= timestamp '2024-11-03 01:00' ORDER BY id;
SELECT at::date AS day, count(*) FROM tz_events WHERE at IS NOT NULL GROUP BY at::date ORDER BY day;
SELECT to_char(timestamptz '2024-07-01 12:00', 'YYYY-MM-DD HH24:MI:SS TZ OF'), to_char(timestamptz '2024-01-01 12:00', 'HH12:MI am tz');
SELECT to_char(timestamp '2024-07-01 12:00', 'YYYY-MM-DD HH24:MI TZ|OF|');
SELECT timestamptz '2024-07-01 12:00 Europe/Paris', timestamptz '2024-07-01 12:00 PST', timestamptz '2024-07-01 12:00+09';
SELECT timestamp '2024-01-01 12:00' AT TIME ZONE 'Asia/Tokyo', timestamptz '2024-01-01 12:00+00' AT TIME ZONE 'Asia/Tokyo';
SELECT timestamp '2024-01-01 12:00' AT TIME ZONE 'UTC', timestamptz '2024-07-01 12:00+00' AT TIME ZONE 'Europe/London';
SELECT timezone('America/Los_Angeles', timestamptz '2024-07-01 12:00+00'), timezone('America/Los_Angeles', timestamp '2024-07-01 12:00');
-- error: 22023
SELECT now() AT TIME ZONE 'nowhere';
SELECT make_timestamptz(2024, 7, 1, 12, 0, 0), make_timestamptz(2024, 7, 1, 12, 0, 0, 'Asia/Tokyo'), make_timestamptz(2024, 1, 1, 0, 0, 0, 'UTC');
SELECT to_json(timestamptz '2024-07-01 12:00'), to_jsonb(timestamptz '2024-01-01 12:00:00.5');
SELECT g FROM generate_series(timestamptz '2024-03-09 00:00', timestamptz '2024-03-12 00:00', interval '1 day') g ORDER BY g;
SELECT date_trunc('day', timestamptz '2024-07-01 23:30+00', 'Asia/Tokyo'), date_trunc('day', timestamptz '2024-07-01 23:30+00', 'UTC');
SELECT age(timestamptz '2024-07-01', timestamptz '2024-01-01'), timestamptz '2024-07-01' > timestamp '2024-07-01 03:00';
SET TimeZone = 'Asia/Kolkata';
SHOW TimeZone;
SELECT id, at, at::date FROM tz_events ORDER BY id;
SELECT timestamptz '1900-01-01 12:00+00', timestamptz '2024-07-01 12:00+00';
SET TIME ZONE 'europe/berlin';
SHOW TimeZone;
SELECT timestamptz '2024-03-31 01:30+00', timestamptz '2024-03-31 02:30', timestamptz '2024-10-27 02:30';
SET TIME ZONE -7;
SHOW TimeZone;
SELECT timestamptz '2024-07-01 12:00+00', extract(timezone FROM timestamptz '2024-07-01 12:00+00');
SET TimeZone = '+5.5';
SHOW TimeZone;
SELECT timestamptz '2024-07-01 12:00+00';
SET TimeZone = 'UTC+3';
SHOW TimeZone;
SELECT timestamptz '2024-07-01 12:00+00';
SET TimeZone = 'EST5EDT';
SELECT timestamptz '2024-07-01 12:00+00', timestamptz '2024-01-01 12:00+00';
-- error: 22023
SET TimeZone = 'nonsense';
SHOW TimeZone;
BEGIN;
SET LOCAL TimeZone = 'Australia/Sydney';
SELECT timestamptz '2024-07-01 12:00+00';
ROLLBACK;
SELECT timestamptz '2024-07-01 12:00+00';
SELECT set_config('TimeZone', 'Pacific/Auckland', false);
SELECT timestamptz '2024-07-01 12:00+00', current_setting('TimeZone');
SET TimeZone = 'UTC';
SELECT id, at FROM tz_events ORDER BY id;
SELECT timestamptz '2024-07-01 12:00 America/New_York';
DROP TABLE tz_events;
