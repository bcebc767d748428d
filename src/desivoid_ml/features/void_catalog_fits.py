"""Void catalogs read straight from DESIVAST/VAST FITS files (`desivoid environment`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.void_catalogs import (
    GALZONE_COLUMNS,
    HOLES_COLUMNS,
    MAXIMALS_COLUMNS,
    VOIDS_COLUMNS,
    ZONEVOID_COLUMNS,
    VoidCatalog,
    build_v2,
    build_voidfinder,
)
from desivoid_ml.ingest.catalogs import catalog_info, classify
from desivoid_ml.ingest.fits_reader import scan


def read_fits_catalog(path: Path, omegam: float | None = None) -> VoidCatalog:
    """A void catalog straight from a DESIVAST/VAST FITS file."""
    layout = scan(path)
    kind = classify(layout)
    if kind not in ("voidfinder", "v2"):
        raise DesivoidError(
            f"{path.name}: not a VAST void catalog (no MAXIMALS/HOLES or "
            "VOIDS/ZONEVOID/GALZONE HDUs)"
        )
    info = catalog_info(layout, kind)
    header = dict(layout.primary_header)
    with fits.open(path, memmap=True) as hdul:

        def cols(extname: str, names: list[str]) -> dict[str, np.ndarray]:
            return _columns(hdul[extname].data, names)

        if kind == "voidfinder":
            return build_voidfinder(
                info["catalog"],
                header,
                info["cap"],
                cols("MAXIMALS", MAXIMALS_COLUMNS),
                cols("HOLES", HOLES_COLUMNS),
                omegam,
                _image(hdul, "MASK"),
            )
        return build_v2(
            info["catalog"],
            info["algorithm"],
            header,
            info["cap"],
            cols("VOIDS", VOIDS_COLUMNS),
            cols("ZONEVOID", ZONEVOID_COLUMNS),
            cols("GALZONE", GALZONE_COLUMNS),
            omegam,
        )


def _image(hdul: fits.HDUList, extname: str) -> np.ndarray | None:
    """The data of an image HDU with this EXTNAME, or None."""
    for hdu in hdul[1:]:
        if hdu.name.upper() == extname and hdu.is_image and hdu.data is not None:
            return np.asarray(hdu.data)
    return None


def _columns(table: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """Columns by lower-case name (VAST writes either case); Z is renamed zc as in `raw`."""
    lookup = {n.lower(): n for n in table.dtype.names}
    out = {}
    for name in names:
        source = (
            "z" if name == "zc" else ("flag" if name == "void" and "void" not in lookup else name)
        )
        if source in lookup:
            out[name] = np.asarray(table[lookup[source]]).astype(
                table[lookup[source]].dtype.newbyteorder("=")
            )
    return out
