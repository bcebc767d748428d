"""The finder works on at most pool-size requests at once; the rest wait their turn."""

from __future__ import annotations

import threading
import time

import anyio
import anyio.to_thread

from desivoid_ml.finder import admission


def test_handler_threads_never_exceed_the_cap() -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def handler() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    async def serve_twelve() -> None:
        async with admission.limited_threads(3)(None), anyio.create_task_group() as group:
            for _ in range(12):
                group.start_soon(anyio.to_thread.run_sync, handler)

    anyio.run(serve_twelve)
    assert most == 3


def test_the_cap_is_the_pool_size_unless_set(monkeypatch) -> None:
    monkeypatch.delenv(admission.THREADS_ENV, raising=False)
    assert admission.worker_threads(8) == 8
    monkeypatch.setenv(admission.THREADS_ENV, "5")
    assert admission.worker_threads(8) == 5
    monkeypatch.setenv(admission.THREADS_ENV, "zero")
    assert admission.worker_threads(8) == 8
