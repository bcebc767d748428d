"""GALZONE and GALVIZ rows for every V2 input galaxy, inside the V2 volume or not.

As in the real V2 outputs, GALZONE holds one row per input galaxy: those outside the redshift
limits (ZLIML < Z < ZLIMU) keep their X, Y, Z but get ZONE = -1, DEPTH = -1, EDGE = 0, OUT = 1,
and in GALVIZ G2V = G2V2 = -1. Only the in-volume galaxies are tessellated (`zones`).
"""

from __future__ import annotations

import numpy as np

from desivoid_ml.synth.cosmo import radec_to_xyz
from desivoid_ml.synth.universe import ZLIML, ZLIMU, Universe
from desivoid_ml.synth.zones import Zones

V2_INPUT_ZMAX = 0.205  # the input table reaches past ZLIMU (~1 input galaxy in 8 is outside)


def in_volume(z: np.ndarray) -> np.ndarray:
    """Galaxies inside the V2 redshift limits (the ones that get a zone)."""
    return (z > ZLIML) & (z < ZLIMU)


def _spread(values: np.ndarray, inside: np.ndarray, fill: int) -> np.ndarray:
    """Full-length int64 column: `values` at the in-volume rows, `fill` elsewhere."""
    out = np.full(len(inside), fill, dtype=np.int64)
    out[inside] = values
    return out


def galzone_columns(
    universe: Universe,
    targetid: np.ndarray,
    ra: np.ndarray,
    dec: np.ndarray,
    z: np.ndarray,
    zones: Zones,
) -> dict[str, np.ndarray]:
    """GALZONE columns of every input galaxy (GAL = row index, input order)."""
    inside = in_volume(z)
    xyz = radec_to_xyz(ra, dec, universe.dist_v2.comoving(z))
    xyz[inside] = zones.xyz
    return {
        "GAL": np.arange(len(z), dtype=np.int64),
        "TARGET": targetid,
        "X": xyz[:, 0],
        "Y": xyz[:, 1],
        "Z": xyz[:, 2],
        "ZONE": _spread(zones.zone, inside, -1),
        "DEPTH": _spread(zones.depth, inside, -1),
        "EDGE": _spread(zones.edge, inside, 0),
        "OUT": (~inside).astype(np.int64),
    }


def galviz_columns(galviz: dict[str, np.ndarray], z: np.ndarray) -> dict[str, np.ndarray]:
    """GALVIZ of every input galaxy from the in-volume galaxies' GALVIZ."""
    inside = in_volume(z)
    return {
        "GID": np.arange(len(z), dtype=np.int64),
        "G2V": _spread(galviz["G2V"], inside, -1),
        "G2V2": _spread(galviz["G2V2"], inside, -1),
    }
