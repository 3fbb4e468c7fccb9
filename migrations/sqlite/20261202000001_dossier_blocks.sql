-- Dossiers move from one row each to blocks of a few thousand (src/store/blocks.rs): the compute
-- reads a province's million dossiers as a few hundred values. The earlier table is kept under a
-- new name until the store has moved its rows into blocks (when it opens), then dropped.
ALTER TABLE dossiers RENAME TO dossiers_legacy;

CREATE TABLE dossier_blocks (
    source  TEXT    NOT NULL,
    -- 0, 1, 2 … per source, in the order first filled.
    block   INTEGER NOT NULL,
    records INTEGER NOT NULL,
    facts   BLOB    NOT NULL,
    PRIMARY KEY (source, block)
);

-- Every write of a source's dossiers moves its generation: a process keeps its key index while
-- the generation says nobody else wrote.
CREATE TABLE dossier_sources (
    source     TEXT    PRIMARY KEY,
    generation INTEGER NOT NULL
);
