"""Embeddings: pgvector partitions per run, atomic replacement, similarity from SQL, bad input."""

from __future__ import annotations

import json

import psycopg
import pytest
from featuretable import make_feature_table
from psycopg import sql
from trainconfig import train_config

from desivoid_ml.db.connection import Database, Namespace, connect
from desivoid_ml.embed.inference import embed
from desivoid_ml.embed.similarity import similar
from desivoid_ml.embed.store import require_vector_installed
from desivoid_ml.errors import DesivoidError
from desivoid_ml.runs import get_run
from desivoid_ml.training import train


@pytest.fixture(scope="module")
def trained(module_db, tmp_path_factory):
    make_feature_table(module_db, rows=3000)
    tmp = tmp_path_factory.mktemp("runs")
    for name in ("first", "second"):
        train(train_config(module_db, tmp / name, ["trainer.max_epochs=1", "test=false"]))
    return module_db


def _count(db, run_id: str) -> int:
    with db.connect() as conn:
        return conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE run_id = %s").format(
                sql.Identifier(db.ns.ml, "embeddings")
            ),
            (run_id,),
        ).fetchone()[0]


def test_embed_writes_every_galaxy_and_replaces_atomically(trained) -> None:
    db = trained
    older = get_run(db, None)  # newest run
    summary = embed(db, older.run_id, batch_size=700)
    assert summary.rows == 3000 and summary.dim == 16
    assert _count(db, older.run_id) == 3000
    embed(db, older.run_id, batch_size=1000)
    assert _count(db, older.run_id) == 3000
    with db.connect() as conn:
        dims = conn.execute(
            sql.SQL("SELECT DISTINCT vector_dims(embedding) FROM {}").format(
                sql.Identifier(db.ns.ml, "embeddings")
            )
        ).fetchall()
    assert dims == [(16,)]


def test_two_runs_live_side_by_side(trained) -> None:
    db = trained
    from desivoid_ml.runs import list_runs

    runs = [r.run_id for r in list_runs(db)]
    for run_id in runs:
        embed(db, run_id)
    embed(db, runs[0])  # re-embedding one run leaves the other untouched
    assert [_count(db, r) for r in runs] == [3000, 3000]


def test_similar_galaxies_equal_exact_search(trained) -> None:
    db = trained
    run = get_run(db, None)
    embed(db, run.run_id)
    header, *rows = similar(db, 1234, k=10, run=run.run_id)
    assert header[:4] == ("targetid", "survey", "program", "distance") and len(rows) == 10
    assert 1234 not in [r[0] for r in rows]
    with db.connect() as conn:
        exact = conn.execute(
            sql.SQL(
                "SELECT e.targetid FROM {t} e, (SELECT embedding FROM {t} WHERE targetid = 1234 "
                "AND run_id = %s) q WHERE e.run_id = %s AND e.targetid <> 1234 "
                "ORDER BY e.embedding <-> q.embedding LIMIT 10"
            ).format(t=sql.Identifier(db.ns.ml, "embeddings")),
            (run.run_id, run.run_id),
        ).fetchall()
    assert [r[0] for r in rows] == [r[0] for r in exact]
    distances = [r[3] for r in rows]
    assert distances == sorted(distances)


def test_unknown_run_and_unknown_galaxy(trained) -> None:
    db = trained
    with pytest.raises(DesivoidError, match="unknown run 'nope'"):
        embed(db, "nope")
    embed(db, None)
    header, *rows = similar(db, 99_999_999, k=5)
    assert rows == []


def test_checkpoint_features_that_no_longer_match(trained) -> None:
    db = trained
    with db.connect() as conn:
        conn.execute(
            sql.SQL("ALTER TABLE {} RENAME COLUMN c TO c_renamed").format(
                sql.Identifier(db.ns.features, "galaxy")
            )
        )
    try:
        with pytest.raises(DesivoidError, match="feature list no longer matches"):
            embed(db, None)
    finally:
        with db.connect() as conn:
            conn.execute(
                sql.SQL("ALTER TABLE {} RENAME COLUMN c_renamed TO c").format(
                    sql.Identifier(db.ns.features, "galaxy")
                )
            )


def test_database_without_vector_extension(db) -> None:
    name = f"novec_{db.ns.prefix.strip('_')}"
    with connect(db.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    other = db.dsn.replace("/postgres?", f"/{name}?")
    try:
        with connect(other) as conn, pytest.raises(DesivoidError, match="CREATE EXTENSION vector"):
            require_vector_installed(conn)
        assert Database(other, Namespace("x_")).dsn != db.dsn
    finally:
        with connect(db.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))


def test_sql_function_errors_for_a_run_without_embeddings(trained) -> None:
    db = trained
    embed(db, None)
    with db.connect() as conn, pytest.raises(psycopg.errors.RaiseException) as raised:
        conn.execute(
            sql.SQL("SELECT * FROM {}(1, 5, 'not-a-run')").format(
                sql.Identifier(db.ns.ml, "similar_galaxies")
            )
        )
    assert raised.value.diag.message_primary == "no embeddings for run not-a-run"
    assert "desivoid embed" in raised.value.diag.message_hint
    with pytest.raises(DesivoidError, match=r"run 'not-a-run' has no embeddings; run `desivoid"):
        similar(db, 1, k=5, run="not-a-run")


def test_report_writes_html_and_figures(trained, tmp_path) -> None:
    from desivoid_ml.report.page import write_report

    db = trained
    embed(db, None)
    page = write_report(db, None, tmp_path)
    folder = page.parent
    for name in ("loss.png", "embedding_map.png", "reconstruction.png"):
        assert (folder / name).stat().st_size > 10_000, name
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["sample_rows"] == 3000 and set(summary["reconstruction_mse"]) == {
        "a",
        "b",
        "c",
        "flag",
    }
    text = page.read_text()
    assert "Does the embedding carry environment?" in text and "<img" in text


def test_cli_against_a_dsn_server(trained) -> None:
    """`desivoid runs` and `desivoid similar` with DESIVOID_DSN set (no embedded start)."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    db = trained
    embed(db, None)
    cli = shutil.which("desivoid") or str(Path(sys.executable).parent / "desivoid")
    env = dict(
        os.environ,
        DESIVOID_DSN=db.dsn,
        DESIVOID_NAMESPACE=db.ns.prefix,
        DESIVOID_DATA_DIR="/nonexistent/never-started",
        COLUMNS="160",
    )
    runs = subprocess.run([cli, "runs"], capture_output=True, text=True, env=env, timeout=120)
    assert runs.returncode == 0 and get_run(db, None).run_id in runs.stdout
    found = subprocess.run(
        [cli, "similar", "1234", "-k", "3"], capture_output=True, text=True, env=env, timeout=120
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.count("main/bright") == 3
    missing = subprocess.run(
        [cli, "similar", "99999999"], capture_output=True, text=True, env=env, timeout=120
    )
    assert missing.returncode == 2 and "no galaxy with targetid 99999999" in missing.stderr
    assert missing.stderr.startswith("error:") and not missing.stdout
    assert "Traceback" not in missing.stderr


def test_insertion_cells_come_from_rows_spread_over_the_table(trained, monkeypatch) -> None:
    """Not the stream's first rows: features.galaxy is stored in sky order, so those would be
    one patch of sky. The cells' sample is one key-hash shard, from the whole table."""
    from desivoid_ml.embed import inference, insert_order

    db = trained
    monkeypatch.setattr(insert_order, "SAMPLE_ROWS", 400)
    monkeypatch.setattr(insert_order, "CELLS", 8)
    sampled: list = []
    real_codes = inference._codes

    def spying_codes(model, spec, shard_of=1):
        for batch in real_codes(model, spec, shard_of):
            if shard_of > 1:
                sampled.extend(batch[0].tolist())
            yield batch

    monkeypatch.setattr(inference, "_codes", spying_codes)
    embed(db, None)
    expected = 3000 / (3000 // insert_order.sample_rows(8))  # one of 7 key-hash shards
    assert 0.7 * expected <= len(sampled) <= 1.3 * expected
    table = get_run(db, None).feature_table
    with db.connect() as conn:
        pages = conn.execute(
            sql.SQL("SELECT (ctid::text::point)[0] FROM {} WHERE targetid = ANY(%s)").format(
                sql.Identifier(db.ns.features, table)
            ),
            (sampled,),
        ).fetchall()
        last = conn.execute(
            sql.SQL("SELECT max((ctid::text::point)[0]) FROM {}").format(
                sql.Identifier(db.ns.features, table)
            )
        ).fetchone()[0]
    assert last >= 4  # the table spans several pages, so "spread" means something
    assert min(p for (p,) in pages) <= last / 4 and max(p for (p,) in pages) >= 3 * last / 4
