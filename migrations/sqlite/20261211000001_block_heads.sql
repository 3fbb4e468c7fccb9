-- The length in bytes of each dossier block's head (its texts, keys and sequences, before the
-- columns the rules read): a write's key index reads the heads alone, a third of the blocks' bytes.
-- NULL until the store measures the blocks written before (when it opens, from their data).
ALTER TABLE dossier_blocks ADD COLUMN head_bytes INTEGER;
