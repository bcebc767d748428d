"""`desivoid environment`: classify any galaxy FITS table against void catalogs, no database."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.environment import (
    EnvironmentOptions,
    GalaxySample,
    GalzoneCheck,
    classify_catalog,
    survey_mask,
)
from desivoid_ml.features.void_catalog_fits import read_fits_catalog
from desivoid_ml.features.void_catalogs import VoidCatalog
from desivoid_ml.ingest.fits_reader import scan

DEFAULT_NAMES = {
    "ra": ("ra", "target_ra"),
    "dec": ("dec", "target_dec"),
    "z": ("z", "redshift"),
    "id": ("targetid", "target", "id"),
}


def read_sample(
    path: Path,
    ra: str | None = None,
    dec: str | None = None,
    z: str | None = None,
    id_column: str | None = None,
) -> GalaxySample:
    """Positions from the first table HDU of a FITS file; names matched without regard to case."""
    layout = scan(path)
    if not layout.tables:
        raise DesivoidError(f"{path.name}: no table HDU with galaxies")
    hdu = layout.tables[0]
    with fits.open(path, memmap=True) as hdul:
        data = hdul[hdu.index].data
        lookup = {name.lower(): name for name in data.names}

        def column(wanted: str | None, role: str, required: bool = True) -> np.ndarray | None:
            candidates = (wanted,) if wanted else DEFAULT_NAMES[role]
            for candidate in candidates:
                if candidate.lower() in lookup:
                    values = np.asarray(data[lookup[candidate.lower()]])
                    return values.astype(values.dtype.newbyteorder("="))
            if required:
                raise DesivoidError(
                    f"{path.name}: no {role} column (tried {', '.join(candidates)}); "
                    f"name it with --{role}"
                )
            return None

        return GalaxySample(
            column(ra, "ra"),
            column(dec, "dec"),
            column(z, "z"),
            column(id_column, "id", required=id_column is not None),
        )


def environment_table(
    sample: GalaxySample, catalogs: list[VoidCatalog], options: EnvironmentOptions | None = None
) -> Table:
    """One row per input row: its index, then `<catalog>_<column>` for every catalog."""
    table = Table(
        {"row_index": np.arange(len(sample.ra), dtype=np.int64), "excluded": ~sample.valid}
    )
    options = options or EnvironmentOptions()
    check = GalzoneCheck()
    for catalog in catalogs:
        mask = survey_mask(sample, catalog, options.mask_resolution)
        result = classify_catalog(sample, catalog, mask, options)
        check.add(sample, catalog, result)
        for name, values in result.items():
            table[f"{catalog.name.lower()}_{name}"] = values
    check.verify()
    return table


def run(
    galaxies: Path,
    catalogs: list[Path],
    out: Path,
    omegam: float | None = None,
    options: EnvironmentOptions | None = None,
    **names: str | None,
) -> tuple[Table, int]:
    """Classify and write OUT; returns the table and the number of excluded rows."""
    sample = read_sample(galaxies, **names)
    loaded = [read_fits_catalog(path, omegam) for path in catalogs]
    table = environment_table(sample, loaded, options)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.write(out, overwrite=True)
    return table, sample.excluded
