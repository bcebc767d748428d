"""The embedded server's shared_buffers / effective_cache_size follow its indexes and the RAM."""

from __future__ import annotations

from desivoid_ml.db import cache_sizing

GB = 2**30


def test_no_index_keeps_the_base() -> None:
    chosen = cache_sizing.cache_settings(0, 24 * GB)
    assert chosen == {"shared_buffers": "1GB", "effective_cache_size": "18GB"}


def test_buffers_grow_with_the_index_within_a_quarter_of_the_ram() -> None:
    # a 6.4 M-row HNSW index of 16-d codes (m 8) is about 1.7 GB
    assert cache_sizing.cache_settings(int(1.7 * GB), 24 * GB)["shared_buffers"] == "4GB"
    assert cache_sizing.cache_settings(40 * GB, 24 * GB)["shared_buffers"] == "6GB"
    assert cache_sizing.cache_settings(40 * GB, 256 * GB)["shared_buffers"] == "51GB"
    small = cache_sizing.cache_settings(3 * GB, 2 * GB)  # never below the previous 1 GB
    assert small == {"shared_buffers": "1GB", "effective_cache_size": "1GB"}


def test_the_choice_is_announced_in_one_line() -> None:
    chosen = cache_sizing.cache_settings(2 * GB, 24 * GB)
    line = cache_sizing.describe(chosen, 2 * GB, 24 * GB)
    assert "\n" not in line and "shared_buffers 4GB" in line and "indexes 2.0 GB" in line
