"""The load generator of `bench_finder.py`: keep-alive HTTP clients mixing pages, plots and API
calls in equal parts, spread over a few processes so that no client waits for the GIL of 31
others (32 threads in one process measured their own GIL waits as the server's latency)."""

from __future__ import annotations

import http.client
import multiprocessing
import random
import threading
import time

import numpy as np

KINDS = ("page", "plot", "api")


def request_path(rnd: random.Random, keys: list[tuple]) -> tuple[str, str]:
    """(kind, path) of one request: pages, plots and API calls in equal parts."""
    t, s, p, ra, dec = rnd.choice(keys)
    key = f"survey={s}&program={p}"
    kind = rnd.choice(KINDS)
    paths = {
        "page": (
            f"/galaxy/{t}?{key}",
            f"/similar/{t}?{key}",
            f"/?ra={ra + 0.0001:.6f}&dec={dec:.6f}&radius=10",
            "/runs",
            "/",
        ),
        "plot": (f"/plot/slice/{t}.png?{key}", f"/plot/map/{t}.png?{key}&k=10"),
        "api": (
            f"/api/galaxy/{t}?{key}",
            f"/api/search?ra={ra + 0.0001:.6f}&dec={dec:.6f}&radius=10",
            f"/api/similar?targetid={t}&{key}&k=10",
            "/api/runs",
        ),
    }[kind]
    return kind, rnd.choice(paths)


def _client(port: int, keys: list[tuple], seed: int, stop: float, out: dict) -> None:
    """One client: requests until `stop`, its latencies and errors added to `out`."""
    rnd = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < stop:
        kind, path = request_path(rnd, keys)
        t0 = time.perf_counter()
        try:
            conn.request("GET", path)  # never If-None-Match: every picture is sent in full
            response = conn.getresponse()
            response.read()
            out["not_modified"] += response.status == 304
            out["server_hits"] += response.getheader("X-Cache") == "hit"
            if response.status not in (200, 304):
                what = f"{response.status} {path.split('?')[0][:24]}"
                out["errors"][what] = 1 + out["errors"].get(what, 0)
        except (OSError, http.client.HTTPException) as exc:
            name = type(exc).__name__
            out["errors"][name] = 1 + out["errors"].get(name, 0)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        out[kind].append((time.perf_counter() - t0) * 1000)


def _process(port: int, keys: list[tuple], seeds: list[int], stop: float) -> dict:
    """Threads for `seeds` in this process until `stop` (time.monotonic is system-wide)."""
    outs = [
        {"errors": {}, "not_modified": 0, "server_hits": 0, **{k: [] for k in KINDS}} for _ in seeds
    ]
    threads = [
        threading.Thread(target=_client, args=(port, keys, seed, stop, out))
        for seed, out in zip(seeds, outs, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged: dict = {"errors": {}, "not_modified": 0, "server_hits": 0, **{k: [] for k in KINDS}}
    for out in outs:
        for k in KINDS:
            merged[k].extend(out[k])
        for k, n in out["errors"].items():
            merged["errors"][k] = merged["errors"].get(k, 0) + n
        merged["not_modified"] += out["not_modified"]
        merged["server_hits"] += out["server_hits"]
    return merged


def load(port: int, keys: list[tuple], clients: int, seconds: float, processes: int = 4) -> dict:
    """`clients` keep-alive clients over `processes` processes for `seconds`; the latency of
    every request and the errors (any answer but 200 / 304, or a timeout)."""
    processes = max(1, min(processes, clients))
    seeds = [list(range(clients))[i::processes] for i in range(processes)]
    stop = time.monotonic() + seconds
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        parts = pool.starmap(_process, [(port, keys, s, stop) for s in seeds])
        pool.close()
        pool.join()
    elapsed = time.perf_counter() - started
    latencies = {k: [x for part in parts for x in part[k]] for k in KINDS}
    errors: dict[str, int] = {}
    for part in parts:
        for k, n in part["errors"].items():
            errors[k] = errors.get(k, 0) + n
    every = [x for k in KINDS for x in latencies[k]]
    return {
        "requests": len(every),
        "rps": len(every) / elapsed,
        "p50_ms": float(np.percentile(every, 50)),
        "p95_ms": float(np.percentile(every, 95)),
        "p95_by_kind": {k: float(np.percentile(v, 95)) for k, v in latencies.items() if v},
        "plots": len(latencies["plot"]),
        "plot_cache_hits": sum(part["not_modified"] for part in parts),
        "server_cache_hits": sum(part["server_hits"] for part in parts),
        "errors": sum(errors.values()),
        "error_kinds": errors,
    }


def report(label: str, clients: int, result: dict) -> None:
    kinds = ", ".join(f"{k} {v:.1f}" for k, v in result["p95_by_kind"].items())
    print(
        f"{label}: {clients} clients, {result['requests']:,} requests, {result['rps']:.1f}/s, "
        f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms (p95 by kind: {kinds}), "
        f"errors {result['errors']} {result['error_kinds'] or ''}; plots {result['plots']}: "
        f"304 (client cache) {result['plot_cache_hits']}, served from the server's picture "
        f"cache {result['server_cache_hits']}, drawn "
        f"{result['plots'] - result['plot_cache_hits'] - result['server_cache_hits']}",
        flush=True,
    )
