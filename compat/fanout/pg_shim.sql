-- Lets a plain PostgreSQL 15 stand in for a RustyDB node in fan-out tests
-- of the proxy: the node contract's functions, without real snapshots
-- (data must not change while such a test compares answers).
CREATE OR REPLACE FUNCTION rustydb_snapshot_range(OUT oldest_lsn bigint, OUT newest_lsn bigint)
LANGUAGE sql AS $$ SELECT 1::bigint, 1000000::bigint $$;

CREATE OR REPLACE FUNCTION rustydb_split_points(tbl text, n int)
RETURNS TABLE (bound text) LANGUAGE plpgsql AS $$
DECLARE col text;
BEGIN
    SELECT a.attname INTO col
    FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
    WHERE i.indrelid = tbl::regclass AND i.indisprimary;
    IF col IS NULL OR n < 2 THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT b::text FROM (SELECT DISTINCT percentile_disc(rdb_g.i::float8 / %s) WITHIN GROUP (ORDER BY %I) AS b
           FROM %I CROSS JOIN generate_series(1, %s - 1) AS rdb_g(i) GROUP BY rdb_g.i) x
         WHERE b IS NOT NULL ORDER BY b', n, col, tbl, n);
END $$;
