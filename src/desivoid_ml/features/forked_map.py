"""`function(item)` for a list of items on forked worker processes, answers in input order.

Forked, so the workers share the caller's arrays (the galaxy sample, the void catalogs) without a
copy or a pickle; only the items and the answers cross the pipes. At most `in_flight` answers
wait at once, so memory stays bounded when the caller consumes slower than the workers produce.
Where fork does not exist, or with one process, the items run here, one after the other.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_function: Callable[[Any], Any] | None = None  # set before the fork; the workers inherit it


def _call(item: Any) -> Any:
    assert _function is not None
    return _function(item)


def release_freed_memory() -> None:
    """Hand the heap pages glibc keeps after frees back to the system (a no-op elsewhere):
    forked processes would otherwise share, and count, what the caller no longer uses."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def forked_map(
    function: Callable[[Any], Any], items: Iterable[Any], processes: int, in_flight: int = 2
) -> Iterator[Any]:
    """function(item) per item, in order, on `processes` forked processes."""
    if processes <= 1 or not can_fork():
        yield from map(function, items)
        return
    global _function
    _function = function
    release_freed_memory()
    gc.freeze()  # the collector would write to every object it visits: copies of their pages
    try:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            pending: deque = deque()
            for item in items:
                if len(pending) >= max(in_flight, processes):
                    yield pending.popleft().get()
                pending.append(pool.apply_async(_call, (item,)))
            while pending:
                yield pending.popleft().get()
    finally:
        _function = None
        gc.unfreeze()
