"""Unusual galaxies: the reconstruction error stored by `desivoid embed`, its rank and percentile,
the void/wall filter, the CLI and finder lists, and bad input."""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
from featuretable import make_feature_table
from psycopg import sql
from trainconfig import train_config
from typer.testing import CliRunner

from desivoid_ml.cli import app
from desivoid_ml.embed.inference import embed, load_model
from desivoid_ml.embed.unusual import selection, unusual
from desivoid_ml.errors import DesivoidError
from desivoid_ml.keys import key_hash_sql
from desivoid_ml.runs import get_run
from desivoid_ml.training import train

PLANTED = 77_777_777  # a = 3 but b = -6: each value ordinary, together impossible (b = 2a + noise)
ROWS = 3000
FEATURES = {"a": "a", "b": "b"}


@pytest.fixture(scope="module")
def embedded(module_db, tmp_path_factory):
    """A run with one code dimension on (a, b), the planted galaxy included, embedded."""
    db = module_db
    make_feature_table(db, rows=ROWS)
    table = sql.Identifier(db.ns.features, "galaxy")
    with db.connect() as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (targetid, survey, program, a, b, c, flag, key_hash) "
                "SELECT k.*, 0.5, false, {} FROM (SELECT %s::bigint AS targetid, "
                "'main'::text AS survey, 'bright'::text AS program, 3.0::float8 AS a, "
                "-6.0::float8 AS b) k"
            ).format(table, key_hash_sql("k")),
            (PLANTED,),
        )
        conn.execute(
            sql.SQL(
                "ALTER TABLE {} ADD COLUMN vf_sample text, "
                "ADD COLUMN ra float8, ADD COLUMN dec float8"
            ).format(table)
        )
        conn.execute(
            sql.SQL("UPDATE {} SET ra = (targetid % 3600) / 10.0, dec = 1.0").format(table)
        )
        conn.execute(
            sql.SQL(
                "UPDATE {} SET vf_sample = CASE WHEN targetid % 3 = 0 THEN NULL "
                "WHEN targetid % 3 = 1 THEN 'void' ELSE 'wall' END"
            ).format(table)
        )
        conn.execute(
            sql.SQL("UPDATE {} SET vf_sample = 'void' WHERE targetid = %s").format(table),
            (PLANTED,),
        )
    cfg = train_config(
        db,
        tmp_path_factory.mktemp("run"),
        ["trainer.max_epochs=2", "test=false", "model.code_dim=1", "model.hidden=[16]"],
        features=FEATURES,
    )
    train(cfg)
    embed(db, None)
    return db


def test_planted_impossible_galaxy_ranks_in_the_top_percent(embedded) -> None:
    db = embedded
    with db.connect() as conn:
        found = unusual(conn, db.ns, 50, None, selection(None, None))
    assert found.n == ROWS + 1
    planted = [r for r in found.rows if r["targetid"] == PLANTED]
    assert planted and planted[0]["percentile"] >= 99.0
    errors = [r["recon_mse"] for r in found.rows]
    assert errors == sorted(errors, reverse=True)
    assert found.rows[0]["percentile"] == pytest.approx(100.0 * ROWS / (ROWS + 1))


def test_stored_error_is_the_masked_mse_of_the_run(embedded) -> None:
    """Recompute a few galaxies' errors from the checkpoint and the raw feature values."""
    db = embedded
    run = get_run(db, None)
    model = load_model(run)
    with db.connect() as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT g.a, g.b, e.recon_mse FROM {} g "
                "JOIN {} e USING (targetid, survey, program) "
                "WHERE e.run_id = %s AND g.targetid IN (5, 17, 600, %s) ORDER BY g.targetid"
            ).format(
                sql.Identifier(db.ns.features, "galaxy"), sql.Identifier(db.ns.ml, "embeddings")
            ),
            (run.run_id, PLANTED),
        ).fetchall()
    x = torch.tensor([[r[0], r[1]] for r in rows], dtype=torch.float32)
    norm = model.normalization
    z = (x - torch.tensor(norm.mean)) / torch.tensor(norm.std)
    with torch.no_grad():
        recon = model.decode(model.encode(x))
    expected = ((recon - z) ** 2).mean(dim=1).numpy()
    np.testing.assert_allclose([r[2] for r in rows], expected, rtol=1e-4, atol=1e-6)
    assert expected[-1] > 10 * np.median(expected[:-1])  # the planted galaxy, last by targetid


def test_void_filter_ranks_within_the_sample(embedded) -> None:
    db = embedded
    with db.connect() as conn:
        voids = unusual(conn, db.ns, 20, None, selection("void", "VoidFinder"))
        n_void = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE vf_sample = 'void'").format(
                sql.Identifier(db.ns.features, "galaxy")
            )
        ).fetchone()[0]
        walls = unusual(conn, db.ns, 20, None, selection("wall", "vf"))
    assert voids.n == n_void and voids.rows[0]["targetid"] == PLANTED
    assert all(r["vf_sample"] == "void" for r in voids.rows)
    assert all(r["vf_sample"] == "wall" for r in walls.rows)
    assert PLANTED not in {r["targetid"] for r in walls.rows}


def test_bad_selections(embedded) -> None:
    db = embedded
    with pytest.raises(DesivoidError, match="unknown algorithm 'nope'"):
        selection("void", "nope")
    with pytest.raises(DesivoidError, match="--only must be void or wall"):
        selection("edge", None)
    with pytest.raises(DesivoidError, match="--of needs --only"):
        selection(None, "VIDE")
    with db.connect() as conn:
        with pytest.raises(DesivoidError, match="features.galaxy has no vide_sample column"):
            unusual(conn, db.ns, 5, None, selection("void", "VIDE"))
        with pytest.raises(DesivoidError, match="run 'nope' has none"):
            unusual(conn, db.ns, 5, "nope", selection(None, None))
        with pytest.raises(DesivoidError, match="-k must be between"):
            unusual(conn, db.ns, 0, None, selection(None, None))


def test_cli_lists_as_csv_and_json_and_refuses_bad_input(embedded) -> None:
    db = embedded
    env = {"DESIVOID_NAMESPACE": db.ns.prefix, "DESIVOID_DSN": db.dsn}
    args = ["similar", "--unusual", "--only", "void", "--of", "VoidFinder", "-k", "5"]
    as_csv = CliRunner().invoke(app, [*args, "--format", "csv"], env=env)
    assert as_csv.exit_code == 0, as_csv.output
    listed = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(listed) == 5 and int(listed[0]["targetid"]) == PLANTED
    assert "sky_viewer" in listed[0]
    as_json = CliRunner().invoke(app, [*args, "--format", "json"], env=env)
    records = json.loads(as_json.stdout)
    assert [r["targetid"] for r in records] == [int(r["targetid"]) for r in listed]
    table = CliRunner().invoke(app, args, env=env)
    assert table.exit_code == 0 and str(PLANTED) in table.stdout
    bad = CliRunner().invoke(app, ["similar", "--unusual", "--only", "void", "--of", "x"], env=env)
    assert isinstance(bad.exception, DesivoidError) and "unknown algorithm 'x'" in str(
        bad.exception
    )
    stray = CliRunner().invoke(app, ["similar", "123", "--unusual"], env=env)
    assert "give no TARGETID" in str(stray.exception)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_finder_page_csv_and_api_list_the_same_galaxies(embedded) -> None:
    from test_finder_fixture import running_finder

    with running_finder(embedded) as url:
        status, body = _get(f"{url}/api/unusual?only=void&of=vf&k=7")
        assert status == 200, body
        api = json.loads(body)
        assert api["galaxies"][0]["targetid"] == PLANTED and len(api["galaxies"]) == 7
        status, page = _get(f"{url}/unusual?only=void&of=vf&k=7")
        assert status == 200 and f"/galaxy/{PLANTED}?survey=main" in page
        status, text = _get(f"{url}/unusual?only=void&of=vf&k=7&format=csv")
        listed = list(csv.DictReader(io.StringIO(text)))
        assert [int(r["targetid"]) for r in listed] == [g["targetid"] for g in api["galaxies"]]
        for bad in (
            "k=0",
            "k=abc",
            "only=edge",
            "only=void&of=nope",
            "run=nope",
            "format=xlsx",
            "only=void&of=vide",
        ):
            status, body = _get(f"{url}/unusual?{bad}")
            assert 400 <= status < 500 and "Traceback" not in body, (bad, status, body[:200])
