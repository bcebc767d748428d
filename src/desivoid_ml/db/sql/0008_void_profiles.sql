-- Stacked void-centric profiles (`desivoid profiles`): one row per algorithm, property, mass bin
-- and r/R_void bin; property 'density' rows hold the voids' n(r)/n_mean (mass bounds NULL).
-- A label's rows (a run id or 'analysis') are replaced in one transaction.
CREATE TABLE {ml}.void_profiles (
    label              text             NOT NULL,
    algorithm          text             NOT NULL,
    property           text             NOT NULL,
    mass_lo            double precision,
    mass_hi            double precision,
    r_lo               double precision NOT NULL,
    r_hi               double precision NOT NULL,
    n                  bigint           NOT NULL,
    median             double precision,
    median_err         double precision,
    p16                double precision,
    p84                double precision,
    median_matched     double precision,
    median_matched_err double precision,
    figure             text,
    created            timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX ON {ml}.void_profiles (label, algorithm, property);
