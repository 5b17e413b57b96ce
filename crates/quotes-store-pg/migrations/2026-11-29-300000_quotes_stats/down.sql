DROP TRIGGER quotes_stats_truncate ON quotes;
DROP TRIGGER quotes_stats_update ON quotes;
DROP TRIGGER quotes_stats_delete ON quotes;
DROP TRIGGER quotes_stats_insert ON quotes;
DROP FUNCTION quotes_stats_emptied();
DROP FUNCTION quotes_stats_changed();
DROP FUNCTION quotes_stats_removed();
DROP FUNCTION quotes_stats_added();
DROP TABLE quotes_stats;
