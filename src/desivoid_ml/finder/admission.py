"""How many requests the finder works on at once; the others wait in arrival order.

Every handler is a plain function run in a worker thread, and the threads are handed out by
anyio's default limiter, first come first served. Capped at the pool's size, a request that
gets a thread also gets a connection at once, and under more clients than that the wait is a
queue in arrival order rather than 40 threads sharing the GIL and the cores: a slow picture
then no longer stretches every request behind it, and the waits of cheap and costly requests
come out alike (scripts/bench_finder.py prints the p95 of each kind).
DESIVOID_FINDER_THREADS overrides the cap."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio.to_thread

THREADS_ENV = "DESIVOID_FINDER_THREADS"


def worker_threads(pool_size: int) -> int:
    """DESIVOID_FINDER_THREADS if set (>= 1), else the pool's size."""
    text = os.environ.get(THREADS_ENV, "").strip()
    return int(text) if text.isdigit() and int(text) >= 1 else max(1, pool_size)


def limited_threads(threads: int) -> Callable[[object], AbstractAsyncContextManager[None]]:
    """A Starlette lifespan that caps the handler threads at `threads` while the app runs."""

    @asynccontextmanager
    async def lifespan(_app: object) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    return lifespan
