-- Each galaxy's reconstruction error under its run (masked MSE in the normalised inputs), written
-- by `desivoid embed` beside the code; NULL for partitions embedded before this migration.
ALTER TABLE {ml}.embeddings ADD COLUMN recon_mse real;
