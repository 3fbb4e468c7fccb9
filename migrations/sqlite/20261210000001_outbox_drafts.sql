-- The drafts leave the outbox's rows for a table of their own (issue 16). An II.01-ĐC draft runs
-- to hundreds of kilobytes; in the row, every claim read past it to a lease column and every state
-- change (claimed, answered) wrote it again. A row now changes without its draft, which is written
-- only when its content changes.
CREATE TABLE outbox_drafts (
    outbox_id INTEGER PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
    draft     TEXT    NOT NULL
);
INSERT INTO outbox_drafts (outbox_id, draft) SELECT id, draft FROM outbox WHERE draft IS NOT NULL;
ALTER TABLE outbox DROP COLUMN draft;
