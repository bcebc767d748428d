"""Where the pictures are drawn: separate processes, one per core (at most 4; on 2 cores two
drawing processes gave p95 211 ms against 356 ms with one under bench_finder's 32 clients, one
run each; DESIVOID_RENDER_PROCESSES overrides), started on the first picture and shared by
every app of the process. Drawing in a thread would hold the
GIL for the whole render (a few hundred ms under load) and stall the pages and API calls that
the same server answers meanwhile."""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

RENDER_PROCESSES_ENV = "DESIVOID_RENDER_PROCESSES"


def render_processes() -> int:
    """DESIVOID_RENDER_PROCESSES if set (>= 1), else one per core (1 to 4)."""
    text = os.environ.get(RENDER_PROCESSES_ENV, "").strip()
    if text.isdigit() and int(text) >= 1:
        return int(text)
    return max(1, min(4, os.cpu_count() or 1))
PARENT_POLL_S = 0.5
_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def render(function: Callable[..., bytes], *args) -> bytes:
    """function(*args) in a render process (a module-level function of plain arguments)."""
    return _executor().submit(function, *args).result()


def _watch_server(server_pid: int) -> None:
    """In the render process: exit when the server is gone. uvicorn re-raises SIGTERM after its
    shutdown, so the server's atexit never runs and its render processes would live on."""

    def watch() -> None:
        while os.getppid() == server_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="watch-server").start()


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            context = multiprocessing.get_context("spawn")  # no fork of a threaded server
            _pool = ProcessPoolExecutor(
                render_processes(),
                mp_context=context,
                initializer=_watch_server,
                initargs=(os.getpid(),),
            )
            atexit.register(_pool.shutdown, cancel_futures=True)
        return _pool
