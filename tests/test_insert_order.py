"""The insertion order of a run's codes: cells grow with the run, and every row goes to the cell
of its nearest centroid, so rows of one tight group share cells with no other group."""

from __future__ import annotations

import numpy as np

from desivoid_ml.embed import insert_order


def test_cells_grow_with_the_run_within_bounds() -> None:
    assert insert_order.cells_for(None) == insert_order.CELLS
    assert insert_order.cells_for(20_000) == insert_order.CELLS
    assert insert_order.cells_for(1_000_000) == insert_order.CELLS
    assert insert_order.cells_for(6_445_927) == 6_445_927 // insert_order.ROWS_PER_CELL
    assert insert_order.cells_for(10**10) == insert_order.MAX_CELLS
    assert np.iinfo(np.int16).max >= insert_order.MAX_CELLS  # the smallint column holds them


def _batches(vectors: np.ndarray, size: int = 5_000) -> list[tuple]:
    ids = np.arange(len(vectors))
    return [
        (ids[s : s + size], None, None, vectors[s : s + size]) for s in range(0, len(vectors), size)
    ]


def test_each_row_goes_to_its_nearest_centroid_and_groups_do_not_share_cells() -> None:
    rng = np.random.default_rng(0)
    groups = 40
    centres = rng.normal(0, 100, (groups, 16)).astype(np.float32)
    group = rng.integers(0, groups, 80_000)
    vectors = (centres[group] + rng.normal(0, 0.5, (len(group), 16))).astype(np.float32)
    out = list(insert_order.with_cells(_batches(vectors), expected_rows=len(vectors)))
    assert [len(b[0]) for b, _ in out] == [len(b[0]) for b in _batches(vectors)]  # all, in order
    cells = np.concatenate([c for _, c in out])
    assert cells.min() >= 0 and cells.max() < insert_order.cells_for(len(vectors))
    owners = {}  # cell -> the one group whose rows it holds
    for c, g in zip(cells.tolist(), group.tolist(), strict=True):
        assert owners.setdefault(c, g) == g
    assert len(set(owners.values())) == groups


def test_a_larger_run_is_ordered_by_more_cells() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(0, 1, (70_000, 8)).astype(np.float32)
    few = np.concatenate([c for _, c in insert_order.with_cells(_batches(vectors), 70_000)])
    many = np.concatenate([c for _, c in insert_order.with_cells(_batches(vectors), 4_000_000)])
    assert len(np.unique(few)) <= insert_order.CELLS
    assert len(np.unique(many)) > insert_order.CELLS


def test_given_centroids_are_used_and_no_row_is_held_back() -> None:
    rng = np.random.default_rng(2)
    centroids = rng.normal(0, 10, (300, 16)).astype(np.float32)
    vectors = rng.normal(0, 10, (12_000, 16)).astype(np.float32)
    first = next(iter(insert_order.with_cells(_batches(vectors), centroids=centroids)))
    assert len(first[0][0]) == 5_000  # the first batch comes out first, not after a sample
    cells = np.concatenate(
        [c for _, c in insert_order.with_cells(_batches(vectors), centroids=centroids)]
    )
    nearest = ((vectors[:, None, :] - centroids[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert np.array_equal(cells, nearest)
