"""The server's caches alone (no server, no database). Pictures: bounded by bytes, least
recently used dropped first, one drawing per tag however many requests wait for it, and a failed
drawing leaves nothing behind. Searches: callers get copies, wide searches are not kept.
Invalidation on a server is in test_finder.py."""

from __future__ import annotations

import threading
import time

import pytest

from desivoid_ml.finder.picture_cache import PictureCache
from desivoid_ml.finder.search_cache import MAX_ROWS, SearchCache


def test_the_least_recently_used_picture_goes_first_when_full() -> None:
    cache = PictureCache(max_bytes=30)
    cache.put("a", b"a" * 10)
    cache.put("b", b"b" * 10)
    cache.put("c", b"c" * 10)
    assert cache.get("a") == b"a" * 10  # a is now the most recent
    cache.put("d", b"d" * 10)
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("d") is not None
    assert cache.size == 30 and len(cache) == 3
    cache.put("huge", b"x" * 31)  # larger than the whole cache: not kept, nothing evicted
    assert cache.get("huge") is None and len(cache) == 3


def test_concurrent_requests_for_one_tag_draw_it_once() -> None:
    cache = PictureCache()
    drawn = []

    def draw() -> bytes:
        drawn.append(1)
        time.sleep(0.2)
        return b"png"

    answers: list[tuple[bytes, bool]] = []
    threads = [
        threading.Thread(target=lambda: answers.append(cache.get_or_draw("t", draw)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(drawn) == 1
    assert sorted(flag for _, flag in answers) == [False] * 7 + [True]
    assert {picture for picture, _ in answers} == {b"png"}


def test_a_failed_drawing_is_not_cached_and_is_tried_again() -> None:
    cache = PictureCache()

    def fail() -> bytes:
        raise RuntimeError("no database")

    with pytest.raises(RuntimeError):
        cache.get_or_draw("t", fail)
    assert cache.get("t") is None
    assert cache.get_or_draw("t", lambda: b"png") == (b"png", True)
    assert cache.get_or_draw("t", lambda: b"other") == (b"png", False)


def test_a_search_is_run_once_and_callers_get_their_own_rows() -> None:
    cache = SearchCache(max_entries=2)
    runs = []

    def search() -> tuple[list[str], list[dict]]:
        runs.append(1)
        return ["targetid"], [{"targetid": 1}]

    names, rows = cache.get_or_search(("a",), 10, search)
    rows[0]["g_r"] = 0.5  # the finder adds columns to its rows
    names.append("g_r")
    assert cache.get_or_search(("a",), 10, search) == (["targetid"], [{"targetid": 1}])
    assert len(runs) == 1
    cache.get_or_search(("b",), 10, search)
    cache.get_or_search(("c",), 10, search)  # ("a",) is the least recently used: dropped
    cache.get_or_search(("a",), 10, search)
    assert len(runs) == 4
    cache.get_or_search(("wide",), MAX_ROWS + 1, search)
    cache.get_or_search(("wide",), MAX_ROWS + 1, search)
    assert len(runs) == 6
