"""Where the void finders agree, per galaxy: `in_all_inputs`, `n_void_algorithms` and
`consensus_sample`, from the per-algorithm `<prefix>_sample` and `<prefix>_in_input` columns.

- `in_all_inputs`: the galaxy is in the input of every algorithm that has a catalog covering it
  (its Galactic cap; a cap-less catalog covers every galaxy), and at least one covers it.
- `n_void_algorithms`: how many algorithms put it in their void sample (0 .. number of them).
- `consensus_sample`: on `in_all_inputs` galaxies, 'void' if every algorithm with a sample for it
  (void or wall: VoidFinder's edge galaxies have none) says void, 'wall' if every one says wall,
  else NULL (disagreement, or no algorithm has a sample for it).
`consensus` is pure numpy (tests call it on arrays); the features build calls
`consensus_of_chunk` per chunk.
"""

from __future__ import annotations

import numpy as np

from desivoid_ml.algorithms import ALGORITHM_PREFIX
from desivoid_ml.features.environment import GalaxySample, covered
from desivoid_ml.features.void_catalogs import VoidCatalog

VOID, WALL, NEITHER = "void", "wall", ""
SAMPLE_SUFFIX = "_sample"
CONSENSUS_COLUMNS = ("in_all_inputs", "n_void_algorithms", "consensus_sample")


def sample_prefixes(columns) -> list[str]:
    """The algorithm prefixes that have a `<prefix>_sample` column (consensus_sample excluded)."""
    return [
        name.removesuffix(SAMPLE_SUFFIX)
        for name in columns
        if name.endswith(SAMPLE_SUFFIX) and name != "consensus_sample"
    ]


def consensus(
    samples: dict[str, np.ndarray],
    in_input: dict[str, np.ndarray],
    covers: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """The three columns from per-prefix arrays: sample text ('void'/'wall'/''), in-input and
    covered booleans."""
    n = len(next(iter(samples.values()))) if samples else 0
    all_inputs = np.zeros(n, dtype=bool)
    any_cover = np.zeros(n, dtype=bool)
    n_void = np.zeros(n, dtype=np.int16)
    n_valid = np.zeros(n, dtype=np.int16)
    n_wall = np.zeros(n, dtype=np.int16)
    all_inputs[:] = True
    for prefix, sample in samples.items():
        covered = covers[prefix]
        any_cover |= covered
        all_inputs &= ~covered | in_input[prefix]
        void, wall = sample == VOID, sample == WALL
        n_void += void
        n_wall += wall
        n_valid += void | wall
    all_inputs &= any_cover
    decided = all_inputs & (n_valid > 0)
    out = np.full(n, NEITHER, dtype="U4")
    out[decided & (n_void == n_valid)] = VOID
    out[decided & (n_wall == n_valid)] = WALL
    return {"in_all_inputs": all_inputs, "n_void_algorithms": n_void, "consensus_sample": out}


def coverage(part: GalaxySample, catalogs: list[VoidCatalog]) -> dict[str, np.ndarray]:
    """Per algorithm prefix: which galaxies some catalog of that algorithm classifies."""
    covers: dict[str, np.ndarray] = {}
    for catalog in catalogs:
        prefix = ALGORITHM_PREFIX[catalog.algorithm]
        rows = covered(part, catalog)
        covers[prefix] = covers[prefix] | rows if prefix in covers else rows.copy()
    return covers


def consensus_of_chunk(
    part: GalaxySample, catalogs: list[VoidCatalog], columns: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The consensus columns of a features chunk ({} while no `<prefix>_sample` column exists)."""
    covers = coverage(part, catalogs)
    prefixes = [p for p in sample_prefixes(columns) if p in covers]
    if not prefixes:
        return {}
    return consensus(
        {p: columns[f"{p}{SAMPLE_SUFFIX}"] for p in prefixes},
        {p: columns[f"{p}_in_input"] for p in prefixes},
        {p: covers[p] for p in prefixes},
    )
