-- A recompute rewrites a province's drafts (hundreds, tens of kilobytes of JSON each), and
-- PostgreSQL's default TOAST compression, pglz, took a visible part of that write: measured on this
-- server over 43 MB of II.06 drafts, pglz 0.54 s (to 12.5 MB), lz4 0.13 s (to 20.0 MB). Drafts
-- are few next to the dossiers, so the time is worth more than the space. A server built without
-- lz4 keeps its default: the migration says so and goes on (only values written after it change).
DO $$
BEGIN
    EXECUTE 'ALTER TABLE outbox_drafts ALTER COLUMN draft SET COMPRESSION lz4';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'outbox_drafts.draft keeps the default compression: %', SQLERRM;
END
$$;
