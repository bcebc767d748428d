-- Training runs: what was trained, how, and where its checkpoint lies.
CREATE TABLE {ml}.runs (
    run_id          text        PRIMARY KEY,
    created         timestamptz NOT NULL DEFAULT now(),
    model_kind      text        NOT NULL,
    code_dim        integer     NOT NULL,
    config          jsonb       NOT NULL,
    checkpoint_path text,
    metrics         jsonb       NOT NULL DEFAULT jsonb_build_object(),
    git_commit      text,
    features        jsonb       NOT NULL,
    normalization   jsonb       NOT NULL
);
