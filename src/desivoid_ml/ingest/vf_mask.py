"""A VoidFinder file's MASK image HDU (its survey mask) -> raw.vf_masks, packed one bit a cell.

Table HDUs go through COPY; this one image of 360 x 180 x MSKRES^2 cells is small enough for
one INSERT. The features read it back instead of rebuilding the mask from the galaxies.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits as astropy_fits
from psycopg import sql

from desivoid_ml.db.connection import Namespace
from desivoid_ml.ingest.fits_reader import FitsFile


def store_mask(conn, ns: Namespace, fits: FitsFile, catalog: str, file_id: int) -> bool:
    """Store the MASK image of a VoidFinder file, if it has one; returns whether it did."""
    hdu = next((h for h in fits.hdus[1:] if h.extname.upper() == "MASK" and not h.is_table), None)
    if hdu is None or int(hdu.header.get("NAXIS", 0)) != 2:
        return False
    image = np.asarray(astropy_fits.getdata(fits.path, ext=hdu.index)) != 0
    table = sql.Identifier(ns.raw, "vf_masks")  # created by migration 0006
    conn.execute(
        sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s)").format(table),
        (catalog, file_id, image.shape[0], image.shape[1], np.packbits(image.ravel()).tobytes()),
    )
    return True
