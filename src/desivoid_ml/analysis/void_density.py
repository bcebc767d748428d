"""The voids' own stacked density profile: galaxies in shells of r/R_void around every void
centre, over the shells' volume, relative to the sample's mean density.

n(r)/n_mean = sum_v N_v(shell) / sum_v V_v(shell) / n_mean, with n_mean = N / V_survey and
V_survey = Omega / 3 (d_max^3 - d_min^3): the solid angle of the HEALPix pixels the galaxies
occupy and their comoving distance range (a volume-limited sample fills it). Shells that leave
the survey lower the outer bins of edge voids (no random catalogue corrects it). Jackknife over
the sky regions of the void centres."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np
from astropy import units as u
from astropy_healpix import HEALPix
from scipy.spatial import cKDTree

MIN_GALAXIES_PER_PIXEL = 4  # footprint pixels: fine enough to trace edges, coarse enough to fill


@dataclass
class DensityProfile:
    """Per r/R bin: n/n_mean, its jackknife sigma and the galaxies counted in the shells."""

    ratio: np.ndarray
    sigma: np.ndarray
    galaxies: np.ndarray
    mean_density: float


def shell_counts(galaxies_xyz: np.ndarray, centres: np.ndarray, radii: np.ndarray, edges):
    """(voids, bins) galaxies in each shell [edges[i], edges[i+1]) R_v of each void: one ball
    query per void at the outer edge, then the distances binned (not one query per edge)."""
    edges = np.asarray(edges, dtype=float)
    tree = cKDTree(galaxies_xyz)
    found = tree.query_ball_point(centres, edges[-1] * radii)
    lengths = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(found))
    galaxy = np.fromiter(chain.from_iterable(found), dtype=np.int64, count=int(lengths.sum()))
    void = np.repeat(np.arange(len(centres)), lengths)
    distance = np.linalg.norm(galaxies_xyz[galaxy] - centres[void], axis=1) / radii[void]
    shell = np.searchsorted(edges, distance, side="right") - 1
    inside = (shell >= 0) & (shell < len(edges) - 1)
    bins = len(edges) - 1
    counts = np.bincount(void[inside] * bins + shell[inside], minlength=len(centres) * bins)
    return counts.reshape(len(centres), bins)


def survey_volume(xyz: np.ndarray) -> float:
    """Solid angle of the occupied HEALPix pixels x the comoving shell the galaxies span."""
    distance = np.linalg.norm(xyz, axis=1)
    lon = np.arctan2(xyz[:, 1], xyz[:, 0])
    lat = np.arcsin(np.clip(xyz[:, 2] / np.maximum(distance, 1e-300), -1.0, 1.0))
    level = 0
    while 12 * 4 ** (level + 1) * MIN_GALAXIES_PER_PIXEL <= len(xyz) and level < 13:
        level += 1
    pixels = HEALPix(nside=2**level, order="nested")
    occupied = len(np.unique(pixels.lonlat_to_healpix(lon * u.rad, lat * u.rad)))
    solid_angle = occupied * 4.0 * np.pi / pixels.npix
    return solid_angle / 3.0 * (distance.max() ** 3 - distance.min() ** 3)


def density_profile(
    galaxies_xyz: np.ndarray,
    centres: np.ndarray,
    radii: np.ndarray,
    edges,
    void_region: np.ndarray,
) -> DensityProfile:
    """The stacked profile of these voids in these galaxies, with a jackknife over regions."""
    edges = np.asarray(edges, dtype=float)
    counts = shell_counts(galaxies_xyz, centres, radii, edges)
    volumes = 4.0 / 3.0 * np.pi * radii[:, None] ** 3 * np.diff(edges**3)[None, :]
    mean = len(galaxies_xyz) / survey_volume(galaxies_xyz)
    ratio = counts.sum(axis=0) / volumes.sum(axis=0) / mean
    replicates = [
        counts[void_region != k].sum(axis=0) / volumes[void_region != k].sum(axis=0) / mean
        for k in np.unique(void_region)
    ]
    reps = np.array(replicates)
    k = len(reps)
    sigma = (
        np.sqrt((k - 1) / k * ((reps - reps.mean(axis=0)) ** 2).sum(axis=0))
        if k > 1
        else np.full(len(ratio), np.nan)
    )
    return DensityProfile(ratio, sigma, counts.sum(axis=0), mean)
