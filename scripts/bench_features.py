"""Benchmark the feature build (`features.build.build`) at N and 4N synthetic galaxies against the
DESIVAST void catalogs of `write_catalogs`: compute and load seconds, rows/s, peak RSS, and the
4N/N time ratio against N log N, extrapolated to 6.4 M galaxies.

For speed, raw.galaxies is made directly by binary COPY with only the columns the build reads
(keys, RA, DEC, Z and those of the few properties kept; with `--properties default`, every
property of configs/features.yaml, their columns and padding up to raw.galaxies' 215 columns,
see bench_raw_columns.py): the galaxies of a small synthetic catalog
(so V2 catalogs match them by TARGETID), then random positions uniform in volume in the survey
caps over the voids' redshift range. Each build runs in a fresh spawned process that reports its
peak RSS. Tables live in the `bench_` schema namespace (dropped at the end).
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from astropy.io import fits
from bench_raw_columns import chunk_values, extra_columns
from omegaconf import OmegaConf
from psycopg import sql

from desivoid_ml.db.connection import Database, drop_namespace, open_database
from desivoid_ml.db.copy_binary import RowEncoder
from desivoid_ml.db.copy_format import CopyColumn
from desivoid_ml.db.copy_in import copy_in
from desivoid_ml.features import build
from desivoid_ml.features.config import load_config
from desivoid_ml.ingest.runner import ingest
from desivoid_ml.ingest.tables import ensure_table
from desivoid_ml.memory import peak_rss_mb
from desivoid_ml.synth import OMEGAM_VF, ZLIML, ZLIMU, write_catalogs
from desivoid_ml.synth.cosmo import distances
from desivoid_ml.synth.universe import CAPS

PREFIX = "bench_"
CHUNK_ROWS = 100_000  # rows per COPY message when filling raw.galaxies
TARGET_ROWS, TARGET_S = 6_400_000, 150.0  # issue 19
PROPERTIES = ["z", "logmstar", "g_r"]  # of configs/features.yaml; their columns below
KEYS = ["targetid", "survey", "program"]
COLUMNS = [CopyColumn("targetid", "bigint"), CopyColumn("survey", "text", text_width=8),
           CopyColumn("program", "text", text_width=8)] + [
    CopyColumn(name, "double precision") for name in ("ra", "dec", "z")] + [
    CopyColumn(name, "real") for name in ("logmstar", "logmstar_ivar", "absmag01_sdss_g",
                                          "absmag01_sdss_r")]
PHASES = ["read void catalogs", "read positions", "survey masks", "density", "classify",
          "stage (COPY in)", "features.galaxy", "keys and indexes", "proximity", "analyze"]


def prepare_voids(db: Database, folder: Path, n: int, seed: int) -> dict[str, np.ndarray]:
    """Ingest the DESIVAST files of a small synthetic catalog; return its galaxies' keys and
    positions (METADATA), which the V2 catalogs' GALZONE rows refer to."""
    synth = write_catalogs(folder, n, seed)
    ingest(db, [p for p in synth.files if p.name.startswith("DESIVAST_")])
    parts = []
    for path in (p for p in synth.files if p.name.startswith("fastspec-")):
        with fits.open(path, memmap=True) as hdul:
            meta = hdul["METADATA"].data
            parts.append({c.name: np.array(meta[c.name.upper()]) for c in COLUMNS[:6]})
            for key in ("survey", "program"):
                parts[-1][key] = np.strings.rstrip(parts[-1][key])
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def void_counts(db: Database) -> str:
    """VoidFinder voids and holes, and V2 voids per algorithm, as ingested."""
    table = lambda name: sql.Identifier(db.ns.raw, name)  # noqa: E731
    with db.connect() as conn:
        count = lambda name: conn.execute(  # noqa: E731
            sql.SQL("SELECT count(*) FROM {}").format(table(name))).fetchone()[0]
        v2 = conn.execute(sql.SQL("SELECT algorithm, count(*) FROM {} JOIN {} USING (catalog) "
                                  "GROUP BY 1 ORDER BY 1").format(
            table("v2_voids"), table("void_catalogs"))).fetchall()
        return (f"VoidFinder {count('vf_maximals'):,} voids with {count('vf_holes'):,} holes; "
                + ", ".join(f"{alg} {k:,} voids" for alg, k in v2)
                + f"; {count('v2_galzone'):,} V2 input galaxies (GALZONE)")


def random_galaxies(n: int, first_id: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Positions uniform in comoving volume inside the caps, ZLIML < z < ZLIMU (the void shell)."""
    dist = distances(OMEGAM_VF)
    weights = np.array([cap.solid_angle for cap in CAPS])
    per_cap = rng.multinomial(n, weights / weights.sum())
    drawn = [cap.sample(k, rng) for cap, k in zip(CAPS, per_cap, strict=True)]
    ra, dec = (np.concatenate([d[i] for d in drawn]) for i in (0, 1))
    lo, hi = dist.comoving(np.array([ZLIML, ZLIMU])) ** 3
    z = dist.redshift(np.cbrt(rng.uniform(lo, hi, n)))
    return {"targetid": first_id + np.arange(n), "survey": np.full(n, b"main"),
            "program": np.full(n, b"bright"), "ra": ra, "dec": dec, "z": z}


def load_galaxies(db: Database, known: dict[str, np.ndarray], n: int, seed: int,
                  wide: list[CopyColumn]) -> None:
    """raw.galaxies := the known galaxies, then random ones up to n rows, with the `wide`
    columns made chunk by chunk; keys and ANALYZE after."""
    rng = np.random.default_rng(seed)
    take = min(n, len(known["z"]))
    extra = random_galaxies(n - take, int(known["targetid"].max()) + 1, rng)
    values = {k: np.concatenate([known[k][:take], extra[k]]) for k in extra}
    values["logmstar"] = rng.normal(10.0, 0.7, n)
    values["logmstar_ivar"] = np.where(rng.random(n) < 0.03, 0.0, 1.0)  # a few unmeasured
    values["absmag01_sdss_r"] = rng.normal(-20.5, 1.2, n)
    values["absmag01_sdss_g"] = values["absmag01_sdss_r"] + rng.normal(0.7, 0.2, n)
    table, encoder = sql.Identifier(db.ns.raw, "galaxies"), RowEncoder(COLUMNS + wide)
    with db.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        ensure_table(conn, db.ns.raw, "galaxies", COLUMNS + wide, False)
        with copy_in(conn, table, COLUMNS + wide) as send:
            for start in range(0, n, CHUNK_ROWS):
                base = [values[c.name][start:start + CHUNK_ROWS] for c in COLUMNS]
                more = chunk_values(wide, len(base[0]), rng)
                send(encoder.encode(base + more))
        conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
            table, sql.SQL(", ").join(map(sql.Identifier, KEYS))))
        conn.execute(sql.SQL("ANALYZE {}").format(table))


def build_child(properties: list[str]) -> dict[str, float]:
    """One feature build in a fresh process: seconds per phase and this process's peak RSS (MB)."""
    cfg = load_config()
    cfg.properties = OmegaConf.create({k: cfg.properties[k] for k in properties})
    summary = build.build(open_database(PREFIX), cfg)
    return summary.phases | {"compute_s": summary.compute_s, "load_s": summary.load_s,
                             "catalogs": len(summary.catalogs),
                             "vf_in_void": summary.in_void_fraction.get("vf", math.nan),
                             "peak_rss_mb": peak_rss_mb()}


def run_build(properties: list[str], repeat: int) -> dict[str, float]:
    """The fastest of `repeat` builds (each in its own process); peak RSS is the largest seen."""
    runs = []
    for _ in range(repeat):
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            runs.append(pool.submit(build_child, properties).result())
    best = min(runs, key=lambda r: r["compute_s"] + r["load_s"])
    return best | {"peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}


def report(args, voids: str, known: int, sizes: tuple[int, int], runs: list[dict]) -> None:
    """The table of figures at N and 4N, then the one machine-readable line (for the 4N run)."""
    (n, big), (a, b) = sizes, runs
    total = [r["compute_s"] + r["load_s"] for r in runs]
    nlogn = big * math.log(big) / (n * math.log(n))
    extrapolated = total[1] * TARGET_ROWS * math.log(TARGET_ROWS) / (big * math.log(big))
    rows = [("compute s", [r["compute_s"] for r in runs]), ("load s", [r["load_s"] for r in runs])]
    rows += [(f"  {name}", [r.get(name, 0.0) for r in runs]) for name in PHASES]
    rows += [("total s", total),
             ("rows/s", [size / t for size, t in zip(sizes, total, strict=True)]),
             ("peak RSS MB", [r["peak_rss_mb"] for r in runs])]
    print(f"\nbench_features: {a['catalogs']} void catalogs from write_catalogs("
          f"{args.synth_galaxies:,}): {voids}")
    print(f"raw.galaxies: its first {min(known, n):,} galaxies, then random positions uniform "
          f"in volume in the NGC/SGC boxes, {ZLIML} < z < {ZLIMU}; properties "
          f"{describe(args)}; best of {args.repeat}; VoidFinder in-void fraction "
          f"{a['vf_in_void']:.2f} at N, {b['vf_in_void']:.2f} at 4N")
    print(f"\n{'':<34}{f'N={n:,}':>14}{f'4N={big:,}':>14}{'4N/N':>8}")
    for name, (x, y) in rows:
        fmt = ",.0f" if x >= 1000 else ",.2f"
        print(f"{name:<34}{x:>14{fmt}}{y:>14{fmt}}{y / x if x else math.nan:>8.2f}")
    print(f"\ntime 4N/N = {total[1] / total[0]:.2f}; N log N expects 4 log(4N)/log(N) = "
          f"{nlogn:.2f}")
    print(f"extrapolated to {TARGET_ROWS / 1e6:.1f} M rows (N log N from the 4N run): "
          f"{extrapolated:.0f} s (target < {TARGET_S:.0f} s)")
    print(f"bench_features n={big} compute_s={b['compute_s']:.2f} load_s={b['load_s']:.2f} "
          f"rows_per_s={big / total[1]:.0f} properties={args.properties} "
          f"ratio_4n={total[1] / total[0]:.3f} "
          f"nlogn_ratio={nlogn:.3f} extrapolated_6_4m_s={extrapolated:.1f} "
          f"peak_rss_mb={b['peak_rss_mb']:.0f}")


NEAR_QUERY = """
SELECT count(*) FROM {voids} v JOIN {galaxy} g
  ON point(g.x, g.y) <@ box(point(v.x - %(d)s, v.y - %(d)s), point(v.x + %(d)s, v.y + %(d)s))
WHERE v.catalog = %(catalog)s AND v.void = %(void)s
  AND (g.x - v.x) ^ 2 + (g.y - v.y) ^ 2 + (g.zc - v.z) ^ 2 < %(d)s ^ 2"""


def pages_touched(conn, galaxy: sql.Identifier, voids: sql.Identifier, params: dict) -> int:
    """Shared buffers (hit + read) one galaxies-near-void query touches: what it reads on a cold
    cache, independent of what happens to be cached."""
    plan = conn.execute(sql.SQL("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + NEAR_QUERY).format(
        voids=voids, galaxy=galaxy), params).fetchone()[0][0]["Plan"]
    return plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]


def proximity_pages(db: Database, voids: list[tuple]) -> tuple[float, float]:
    """Median pages per query on features.galaxy (written in spatial order) and on a copy in
    raw.galaxies' order (the layout before spatial ordering)."""
    fs = db.ns.features
    galaxy, copy = sql.Identifier(fs, "galaxy"), sql.Identifier(fs, "galaxy_table_order")
    with db.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} AS SELECT * FROM {} ORDER BY targetid").format(
            copy, galaxy))
        conn.execute(sql.SQL("CREATE INDEX ON {} USING gist (point(x, y))").format(copy))
        conn.execute(sql.SQL("ANALYZE {}").format(copy))
        pages = {name: [] for name in ("spatial", "table")}
        for catalog, void, radius in voids:
            params = {"catalog": catalog, "void": void, "d": 2 * radius}
            for name, table in (("spatial", galaxy), ("table", copy)):
                pages[name].append(pages_touched(conn, table, sql.Identifier(fs, "voids"), params))
        conn.execute(sql.SQL("DROP TABLE {}").format(copy))
    return float(np.median(pages["spatial"])), float(np.median(pages["table"]))


def proximity_latency(db: Database, rows: int, queries: int = 30) -> None:
    """Median and max ms of the two proximity functions on the final table, their plan, and the
    pages a query touches with and without the spatial order."""
    fs = db.ns.features
    with db.connect() as conn:
        voids = conn.execute(sql.SQL(
            "SELECT catalog, void, radius FROM {} WHERE algorithm = 'VoidFinder' "
            "ORDER BY random() LIMIT %s").format(sql.Identifier(fs, "voids")), (queries,)
        ).fetchall()
        galaxies = [r[0] for r in conn.execute(sql.SQL(
            "SELECT targetid FROM {} TABLESAMPLE SYSTEM (1) LIMIT %s").format(
            sql.Identifier(fs, "galaxy")), (queries,))]
        near, nearest, found = [], [], 0
        for catalog, void, radius in voids:
            started = time.perf_counter()
            found += len(conn.execute(sql.SQL("SELECT * FROM {}(%s, %s, %s)").format(
                sql.Identifier(fs, "galaxies_near_void")), (catalog, void, 2 * radius)).fetchall())
            near.append(1000 * (time.perf_counter() - started))
        for targetid in galaxies:
            started = time.perf_counter()
            conn.execute(sql.SQL("SELECT * FROM {}(%s)").format(
                sql.Identifier(fs, "nearest_void")), (targetid,)).fetchall()
            nearest.append(1000 * (time.perf_counter() - started))
        catalog, void, radius = voids[0]
        plan = [r[0] for r in conn.execute(sql.SQL(
            "EXPLAIN SELECT g.targetid FROM {} g, {} v WHERE v.catalog = %s AND v.void = %s AND "
            "point(g.x, g.y) <@ box(point(v.x - 30, v.y - 30), point(v.x + 30, v.y + 30))").format(
            sql.Identifier(fs, "galaxy"), sql.Identifier(fs, "voids")), (catalog, void))]
    spatial, table = proximity_pages(db, voids)
    print(f"\nproximity on {rows:,} galaxies ({queries} queries each):")
    print(f"  galaxies_near_void(d = 2 R_void): median {np.median(near):.1f} ms, max "
          f"{max(near):.1f} ms, {found / len(voids):,.0f} galaxies per void")
    print(f"  pages touched per query (= reads on a cold cache): median {spatial:,.0f} in "
          f"spatial order vs {table:,.0f} in raw.galaxies order; ratio {spatial / table:.3f}")
    print(f"  nearest_void(targetid): median {np.median(nearest):.1f} ms, "
          f"max {max(nearest):.1f} ms")
    print("  plan: " + " / ".join(line.strip() for line in plan if "Scan" in line))


def chosen_properties(args: argparse.Namespace) -> list[str]:
    return PROPERTIES if args.properties == "few" else list(load_config().properties)


def describe(args: argparse.Namespace) -> str:
    if args.properties == "few":
        return f"{', '.join(PROPERTIES)} only"
    width = len(COLUMNS) + len(extra_columns(load_config().properties, [c.name for c in COLUMNS]))
    return f"all {len(chosen_properties(args))} of configs/features.yaml on a {width}-column table"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--n", type=int, default=250_000, help="galaxies of the small run (N)")
    parser.add_argument("--synth-galaxies", type=int, default=50_000,
                        help="galaxies of the synthetic catalog whose void files are used")
    parser.add_argument("--repeat", type=int, default=1, help="builds per size; the best is kept")
    parser.add_argument("--properties", choices=["few", "default"], default="few",
                        help=f"few: {', '.join(PROPERTIES)}; default: all of configs/features.yaml"
                        " on a table as wide as an ingested raw.galaxies")
    parser.add_argument("--seed", type=int, default=1, help="seed of the catalog and positions")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` cleans up on kill
    sizes = (args.n, 4 * args.n)
    db = open_database(PREFIX, migrate=False)
    try:
        drop_namespace(db)  # leftovers of an interrupted run would clash with the void ingest
        db = open_database(PREFIX)
        with tempfile.TemporaryDirectory(prefix="bench_features_") as tmp:
            known = prepare_voids(db, Path(tmp), args.synth_galaxies, args.seed)
        runs, properties = [], chosen_properties(args)
        extra = [] if args.properties == "few" else extra_columns(
            load_config().properties, [c.name for c in COLUMNS])
        for size in sizes:
            load_galaxies(db, known, size, args.seed, extra)
            runs.append(run_build(properties, args.repeat))
        proximity_latency(db, sizes[-1])
        report(args, void_counts(db), len(known["z"]), sizes, runs)  # ends with the summary line
    finally:
        drop_namespace(db)


if __name__ == "__main__":
    main()
