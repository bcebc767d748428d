-- Schemas, pgvector, and the ingest manifest. Placeholders in braces are schema names.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE SCHEMA IF NOT EXISTS {raw};
CREATE SCHEMA IF NOT EXISTS {features};
CREATE SCHEMA IF NOT EXISTS {ml};

-- One row per FITS file ingested (or attempted). A file is identified by its content (sha256).
CREATE TABLE {meta}.source_files (
    file_id     serial PRIMARY KEY,
    path        text        NOT NULL,
    sha256      text        NOT NULL UNIQUE,
    size_bytes  bigint      NOT NULL,
    kind        text        NOT NULL,
    status      text        NOT NULL CHECK (status IN ('loading', 'done', 'failed')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    seconds     double precision,
    error       text
);

-- One row per table HDU of a loaded file: what went where, and how many rows.
CREATE TABLE {meta}.ingest_manifest (
    file_id       integer NOT NULL REFERENCES {meta}.source_files ON DELETE CASCADE,
    hdu           integer NOT NULL,
    extname       text,
    target_table  text    NOT NULL,
    rows_expected bigint  NOT NULL,
    rows_loaded   bigint  NOT NULL,
    seconds       double precision,
    header        jsonb   NOT NULL,
    PRIMARY KEY (file_id, hdu)
);

-- Void catalogues: one row per DESIVAST/VAST file, with the cosmology of its PRIMARY header.
CREATE TABLE {raw}.void_catalogs (
    catalog   text    PRIMARY KEY,
    algorithm text    NOT NULL,
    cap       text,
    file_id   integer NOT NULL REFERENCES {meta}.source_files ON DELETE CASCADE,
    omegam    double precision,
    hp        double precision,
    header    jsonb   NOT NULL
);
