"""The merged FastSpecFit files: one per nside=1 pixel, PRIMARY + METADATA + SPECPHOT + FASTSPEC."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from types import TracebackType

import numpy as np

from desivoid_ml.synth.datamodel import FASTSPEC_COLUMNS, METADATA_COLUMNS, SPECPHOT_COLUMNS
from desivoid_ml.synth.fits_stream import FitsStream, bintable_header, primary_header
from desivoid_ml.synth.records import FASTSPEC_DTYPE, METADATA_DTYPE, SPECPHOT_DTYPE

TABLES = (
    ("METADATA", METADATA_COLUMNS, METADATA_DTYPE),
    ("SPECPHOT", SPECPHOT_COLUMNS, SPECPHOT_DTYPE),
    ("FASTSPEC", FASTSPEC_COLUMNS, FASTSPEC_DTYPE),
)
# desiutil.depend pairs: fixed strings, so files do not depend on the local environment
DEPENDENCIES = (
    ("fastspecfit", "3.1.5"),
    ("python", "3.10.14"),
    ("numpy", "1.26.4"),
    ("scipy", "1.11.4"),
    ("astropy", "6.0.1"),
    ("fitsio", "1.2.1"),
    ("desiutil", "3.4.3"),
    ("desispec", "0.68.1"),
    ("desitarget", "2.8.0"),
    ("redrock", "0.20.4"),
    (
        "FTEMPLATES_FILE",
        "/global/cfs/cdirs/desi/public/external/templates/fastspecfit/2.0.0/"
        "ftemplates-chabrier-2.0.0.fits",
    ),
    ("EMLINES_FILE", "fastspecfit/data/emlines.ecsv"),
    ("FPHOTO_FILE", "fastspecfit/data/legacysurvey-dr9.yaml"),
    ("DESI_ROOT", "/dvs_ro/cfs/cdirs/desi"),
)
PRIMARY_CARDS = [
    ("EXTNAME", "PRIMARY", "extension name"),
    ("SPECPROD", "iron", "spectroscopic production name"),
    ("COADDTYP", "healpix", "spectral coadd type"),
    ("INPUTZ", False, "input redshifts provided"),
    ("INPUTS", False, "input seeds provided"),
    ("CONSAGE", False, "constrain SPS ages"),
    ("USEQNET", True, "use QuasarNet redshifts"),
    ("NMONTE", 50, "number of Monte Carlo realizations"),
    ("SEED", 1, "random seed for Monte Carlo"),
    ("NOSCORR", False, "no smooth continuum correction"),
    ("NOPHOTO", False, "no fitting of broadband photometry"),
    ("BRDLFIT", True, "carry out broad-line fitting"),
    ("UFLOOR", 0.01, "uncertainty floor"),
    ("SNRBBALM", 2.5, "minimum broad Balmer S/N"),
    ("NSIDE", 1, "HEALPix nside"),
    ("NEST", True, "HEALPix nested ordering"),
]
for _i, (_name, _version) in enumerate(DEPENDENCIES):
    PRIMARY_CARDS += [(f"DEPNAM{_i:02d}", _name, ""), (f"DEPVER{_i:02d}", _version, "")]


def fastspec_name(pixel: int) -> str:
    return f"fastspec-iron-main-bright-nside1-hp{pixel:02d}.fits"


class FastspecWriter:
    """Open one stream per pixel that has rows; route each chunk's pixel-sorted rows to them.

    `submit` writes in a background thread (pwrite and the checksum sums release the GIL) while
    the caller builds the next chunks. At most one chunk is in flight: once `submit` returns, the
    buffers of the chunk submitted before it may be refilled.
    """

    def __init__(self, out_dir: Path, counts: np.ndarray):
        self.counts = counts
        self._streams: dict[int, FitsStream] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fits-writer")
        self._pending: Future | None = None
        try:
            for pixel in np.nonzero(counts)[0]:
                n = int(counts[pixel])
                headers = [primary_header(PRIMARY_CARDS)] + [
                    bintable_header(name, cols, n, dtype.itemsize) for name, cols, dtype in TABLES
                ]
                self._streams[int(pixel)] = FitsStream(out_dir / fastspec_name(pixel), headers)
        except BaseException:
            self._abort()
            raise

    @property
    def files(self) -> list[Path]:
        return [stream.path for stream in self._streams.values()]

    @property
    def bytes_written(self) -> int:
        return sum(stream.size for stream in self._streams.values())

    def write(self, pixel: np.ndarray, *tables: np.ndarray) -> None:
        """Write rows sorted by pixel: each pixel's slice goes to its file, table by table."""
        edges = np.concatenate([[0], np.cumsum(np.bincount(pixel, minlength=len(self.counts)))])
        for p in np.unique(pixel):
            a, b = edges[p], edges[p + 1]
            for hdu, rows in enumerate(tables, start=1):
                self._streams[int(p)].write(hdu, rows[a:b])

    def submit(self, pixel: np.ndarray, *tables: np.ndarray) -> None:
        """Wait for the previous chunk, then write this one in the background."""
        self.wait()
        self._pending = self._pool.submit(self.write, pixel, *tables)

    def wait(self) -> None:
        """Block until the chunk in flight is written (re-raises its error)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _abort(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            wait([self._pending])
        self._pool.shutdown()
        for stream in self._streams.values():
            stream.abort()

    def __enter__(self) -> FastspecWriter:
        return self

    def __exit__(
        self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self._abort()
            return
        try:
            self.wait()
        except BaseException:
            self._abort()
            raise
        self._pool.shutdown()
        for stream in self._streams.values():
            stream.close()
