#!/usr/bin/env python
"""`desivoid export` peak memory at 100 k and 1 M rows: flat in N means it streams.

Builds bench_finder's synthetic features.galaxy (20 columns) at both sizes in the `benche_`
namespaces, exports each to Parquet, FITS and CSV in a fresh process, and reports that
process's peak RSS (VmHWM: its own, not the parent's) and its RSS after imports.
Namespaces are dropped at the end.

    .venv/bin/python scripts/bench_export.py
    .venv/bin/python scripts/bench_export.py --sizes 20000 200000   # quick check
Last line: `bench_export ... peak_mb_small= peak_mb_large= ratio=`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_finder import GALAXY_SQL  # noqa: E402

from desivoid_ml.db.connection import drop_namespace, open_database  # noqa: E402
from desivoid_ml.keys import key_hash_sql  # noqa: E402

CHILD = """
import json, sys, time
from pathlib import Path
from desivoid_ml.db.connection import open_database
from desivoid_ml.export.run import export
from desivoid_ml.memory import peak_rss_mb, rss_mb
import pyarrow.parquet, astropy.io.fits  # imported before the baseline is read
base = rss_mb()
t0 = time.perf_counter()
summary = export(open_database(prefix=sys.argv[1]), 'features', sys.argv[2], Path(sys.argv[3]))
peak = peak_rss_mb()
print(json.dumps({'rows': summary.rows, 'seconds': time.perf_counter() - t0,
                  'base_mb': base, 'peak_mb': peak, 'bytes': Path(sys.argv[3]).stat().st_size}))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", type=int, nargs=2, default=[100_000, 1_000_000])
    p.add_argument("--formats", nargs="+", default=["parquet", "fits", "csv"])
    args = p.parse_args()
    peaks: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            db = open_database(prefix=f"benche{n}_")
            try:
                with db.connect() as conn:
                    conn.execute("SELECT setseed(0.42)")
                    conn.execute(
                        sql.SQL(GALAXY_SQL).format(
                            g=sql.Identifier(db.ns.features, "galaxy"), key_hash=key_hash_sql("t")
                        ),
                        (n,),
                    )
                for fmt in args.formats:
                    out = Path(tmp) / f"features_{n}.{fmt}"
                    done = subprocess.run(
                        [sys.executable, "-c", CHILD, db.ns.prefix, fmt, str(out)],
                        check=True,
                        capture_output=True,
                        text=True,
                        env=os.environ.copy(),
                    )
                    r = json.loads(done.stdout.strip().splitlines()[-1])
                    out.unlink()
                    peaks[n] = max(peaks.get(n, 0.0), r["peak_mb"])
                    print(
                        f"{fmt:<8}{r['rows']:>10,} rows {r['seconds']:6.1f} s "
                        f"{r['rows'] / r['seconds']:>10,.0f} rows/s {r['bytes'] / 2**20:8.1f} MB "
                        f"file; RSS after imports {r['base_mb']:.0f} MB, "
                        f"peak {r['peak_mb']:.0f} MB",
                        flush=True,
                    )
            finally:
                drop_namespace(db)
    small, large = args.sizes
    print(
        f"bench_export rows_small={small} rows_large={large} peak_mb_small={peaks[small]:.0f} "
        f"peak_mb_large={peaks[large]:.0f} ratio={peaks[large] / peaks[small]:.2f}"
    )


if __name__ == "__main__":
    main()
