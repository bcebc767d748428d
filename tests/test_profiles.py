"""Stacked void profiles: a planted step at r/R_void = 1 is recovered (raw and matched on z),
the jackknife is sane, the CLI writes files and ml.void_profiles, and bad input writes nothing.
Real VAST outputs: tests/test_profiles_real.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from psycopg import sql
from typer.testing import CliRunner

from desivoid_ml.analysis.profile_stats import cell_quantiles
from desivoid_ml.analysis.profiles import ProfileRequest, profiles
from desivoid_ml.cli import app
from desivoid_ml.errors import DesivoidError

STEP = -0.10  # planted: g_r of void-side galaxies (r/R < 1) at fixed mass and redshift
Z_SLOPE = 3.0  # g_r rises with z, and the outer galaxies lie at higher z: raw profiles are biased
N = 40_000


def synthetic_columns(seed: int = 11) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    r = rng.uniform(0.0, 2.0, N)
    mass = rng.uniform(9.0, 12.0, N)
    outside = r >= 1.0
    z = np.where(outside, 0.05 + 0.1 * np.sqrt(rng.random(N)), rng.uniform(0.05, 0.15, N))
    g_r = 0.5 + 0.1 * (mass - 10) + Z_SLOPE * z + STEP * ~outside + rng.normal(0, 0.05, N)
    return {
        "targetid": np.arange(N),
        "vf_sample": np.where(outside, "wall", "void"),
        "vf_r_over_rvoid": r,
        "g_r": g_r,
        "logmstar": mass,
        "z": z,
    } | shell_positions(rng, N)


def shell_positions(rng, n: int) -> dict[str, np.ndarray]:
    """Uniform in volume over RA 100-200, Dec 0-50 and 100-300 Mpc/h."""
    ra = rng.uniform(100.0, 200.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(0.0, np.sin(np.radians(50.0)), n)))
    d = np.cbrt(rng.uniform(100.0**3, 300.0**3, n))
    a, b = np.radians(ra), np.radians(dec)
    return {
        "ra": ra,
        "dec": dec,
        "x": d * np.cos(b) * np.cos(a),
        "y": d * np.cos(b) * np.sin(a),
        "zc": d * np.sin(b),
    }


@pytest.fixture(scope="module")
def profile_db(module_db):
    db = module_db
    data = synthetic_columns()
    names = list(data)
    types = {"targetid": "bigint", "vf_sample": "text"}
    table = sql.Identifier(db.ns.features, "galaxy")
    with db.connect() as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (survey text DEFAULT 'main', program text DEFAULT 'bright', {})"
            ).format(
                table,
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(types.get(n, "float8")))
                    for n in names
                ),
            )
        )
        with conn.cursor().copy(
            sql.SQL("COPY {} ({}) FROM STDIN").format(
                table, sql.SQL(", ").join(map(sql.Identifier, names))
            )
        ) as copy:
            for row in zip(*(data[n].tolist() for n in names), strict=True):
                copy.write_row(row)
        centres = shell_positions(np.random.default_rng(3), 20)
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} AS SELECT 'VoidFinder'::text AS algorithm, x, y, z, "
                "15.0 AS radius "
                "FROM unnest(%s::float8[], %s::float8[], %s::float8[]) AS v (x, y, z)"
            ).format(sql.Identifier(db.ns.features, "voids")),
            (centres["x"].tolist(), centres["y"].tolist(), centres["zc"].tolist()),
        )
    return db, data


def test_planted_step_at_the_void_edge_within_three_sigma(profile_db) -> None:
    db, _ = profile_db
    request = ProfileRequest(properties=("g_r",), z_cells=10, density=False)
    with db.connect() as conn:
        rows = profiles(conn, db.ns, request).rows
    assert len(rows) == 4 * 7 and sum(r["n"] for r in rows) == N
    for lo in (9.0, 10.0, 10.5, 11.0):
        by_r = {r["r_lo"]: r for r in rows if r["mass_lo"] == lo}
        inner, outer = by_r[0.75], by_r[1.0]
        step = inner["median_matched"] - outer["median_matched"]
        sigma = np.hypot(inner["median_matched_err"], outer["median_matched_err"])
        assert 0 < sigma < 0.02
        assert abs(step - STEP) < 3 * sigma, (lo, step, sigma)
        raw = inner["median"] - outer["median"]  # biased by the outer galaxies' higher z
        assert raw < STEP - 3 * sigma
        flat = by_r[0.25]["median_matched"] - by_r[0.5]["median_matched"]  # no step inside
        assert abs(flat) < 3 * np.hypot(
            by_r[0.25]["median_matched_err"], by_r[0.5]["median_matched_err"]
        )
        assert inner["p16"] < inner["median"] < inner["p84"]


def test_binned_quantiles_equal_numpy_and_the_jackknife_matches_its_formula() -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(0, 1, 5000)
    cell = rng.integers(0, 3, 5000)
    region = rng.integers(0, 8, 5000)
    found = cell_quantiles(values, cell, 3, region, 8)
    for c in range(3):
        exact = np.quantile(values[cell == c], [0.5, 0.16, 0.84])
        np.testing.assert_allclose(found.value[c], exact, atol=0.01)
        drops = [np.median(values[(cell == c) & (region != k)]) for k in range(8)]
        sigma = np.sqrt(7 / 8 * np.sum((np.array(drops) - np.mean(drops)) ** 2))
        assert found.sigma[c, 0] == pytest.approx(sigma, rel=0.35, abs=0.01)


def test_cli_writes_files_and_table_and_bad_input_writes_nothing(profile_db, tmp_path) -> None:
    db, _ = profile_db
    env = {"DESIVOID_NAMESPACE": db.ns.prefix, "DESIVOID_DSN": db.dsn}
    base = ["profiles", "--property", "g_r", "--out", str(tmp_path), "--format", "json"]
    table = sql.Identifier(db.ns.ml, "void_profiles")
    for bad, message in (
        (["--algorithm", "VIDE"], "unknown algorithm 'vide'"),
        (["--algorithm", "nope"], "unknown algorithm 'nope'"),
        (["--property", "colour"], "unknown property 'colour'"),
        (["--r-edges", "0,1,2,3"], "empty bin"),
        (["--mass-edges", "10,9"], "must be two or more increasing"),
    ):
        result = CliRunner().invoke(app, [*base, *bad], env=env)
        assert isinstance(result.exception, DesivoidError), (bad, result.output)
        assert message in str(result.exception), (bad, str(result.exception))
    assert not any(tmp_path.iterdir())
    with db.connect() as conn:
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()[0] == 0
    good = CliRunner().invoke(app, base, env=env)
    assert good.exit_code == 0, good.output
    printed = json.loads(good.stdout)
    folder = tmp_path / "analysis"
    stored = json.loads((folder / "void_profiles.json").read_text())
    assert len(printed) == len(stored) == 4 * 7 + 7  # g_r rows, then the density rows
    assert (folder / "profile_g_r.png").stat().st_size > 5000
    assert (folder / "profile_density.png").stat().st_size > 5000
    with db.connect() as conn:
        medians = conn.execute(
            sql.SQL("SELECT median FROM {} WHERE property = 'g_r' ORDER BY mass_lo, r_lo").format(
                table
            )
        ).fetchall()
    assert [m[0] for m in medians] == [r["median"] for r in stored if r["property"] == "g_r"]


def test_density_profile_of_carved_voids_equals_brute_force() -> None:
    """Empty spheres carved out of a uniform shell: n/n_mean ~ 0 inside, ~ 1 well outside, and
    the shell counts equal a direct distance count."""
    from desivoid_ml.analysis.void_density import density_profile, shell_counts

    rng = np.random.default_rng(8)
    points = shell_positions(rng, 60_000)
    xyz = np.stack([points["x"], points["y"], points["zc"]], axis=1)
    voids = shell_positions(rng, 30)
    centres = np.stack([voids["x"], voids["y"], voids["zc"]], axis=1)
    centres = centres[np.linalg.norm(centres, axis=1) > 160]
    centres = centres[np.linalg.norm(centres, axis=1) < 240]
    radii = np.full(len(centres), 12.0)
    distance = np.linalg.norm(xyz[:, None, :] - centres[None, :, :], axis=2)
    xyz = xyz[(distance >= radii[None, :]).all(axis=1)]
    edges = [0.0, 0.5, 1.0, 1.5, 2.0]
    counts = shell_counts(xyz, centres, radii, edges)
    d = np.linalg.norm(xyz[:, None, :] - centres[None, :, :], axis=2) / radii[None, :]
    shells = zip(edges[:-1], edges[1:], strict=True)
    brute = np.stack([((d >= a) & (d < b)).sum(axis=0) for a, b in shells], axis=1)
    np.testing.assert_array_equal(counts, brute)
    found = density_profile(xyz, centres, radii, edges, np.arange(len(centres)) % 5)
    assert found.ratio[0] == 0 and found.ratio[1] == 0
    assert abs(found.ratio[3] - 1.0) < 0.25 and found.sigma[3] > 0


def test_finder_profiles_page_png_and_api(profile_db, tmp_path) -> None:
    import urllib.error
    import urllib.request

    from test_finder_fixture import running_finder

    db, _ = profile_db
    env = {"DESIVOID_NAMESPACE": db.ns.prefix, "DESIVOID_DSN": db.dsn}
    args = ["profiles", "--property", "g_r", "--out", str(tmp_path), "--format", "csv"]
    assert CliRunner().invoke(app, args, env=env).exit_code == 0

    def get(url: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    with running_finder(db) as url:
        status, body = get(f"{url}/api/profiles")
        assert status == 200
        rows = json.loads(body)["profiles"]
        assert {r["property"] for r in rows} == {"g_r", "density"} and len(rows) == 35
        status, body = get(f"{url}/profiles")
        assert status == 200 and b"/plot/profile/g_r.png" in body and b"VoidFinder" in body
        status, png = get(f"{url}/plot/profile/density.png")
        assert status == 200 and png[:4] == b"\x89PNG"
        for bad in ("/plot/profile/colour.png", "/profiles?label=nope", "/api/profiles?label=%3B"):
            status, body = get(url + bad)
            assert 400 <= status < 500 and b"Traceback" not in body, (bad, status)
