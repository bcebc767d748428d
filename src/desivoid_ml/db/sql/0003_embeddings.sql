-- Embeddings: one partition per training run (see embed/store.py for why), registered here.
CREATE TABLE {ml}.embeddings (
    run_id    text   NOT NULL,
    targetid  bigint NOT NULL,
    survey    text   NOT NULL,
    program   text   NOT NULL,
    embedding vector NOT NULL
) PARTITION BY LIST (run_id);

CREATE TABLE {ml}.embedding_sets (
    run_id     text        PRIMARY KEY REFERENCES {ml}.runs ON DELETE CASCADE,
    partition  text        NOT NULL,
    dim        integer     NOT NULL,
    rows       bigint      NOT NULL,
    created    timestamptz NOT NULL DEFAULT now()
);
