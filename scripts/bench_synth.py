"""Time `write_catalogs` of this tree against a baseline tree, in the same run.

    python scripts/bench_synth.py --galaxies 200000 --baseline /tmp/base/src

Each side runs in its own process (so peak RSS is its own), the two sides alternating
`--repeat` times (best time of each side is kept: the machine is shared), into a temporary
folder that is removed afterwards. The baseline is a `src` folder of another commit
(e.g. `git archive <commit> src | tar -x -C /tmp/base`). Prints seconds, rows/s, peak RSS and
the ratios current / baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time
from pathlib import Path
from desivoid_ml.synth import write_catalogs
t0 = time.perf_counter()
s = write_catalogs(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
print(json.dumps({"seconds": time.perf_counter() - t0, "bytes": s.bytes_written,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_side(src: Path, galaxies: int, seed: int) -> dict:
    """One synth run with `src` first on the import path; its timing and peak RSS."""
    env = dict(os.environ, PYTHONPATH=str(src))
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as out:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, out, str(galaxies), str(seed)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--galaxies", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--baseline", type=Path, required=True, help="src folder of the baseline")
    parser.add_argument("--repeat", type=int, default=2, help="runs per side (best kept)")
    args = parser.parse_args()
    trees = {"baseline": args.baseline, "current": Path(__file__).resolve().parents[1] / "src"}
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(args.repeat):
        for name, src in trees.items():
            runs[name].append(run_side(src, args.galaxies, args.seed))
    sides = {name: min(r, key=lambda x: x["seconds"]) for name, r in runs.items()}
    for name, r in runs.items():
        print(f"{name:9s} runs: " + ", ".join(f"{x['seconds']:.1f} s" for x in r))
    for name, r in sides.items():
        print(
            f"{name:9s} {r['seconds']:8.1f} s  {args.galaxies / r['seconds']:9,.0f} rows/s  "
            f"peak RSS {r['peak_rss_mb']:7.0f} MB  {r['bytes'] / 1e6:8.1f} MB written"
        )
    base, cur = sides["baseline"], sides["current"]
    print(
        f"current / baseline: time {cur['seconds'] / base['seconds']:.2f}x, "
        f"peak RSS {cur['peak_rss_mb'] / base['peak_rss_mb']:.2f}x"
    )


if __name__ == "__main__":
    main()
