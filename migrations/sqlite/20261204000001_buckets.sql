-- Dossier blocks belong to buckets (src/store/blocks.rs): the half-month a dossier stopped mattering to
-- new periods, or "always" / "never". A period reads only the buckets from its first day's half-month on, so
-- its cost does not grow with the years behind it. NULL until the store lays the blocks out again
-- (when it opens, with their data).
ALTER TABLE dossier_blocks ADD COLUMN bucket INTEGER;
CREATE INDEX dossier_blocks_by_bucket ON dossier_blocks (source, bucket, block, records);

-- What the rules read of each field code over a source's whole history: its first dossier (key,
-- unit, the name it carries) and its first non-empty name, in first-stored order (domain.md §5 "Labels"; `unknown_field`).
CREATE TABLE dossier_fields (
    source     TEXT    NOT NULL,
    field_code TEXT    NOT NULL,
    first_seq  INTEGER NOT NULL,
    first_key  TEXT    NOT NULL,
    first_unit TEXT    NOT NULL,
    first_name TEXT    NOT NULL,
    label_seq  INTEGER,
    label      TEXT    NOT NULL,
    PRIMARY KEY (source, field_code)
);
