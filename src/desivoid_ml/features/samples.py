"""The void and wall samples: one definition, `<prefix>_sample` = 'void', 'wall' or NULL.

VoidFinder: 'void' = vflag 1, 'wall' = vflag 0 (edge 2 and outside 9 in neither), among the
galaxies its magnitude cut keeps; policy `exclude` puts hole-surface galaxies in neither.
V2: the input is the GALZONE rows inside the V2 volume (ZONE >= 0 and OUT = 0); 'void' = in a
void, 'wall' = in that input and not in a void. Empty text is NULL in the database.
"""

from __future__ import annotations

import numpy as np

VOID, WALL, NEITHER = "void", "wall", ""
SAMPLE_DTYPE = "U4"
VF_IN_VOID, VF_WALL = 1, 0  # VAST's vflag values of the two samples


def sample_column(void: np.ndarray, wall: np.ndarray) -> np.ndarray:
    """'void' where `void`, 'wall' where `wall` (and not void), '' elsewhere."""
    out = np.full(len(void), NEITHER, dtype=SAMPLE_DTYPE)
    out[wall] = WALL
    out[void] = VOID
    return out


def voidfinder_sample(
    vflag: np.ndarray, in_cut: np.ndarray, on_boundary: np.ndarray | None = None
) -> np.ndarray:
    """VoidFinder: vflag 1 / 0 among galaxies passing its magnitude cut (`in_cut`); galaxies
    where `on_boundary` is true (policy `exclude`) are in neither."""
    eligible = in_cut if on_boundary is None else in_cut & ~on_boundary
    return sample_column(eligible & (vflag == VF_IN_VOID), eligible & (vflag == VF_WALL))


def v2_sample(in_volume_input: np.ndarray, in_void: np.ndarray) -> np.ndarray:
    """V2: in the in-volume input and in a void / not in a void."""
    return sample_column(in_volume_input & in_void, in_volume_input & ~in_void)
