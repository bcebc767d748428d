"""Environment of a galaxy sample against void catalogs, per catalog and combined per algorithm.

Galaxies with z <= 0 or a non-finite coordinate are excluded (and counted). A catalog made for one
Galactic cap (NGC: b >= 0, SGC: b < 0) classifies only that cap's galaxies; the others get
"outside" (vflag 9, no void).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from astropy.coordinates import SkyCoord

from desivoid_ml.algorithms import ALGORITHM_PREFIX
from desivoid_ml.features import toolkit_distance, v2, voidfinder
from desivoid_ml.features.samples import NEITHER, SAMPLE_DTYPE, v2_sample, voidfinder_sample
from desivoid_ml.features.sky_mask import MaskBuilder, SkyMask, mask_from_image
from desivoid_ml.features.void_catalogs import V2Catalog, VoidCatalog, VoidFinderCatalog


@dataclass
class GalaxySample:
    """Sky positions and redshifts (and DESI TARGETIDs, r-band absolute magnitudes when known) of
    the galaxies to classify. `valid` and `north` (Galactic b >= 0) are derived unless given."""

    ra: np.ndarray
    dec: np.ndarray
    z: np.ndarray
    targetid: np.ndarray | None = None
    absmag_r: np.ndarray | None = None  # ABSMAG01_SDSS_R, for VoidFinder's MAGLIM; NaN unknown
    valid: np.ndarray | None = None
    north: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.valid is None:
            finite = np.isfinite(self.ra) & np.isfinite(self.dec) & np.isfinite(self.z)
            self.valid = finite & (np.nan_to_num(self.z) > 0)
        if self.north is None:
            self.north = galactic_north(self.ra, self.dec)

    @property
    def excluded(self) -> int:
        return int((~self.valid).sum())

    def rows(self, start: int, stop: int) -> GalaxySample:
        """The galaxies start..stop, as a sample of their own (views, nothing recomputed)."""
        part = slice(start, stop)
        optional = [a[part] if a is not None else None for a in (self.targetid, self.absmag_r)]
        ra, dec, z = self.ra[part], self.dec[part], self.z[part]
        return GalaxySample(ra, dec, z, *optional, self.valid[part], self.north[part])


def galactic_north(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Galactic latitude b >= 0: the sign of the position's projection on the north Galactic
    pole (astropy's pole, so the same answer as its ICRS -> Galactic transform, far faster)."""
    ra_rad = np.radians(np.nan_to_num(np.asarray(ra, dtype=np.float64)))
    dec_rad = np.radians(np.nan_to_num(np.asarray(dec, dtype=np.float64)))
    px, py, pz = _galactic_pole()
    cos_dec = np.cos(dec_rad)
    return px * cos_dec * np.cos(ra_rad) + py * cos_dec * np.sin(ra_rad) + pz * np.sin(dec_rad) >= 0


@functools.cache
def _galactic_pole() -> tuple[float, float, float]:
    pole = SkyCoord(l=0.0, b=90.0, unit="deg", frame="galactic").icrs.cartesian
    return float(pole.x), float(pole.y), float(pole.z)


def galactic_cap(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """'NGC' where Galactic latitude b >= 0, else 'SGC'."""
    return np.where(galactic_north(ra, dec), "NGC", "SGC")


def bright_enough(sample: GalaxySample, catalog: VoidCatalog) -> np.ndarray:
    """VoidFinder's magnitude cut: ABSMAG01_SDSS_R < MAGLIM where the catalog applied one and
    the sample has magnitudes (a missing magnitude fails the cut); else every galaxy passes."""
    limit = getattr(catalog, "magnitude_limit", None)
    if limit is None or sample.absmag_r is None:
        return np.ones(len(sample.ra), dtype=bool)
    return np.nan_to_num(sample.absmag_r, nan=np.inf) < limit


def covered(sample: GalaxySample, catalog: VoidCatalog) -> np.ndarray:
    """Galaxies this catalog classifies: valid, and in its cap if it has one."""
    if catalog.cap is None:
        return sample.valid
    return sample.valid & (sample.north if catalog.cap == "NGC" else ~sample.north)


@dataclass(frozen=True)
class EnvironmentOptions:
    """Settings of the classification (configs/features.yaml `voidfinder`, `v2`)."""

    boundary: voidfinder.BoundaryRule = field(default_factory=voidfinder.BoundaryRule)
    v2_position_tolerance_mpch: float = v2.POSITION_TOLERANCE_MPCH
    mask_resolution: int | None = None  # cells per degree of a rebuilt mask; None: MSKRES


def classify_catalog(
    sample: GalaxySample,
    catalog: VoidCatalog,
    mask: SkyMask | None = None,
    options: EnvironmentOptions | None = None,
    shared: dict | None = None,
) -> dict[str, np.ndarray]:
    """Full-length columns for one catalog; uncovered galaxies get the 'outside' defaults.
    `mask` is the VoidFinder survey mask (see `survey_mask`; build it from the whole sample).
    `shared`: one dict per sample, passed to every catalog: V2 catalogs with the same GALZONE
    then compute the positions and the GALZONE match of the sample once."""
    options = options or EnvironmentOptions()
    rows = covered(sample, catalog)
    n = len(sample.ra)
    out: dict[str, np.ndarray] = {
        "in_void": np.zeros(n, dtype=bool),
        "void_id": np.full(n, -1, dtype=np.int64),
        "vflag": np.full(n, voidfinder.OUTSIDE, dtype=np.int16),
        "r_over_rvoid": np.full(n, np.nan),
        "in_input": np.zeros(n, dtype=bool),  # in the catalog's own input sample
        "sample": np.full(n, NEITHER, dtype=SAMPLE_DTYPE),  # 'void', 'wall' or '' (NULL)
    }
    if isinstance(catalog, V2Catalog):
        out["void_id_largest"] = np.full(n, -1, dtype=np.int64)
    else:
        out["on_boundary"] = np.zeros(n, dtype=bool)  # on a hole's surface (see BoundaryRule)
    if not rows.any():
        return out
    if isinstance(catalog, VoidFinderCatalog):
        xyz = positions(sample, rows, catalog)
        found = voidfinder.classify(xyz, catalog, mask, options.boundary)
        bright = bright_enough(sample, catalog)[rows]
        found["in_input"] &= bright
        excluded = found["on_boundary"] if options.boundary.policy == "exclude" else None
        found["sample"] = voidfinder_sample(found["vflag"], bright, excluded)
    else:
        found = _classify_v2(sample, rows, catalog, options, {} if shared is None else shared)
        found["sample"] = v2_sample(found["in_input"], found["in_void"])
    for name in out:
        out[name][rows] = found[name]
    return out


def _classify_v2(
    sample: GalaxySample,
    rows: np.ndarray,
    catalog: V2Catalog,
    options: EnvironmentOptions,
    shared: dict,
) -> dict[str, np.ndarray]:
    """v2.classify, with the positions and GALZONE match taken from `shared` when a catalog
    with the same GALZONE (and cap, cosmology) has already computed them for this sample."""
    tolerance = options.v2_position_tolerance_mpch
    key = (catalog.galzone_key, tolerance)
    if key not in shared:
        xyz = positions(sample, rows, catalog)
        target = sample.targetid[rows] if sample.targetid is not None else None
        shared[key] = xyz, v2.match_galzone(xyz, target, catalog, tolerance)
    xyz, match = shared[key]
    return v2.classify(xyz, None, catalog, tolerance, match)


def positions(sample: GalaxySample, rows: np.ndarray, catalog: VoidCatalog) -> np.ndarray:
    """Comoving positions of the rows in the catalog's cosmology; for VoidFinder with the VAST
    toolkit's own arithmetic (float32 distances), so its vflag is reproduced bit for bit."""
    ra, dec, z = sample.ra[rows], sample.dec[rows], sample.z[rows]
    if isinstance(catalog, VoidFinderCatalog):
        return toolkit_distance.cartesian(ra, dec, z, catalog.cosmology.omegam, catalog.cosmology.h)
    return catalog.cosmology.cartesian(ra, dec, z)


def survey_mask(
    sample: GalaxySample,
    catalog: VoidCatalog,
    resolution: int | None = None,
    chunk_rows: int = 1_000_000,
) -> SkyMask | None:
    """Survey mask of a VoidFinder catalog: its MASK HDU when the file has one, else rebuilt
    as the VAST toolkit does from the galaxies of its cap (all of them: the footprint, not the
    magnitude-limited sample; `resolution` overrides MSKRES for a rebuilt mask), `chunk_rows`
    galaxies at a time. None for V2 catalogs and without distance limits."""
    if not isinstance(catalog, VoidFinderCatalog) or catalog.distance_limits is None:
        return None
    if catalog.mask_image is not None:
        return mask_from_image(
            catalog.mask_image, catalog.mask_resolution, catalog.distance_limits, catalog.name
        )
    builder = MaskBuilder(resolution or catalog.mask_resolution)
    for start in range(0, len(sample.ra), chunk_rows):
        part = sample.rows(start, start + chunk_rows)
        rows = covered(part, catalog)
        builder.add(part.ra[rows], part.dec[rows])
    return builder.mask(catalog.distance_limits)


def combine_by_algorithm(
    sample: GalaxySample, catalogs: list[VoidCatalog], results: list[dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """One set of columns per algorithm (`vf_in_void`, `vide_void_id`, ...), caps merged: each
    galaxy takes the values of the catalog covering it, and `<alg>_cap` names that catalog's cap."""
    combined: dict[str, np.ndarray] = {}
    for catalog, result in zip(catalogs, results, strict=True):
        prefix = ALGORITHM_PREFIX[catalog.algorithm]
        rows = covered(sample, catalog)
        for name, values in result.items():
            key = f"{prefix}_{name}"
            if key not in combined:
                combined[key] = values.copy()
            else:
                combined[key][rows] = values[rows]
        cap_key = f"{prefix}_cap"
        combined.setdefault(cap_key, np.full(len(sample.ra), "", dtype="U3"))
        combined[cap_key][rows] = catalog.cap or ""
    return combined


def galzone_counts(
    sample: GalaxySample, catalog: VoidCatalog, result: dict[str, np.ndarray]
) -> tuple[int, int] | None:
    """(covered galaxies matched to a GALZONE row in the V2 volume, covered galaxies) of a V2
    catalog's result; None for VoidFinder."""
    if not isinstance(catalog, V2Catalog):
        return None
    return int(result["in_input"].sum()), int(covered(sample, catalog).sum())


class GalzoneCheck:
    """Counts, over all chunks, how many covered galaxies each V2 catalog's GALZONE matched."""

    def __init__(self) -> None:
        self.counts: dict[str, list] = {}

    def add(
        self, sample: GalaxySample, catalog: VoidCatalog, result: dict[str, np.ndarray]
    ) -> None:
        counts = galzone_counts(sample, catalog, result)
        if counts is not None:
            self.add_counts(catalog, *counts)

    def add_counts(self, catalog: VoidCatalog, matched: int, galaxies: int) -> None:
        """Counts of a chunk counted elsewhere (a worker process)."""
        entry = self.counts.setdefault(catalog.name, [catalog, 0, 0])
        entry[1] += matched
        entry[2] += galaxies

    def verify(self) -> None:
        for catalog, matched, galaxies in self.counts.values():
            v2.require_matches(catalog, matched, galaxies)
