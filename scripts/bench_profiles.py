#!/usr/bin/env python
"""`desivoid profiles` time and peak memory at N galaxies, against the read alone.

Builds a synthetic features.galaxy of N galaxies (uniform in a 100-600 Mpc/h shell over
RA 100-260, Dec -10-70; all four algorithms' samples, r/R_void, g_r, log_ssfr, log M*, z) and
features.voids with DR1's void counts (VoidFinder 3,765, VIDE 1,478, ZOBOV 3,517, REVOLVER
1,992), in the `benchp_` namespace. Then, each in a fresh process: (1) the baseline, one binary
COPY of the same columns the profiles read; (2) the whole computation (2 properties x 4 mass
bins x 7 r/R bins x 4 algorithms, z-matched, 64-region jackknife, and the density profiles).
Peak RSS is the child's own (VmHWM). The namespace is dropped at the end.

    .venv/bin/python scripts/bench_profiles.py --n 1000000
Last line: `bench_profiles n= read_s= profiles_s= ratio= peak_mb=`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from psycopg import sql

from desivoid_ml.db.connection import drop_namespace, open_database

PREFIXES = ("vf", "vide", "zobov", "revolver")
VOIDS = {
    "VoidFinder": (3765, 12.6, 2.3),
    "VIDE": (1478, 17.3, 6.6),
    "ZOBOV": (3517, 13.7, 5.0),
    "REVOLVER": (1992, 17.2, 5.7),
}  # count, mean and sd of the radius [Mpc/h]

SHELL = """(SELECT 100 + 160 * random() AS ra,
        degrees(asin(sin(radians(-10)) + (sin(radians(70)) - sin(radians(-10))) * random())) AS dec,
        cbrt(100^3 + (600^3 - 100^3) * random()) AS d, i AS seq)"""  # seq: one draw per row

GALAXY_SQL = """
CREATE TABLE {g} AS
SELECT t.*, d * cos(radians(dec)) * cos(radians(ra)) AS x,
       d * cos(radians(dec)) * sin(radians(ra)) AS y, d * sin(radians(dec)) AS zc
FROM (SELECT i::bigint AS targetid, s.*, 0.02 + 0.2 * random() AS z,
             9 + 3 * random() AS logmstar, 0.4 + 0.5 * random() AS g_r,
             -11 + 2 * random() AS log_ssfr, {samples}
      FROM generate_series(1, %s) i, LATERAL {shell} s) t
"""

CHILD = """
import json, sys, time
from desivoid_ml.db.connection import open_database
from desivoid_ml.memory import peak_rss_mb
from desivoid_ml.analysis import profiles as p
from desivoid_ml.analysis.profile_data import read_columns
db = open_database(prefix=sys.argv[1])
request = p.ProfileRequest()
t0 = time.perf_counter()
with db.connect() as conn:
    if sys.argv[2] == 'read':
        prefixes = ['vf', 'vide', 'zobov', 'revolver']
        floats = [f'{x}_r_over_rvoid' for x in prefixes]
        floats += [*request.properties, request.mass, *p.POSITIONS]
        rows = len(read_columns(conn, db.ns, prefixes, floats)['ra'])
    else:
        rows = len(p.profiles(conn, db.ns, request).rows)
print(json.dumps({'seconds': time.perf_counter() - t0, 'peak_mb': peak_rss_mb(), 'rows': rows}))
"""


def build(db, n: int) -> None:
    samples = ", ".join(
        f"CASE WHEN random() < 0.05 THEN NULL WHEN r{i} < 1 THEN 'void' ELSE 'wall' END "
        f"AS {p}_sample, r{i} AS {p}_r_over_rvoid"
        for i, p in enumerate(PREFIXES)
    )
    radii = ", ".join(f"2 * random() AS r{i}" for i in range(len(PREFIXES)))
    shell = SHELL.replace("AS d,", f"AS d, {radii},")
    with db.connect() as conn:
        conn.execute("SELECT setseed(0.42)")
        conn.execute(
            sql.SQL(GALAXY_SQL.format(g="{g}", samples=samples, shell=shell)).format(
                g=sql.Identifier(db.ns.features, "galaxy")
            ),
            (n,),
        )
        voids = sql.Identifier(db.ns.features, "voids")
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (algorithm text, x float8, y float8, z float8, radius float8)"
            ).format(voids)
        )
        for name, (count, mean, sd) in VOIDS.items():
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} SELECT %s, d * cos(radians(dec)) * cos(radians(ra)), "
                    "d * cos(radians(dec)) * sin(radians(ra)), d * sin(radians(dec)), "
                    "greatest(%s + %s * (random() + random() + random() - 1.5) * 2, 5) "
                    "FROM generate_series(1, %s) i, LATERAL {} s"
                ).format(voids, sql.SQL(SHELL)),
                (name, mean, sd, count),
            )
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(db.ns.features, "galaxy")))


def child(prefix: str, what: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, prefix, what],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    if done.returncode:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000)
    args = p.parse_args()
    db = open_database(prefix="benchp_")
    try:
        build(db, args.n)
        read = child(db.ns.prefix, "read")
        print(
            f"read     {read['rows']:>10,} galaxies {read['seconds']:6.1f} s "
            f"peak {read['peak_mb']:.0f} MB",
            flush=True,
        )
        full = child(db.ns.prefix, "profiles")
        print(
            f"profiles {full['rows']:>10,} rows     {full['seconds']:6.1f} s "
            f"peak {full['peak_mb']:.0f} MB",
            flush=True,
        )
    finally:
        drop_namespace(db)
    print(
        f"bench_profiles n={args.n} read_s={read['seconds']:.1f} "
        f"profiles_s={full['seconds']:.1f} ratio={full['seconds'] / read['seconds']:.2f} "
        f"peak_mb={full['peak_mb']:.0f} read_peak_mb={read['peak_mb']:.0f}"
    )


if __name__ == "__main__":
    main()
