"""The whole pipeline at a chosen size, stage by stage, on a data folder and server of its own.

    python scripts/bench_pipeline.py --galaxies 100000      # or: make bench-pipeline N=100000

synth -> ingest -> validate -> features -> one training epoch (ae16) -> embed (index build
included) -> 1,000 similarity queries (p95 at k = 10 and recall@10 against exact search) -> the
same vectors indexed by FAISS IndexHNSWFlat (same m / ef_construction, 2 threads) as a same-run
anchor (bench_index_check.py). Each stage runs as the user would run it (`desivoid ...`,
`python train.py ...`) with DESIVOID_DATA_DIR pointing at a fresh folder, so it starts its own
embedded PostgreSQL. Printed per stage: seconds, rows/s, peak memory of the stage's process tree
and of the server (PSS: shared buffers counted once), then one machine-readable last line.
The folder is deleted at the end unless --keep.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from bench_index_check import WARM_UP, IndexBuild, faiss_hnsw_s, latency_and_recall

ROOT = Path(__file__).resolve().parents[1]
DR1_GALAXIES = 6_445_927
SAMPLE_S = 0.5


@dataclass
class Stage:
    name: str
    seconds: float
    peak_mb: float
    server_mb: float
    output: str
    load_max: float = 0.0  # highest 1-minute load average seen while the stage ran


def _memory(proc: psutil.Process) -> float:
    """PSS where readable (shared memory counted once across processes), else RSS."""
    try:
        return float(proc.memory_full_info().pss)
    except (psutil.AccessDenied, AttributeError):
        return float(proc.memory_info().rss)


def _tree_bytes(root: psutil.Process | None) -> float:
    if root is None:
        return 0.0
    total = 0.0
    try:
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
                total += _memory(proc)
    except psutil.NoSuchProcess:
        return 0.0
    return total


def server_process(data_dir: Path) -> psutil.Process | None:
    """The embedded postmaster of this data folder, if it runs."""
    pidfile = data_dir / "pg" / "postmaster.pid"
    try:
        return psutil.Process(int(pidfile.read_text().split()[0]))
    except (FileNotFoundError, ValueError, IndexError, psutil.NoSuchProcess):
        return None


class Sampler(threading.Thread):
    """Peak memory of a child's process tree and of the server, sampled while the child runs."""

    def __init__(self, child: psutil.Process, data_dir: Path) -> None:
        super().__init__(daemon=True)
        self.child, self.data_dir = child, data_dir
        self.peak = self.server_peak = self.load_max = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(SAMPLE_S):
            self.peak = max(self.peak, _tree_bytes(self.child))
            self.server_peak = max(self.server_peak, _tree_bytes(server_process(self.data_dir)))
            self.load_max = max(self.load_max, os.getloadavg()[0])


def run_stage(name: str, argv: list[str], env: dict[str, str], data_dir: Path) -> Stage:
    """Run one stage to completion; its output goes to <data_dir>/<name>.log and is returned."""
    log_path = data_dir / f"{name}.log"
    print(f"==> {name}: {' '.join(argv)}", flush=True)
    started = time.perf_counter()
    with log_path.open("w") as log:
        child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        sampler = Sampler(psutil.Process(child.pid), data_dir)
        sampler.start()
        code = child.wait()
        sampler.stop.set()
        sampler.join()
    seconds = time.perf_counter() - started
    output = log_path.read_text()
    if code != 0 and name != "validate":  # a failed check is reported, not fatal
        sys.exit(f"stage {name} failed (exit {code}); see {log_path}:\n{output[-2000:]}")
    peak, server = sampler.peak / 2**20, sampler.server_peak / 2**20
    return Stage(name, seconds, peak, server, output, sampler.load_max)


def _drop_fastspec(work: Path, drop: bool) -> list[Stage]:
    """No stage: deletes the ingested FastSpecFit files (the void files stay) if asked."""
    if drop:
        for path in (work / "raw").rglob("fastspec-*.fits"):
            path.unlink()
        print("==> FastSpecFit FITS deleted after the ingest (--drop-fastspec)", flush=True)
    return []


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--galaxies", "-n", type=int, default=DR1_GALAXIES)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default data/bench-*)")
    parser.add_argument("--queries", type=int, default=1000, help="timed and recall queries")
    parser.add_argument("--no-faiss", action="store_true", help="skip the FAISS anchor build")
    parser.add_argument(
        "--drop-fastspec",
        action="store_true",
        help="delete the FastSpecFit FITS after the ingest (DR1: 28.7 GB) when the disk is short",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the folder and server")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    n = args.galaxies
    work = (args.dir or ROOT / "data" / f"bench-pipeline-{n}").resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DESIVOID_DSN", "DESIVOID_NAMESPACE")}
    env.update(DESIVOID_DATA_DIR=str(work), PYTHONUNBUFFERED="1", DESIVOID_PROGRESS_INTERVAL="30")
    bin_dir = Path(sys.executable).parent
    desivoid = [str(bin_dir / "desivoid")]
    print(
        f"bench_pipeline: {n:,} galaxies in {work}; load average "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}",
        flush=True,
    )
    total_started = time.perf_counter()
    stages = [
        run_stage(
            "synth",
            [
                *desivoid,
                "synth",
                "--out",
                str(work / "raw"),
                "--galaxies",
                str(n),
                "--seed",
                str(args.seed),
            ],
            env,
            work,
        ),
        run_stage("ingest", [*desivoid, "ingest", str(work / "raw")], env, work),
        *_drop_fastspec(work, args.drop_fastspec),
        run_stage("validate", [*desivoid, "validate"], env, work),
        run_stage("features", [*desivoid, "features"], env, work),
        run_stage(
            "train",
            [
                sys.executable,
                "train.py",
                "experiment=ae16",
                "trainer.max_epochs=1",
                "test=false",
                "trainer.enable_progress_bar=false",
                "torch_threads=1",
                f"paths.log_dir={work / 'logs'}",
            ],
            env,
            work,
        ),
        run_stage("embed", [*desivoid, "embed", "--run", "latest"], env, work),
    ]
    dsn = subprocess.run(
        [*desivoid, "db", "url"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    total_s = time.perf_counter() - total_started  # the stages, before the checks below
    fits_to_index_s = sum(s.seconds for s in stages if s.name != "synth")
    checks = latency_and_recall(dsn, args.queries, args.seed)
    disk_gb = sum(f.stat().st_size for f in work.rglob("*") if f.is_file()) / 1e9
    server_mb = max(s.server_mb for s in stages)
    by_name = {s.name: s for s in stages}
    built = IndexBuild.from_log(by_name["embed"].output)
    found = re.search(r"index\s+build\s+([\d.]+)\s+s", by_name["embed"].output)
    index_s = float(found.group(1)) if found else float("nan")
    notices = [
        line
        for s in stages
        for line in s.output.splitlines()
        if "no longer fits" in line or line.startswith("HNSW build:")
    ]

    print(
        f"\n{'stage':<10}{'seconds':>9}{'rows/s':>11}{'peak MB':>9}{'server MB':>11}"
        f"{'load max':>10}"
    )
    for s in stages:
        print(
            f"{s.name:<10}{s.seconds:>9.1f}{n / s.seconds:>11,.0f}{s.peak_mb:>9.0f}"
            f"{s.server_mb:>11.0f}{s.load_max:>10.1f}"
        )
    print(f"{'(index)':<10}{index_s:>9.1f}{n / index_s:>11,.0f}   (inside embed)")
    kind = built.kind if built else "unknown"
    print(
        f"index: {kind} {built.params if built else ''}, {built.memory_mb if built else 0} MB, "
        f"{built.workers if built else 0} workers; answered by: {checks['search']}\n"
        f"queries: {checks['queries']} x similar_galaxies(k=10): p50 {checks['p50_ms']:.1f} ms, "
        f"p95 {checks['p95_ms']:.1f} ms (the {WARM_UP} warm-up queries before them: p95 "
        f"{checks['cold_p95_ms']:.1f} ms); recall@10 vs exact {checks['recall']:.4f}; "
        f"data folder {disk_gb:.1f} GB"
    )
    for line in notices:
        print(f"index memory: {line.strip()}")
    peak_client = max(s.peak_mb for s in stages)
    summary = (
        f"bench_pipeline n={n} ingest_s={by_name['ingest'].seconds:.1f} "
        f"features_s={by_name['features'].seconds:.1f} epoch_s={by_name['train'].seconds:.1f} "
        f"embed_s={by_name['embed'].seconds:.1f} index_s={index_s:.1f} total_s={total_s:.1f} "
        f"fits_to_index_s={fits_to_index_s:.1f} peak_rss_mb={max(peak_client, server_mb):.0f} "
        f"peak_client_mb={peak_client:.0f} "
        f"server_mb={server_mb:.0f} p95_query_ms={checks['p95_ms']:.1f} "
        f"cold_p95_query_ms={checks['cold_p95_ms']:.1f} "
        f"recall_at_10={checks['recall']:.4f} index_kind={kind} "
        f"index_mem_mb={built.memory_mb if built else 0}"
    )
    print(summary, flush=True)  # complete but for the anchor, in case that is cut short
    ratio = float("nan")
    if built and built.kind == "hnsw" and not args.no_faiss:
        faiss_s = faiss_hnsw_s(
            checks["vectors"], built.params["m"], built.params["ef_construction"]
        )
        ratio = index_s / faiss_s
        print(
            f"FAISS IndexHNSWFlat, same vectors and m / ef_construction, 2 threads: "
            f"{faiss_s:.1f} s; ours / FAISS = {ratio:.2f}"
        )
    print(f"{summary} index_vs_faiss={ratio:.2f}")
    if not args.keep:
        subprocess.run([*desivoid, "db", "stop"], env=env, capture_output=True)
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
