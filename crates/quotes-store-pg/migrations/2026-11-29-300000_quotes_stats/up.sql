-- What the store holds, read at a constant cost: the number of quotes (a count(*) walks
-- the whole table) and a version that moves with every write (caches and ETags key on it).
-- Statement triggers keep the one row true, whoever writes: the app, `quotes dbshell`, a
-- bulk INSERT … SELECT. A writer holds the row's lock until it commits, so concurrent
-- writers to the quotes take turns there; readers never wait.
--
-- Expand-only: the previous release neither reads nor writes this table, and its writes
-- are counted by the triggers all the same.

CREATE TABLE quotes_stats (
    only_row   BOOLEAN     PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    n          BIGINT      NOT NULL CHECK (n >= 0),
    generation BIGINT      NOT NULL,
    -- Drawn once per database, so that two databases (a test's, a restored copy) that
    -- reach the same generation are not taken for one another by a shared cache.
    epoch      BIGINT      NOT NULL DEFAULT floor(random() * 9007199254740991)::bigint,
    changed_at TIMESTAMPTZ NULL
);

-- Under the lock this migration runs in, no write can slip between the count and the row.
LOCK TABLE quotes IN SHARE MODE;
INSERT INTO quotes_stats (n, generation, changed_at)
SELECT count(*), CASE WHEN count(*) > 0 THEN 1 ELSE 0 END,
       CASE WHEN count(*) > 0 THEN clock_timestamp() END
FROM quotes;

CREATE FUNCTION quotes_stats_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE quotes_stats
    SET n = n + rows.k, generation = generation + 1, changed_at = clock_timestamp()
    FROM (SELECT count(*) AS k FROM added) AS rows
    WHERE rows.k > 0;
    RETURN NULL;
END $$;

CREATE FUNCTION quotes_stats_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE quotes_stats
    SET n = n - rows.k, generation = generation + 1, changed_at = clock_timestamp()
    FROM (SELECT count(*) AS k FROM removed) AS rows
    WHERE rows.k > 0;
    RETURN NULL;
END $$;

CREATE FUNCTION quotes_stats_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE quotes_stats
    SET generation = generation + 1, changed_at = clock_timestamp()
    WHERE EXISTS (SELECT 1 FROM changed);
    RETURN NULL;
END $$;

CREATE FUNCTION quotes_stats_emptied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE quotes_stats SET n = 0, generation = generation + 1, changed_at = clock_timestamp();
    RETURN NULL;
END $$;

CREATE TRIGGER quotes_stats_insert AFTER INSERT ON quotes
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION quotes_stats_added();
CREATE TRIGGER quotes_stats_delete AFTER DELETE ON quotes
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION quotes_stats_removed();
CREATE TRIGGER quotes_stats_update AFTER UPDATE ON quotes
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION quotes_stats_changed();
CREATE TRIGGER quotes_stats_truncate AFTER TRUNCATE ON quotes
    FOR EACH STATEMENT EXECUTE FUNCTION quotes_stats_emptied();
