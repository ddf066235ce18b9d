-- api_time calls to_char, which is stable, not immutable; declared as
-- what it is, PostgreSQL inlines it into every document function instead
-- of running it through the SQL function executor for each row.
ALTER FUNCTION api_time(timestamptz) STABLE;
