-- The MASK image HDU of a VoidFinder file (its survey mask), one bit a cell, RA-major
-- (n_ra x n_dec). Written at ingest by ingest/vf_mask.py; read by the features. Databases that
-- ingested before this migration already have the table (the ingest created it then).
CREATE TABLE IF NOT EXISTS {raw}.vf_masks (
    catalog text    PRIMARY KEY,
    file_id integer NOT NULL,
    n_ra    integer NOT NULL,
    n_dec   integer NOT NULL,
    cells   bytea   NOT NULL
);
