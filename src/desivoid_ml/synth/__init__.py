"""Synthetic DESI DR1-like catalogs with the exact file layout of the public releases.

`write_catalogs(out_dir, n_galaxies, seed)` writes
- `fastspec-iron-main-bright-nside1-hpNN.fits` (PRIMARY, METADATA 54, SPECPHOT 127, FASTSPEC 887
  columns, row-aligned), one per nside=1 NESTED HEALPix pixel that occurs;
- `DESIVAST_BGS_VOLLIM_VoidFinder_{NGC,SGC}.fits` and
  `DESIVAST_BGS_VOLLIM_V2_{VIDE,ZOBOV,REVOLVER}_{NGC,SGC}.fits`.

Physics (see `universe`, `positions`, `properties`): voids are underdense (galaxy candidates
inside a hole are kept with probability VOID_KEEP), and galaxies inside a VoidFinder void carry the
PLANTED offsets in stellar mass, colour and sSFR. Like real VAST output: about a fifth of the
VoidFinder input bounds a hole, sitting on its surface (`surfaces`; wall galaxies), edges come
from the footprint, GALZONE also holds input galaxies outside the V2 volume (`galzone`), and
stars, QSOs and failed redshift fits (some at a wrong Z) are mixed in (`positions`, `tables`).

Determinism: rows are generated in chunks, each from its own child of `SeedSequence(seed)`. The same
seed and chunk_rows give byte-identical files; another chunk_rows draws different (equally valid)
values. The voids depend on the seed only, never on N or chunk_rows.

Memory is bounded by the chunk: a first pass draws positions only, counts rows per file and keeps
the positions in a scratch file (48 bytes a row) beside the output; the second pass builds chunks
(BUILD_THREADS at a time, in threads: numpy releases the GIL), writes each at its offsets in a
writer thread and reuses its buffers: (BUILD_THREADS + 1) x chunk_rows x 4.4 kB, 264 MB at the
default. Only the V2 input sample (TARGETID, RA, DEC, Z: 32 bytes for about a fifth of the rows) is
held to the end. Files already in out_dir with other names are left alone.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np

from desivoid_ml.errors import DesivoidError
from desivoid_ml.synth.fastspec_files import FastspecWriter, fastspec_name
from desivoid_ml.synth.galzone import V2_INPUT_ZMAX
from desivoid_ml.synth.positions import (
    GALAXY,
    POSITION_DTYPE,
    VOID_KEEP,
    Positions,
    sample_positions,
)
from desivoid_ml.synth.properties import PLANTED, PlantedEffect, draw_physical
from desivoid_ml.synth.records import RecordBuffers, build_records
from desivoid_ml.synth.selection import FluxLimit
from desivoid_ml.synth.universe import (
    CAPS,
    MAGLIM,
    OMEGAM_V2,
    OMEGAM_VF,
    ZLIML,
    ZLIMU,
    Universe,
    build_universe,
)
from desivoid_ml.synth.vast import V2Input, write_vast

BUILD_THREADS = 2  # chunks built at once (numpy releases the GIL in its array loops)

__all__ = [
    "MAGLIM",
    "OMEGAM_V2",
    "OMEGAM_VF",
    "PLANTED",
    "VOID_KEEP",
    "ZLIML",
    "ZLIMU",
    "PlantedEffect",
    "SynthSummary",
    "fastspec_name",
    "universe_for_seed",
    "write_catalogs",
]


@dataclass
class SynthSummary:
    """What `write_catalogs` wrote and how fast."""

    files: list[Path]
    galaxy_rows: int
    bytes_written: int
    seconds: float
    in_void_fraction: float = 0.0
    v2_galaxies: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        return self.galaxy_rows / self.seconds if self.seconds else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes_written / 1e6 / self.seconds if self.seconds else 0.0


@lru_cache(maxsize=2)
def universe_for_seed(seed: int) -> Universe:
    """The voids of a seed (cached: they do not depend on N or chunk size)."""
    return build_universe(np.random.SeedSequence(seed).spawn(3)[0])


def _chunks(seed: int, n: int, chunk_rows: int):
    """(start, size, position rng seed, property rng seed) for every chunk."""
    starts = range(0, n, chunk_rows)
    children = np.random.SeedSequence(seed).spawn(3)[1].spawn(len(starts))
    for start, child in zip(starts, children, strict=True):
        pos_seed, prop_seed = child.spawn(2)
        yield start, min(chunk_rows, n - start), pos_seed, prop_seed


def _v2_selection(pos: Positions, spec: np.ndarray) -> np.ndarray:
    """Rows of the VAST input table (uses the stored float32 ABSMAG01_SDSS_R); it reaches a
    little past the V2 redshift limits, so some of its galaxies are outside the V2 volume."""
    absmag = spec["ABSMAG01_SDSS_R"]
    return (pos.kind == GALAXY) & (pos.z < V2_INPUT_ZMAX) & (absmag < MAGLIM)


def _first_pass(
    universe: Universe, flux: FluxLimit, seed: int, n: int, chunk_rows: int, scratch: Path
) -> np.ndarray:
    """Positions of every chunk: rows per file pixel, and the positions kept in a scratch file."""
    counts = np.zeros(12, dtype=np.int64)
    with scratch.open("wb") as out:
        for start, size, pos_seed, _ in _chunks(seed, n, chunk_rows):
            pos = sample_positions(universe, flux, start, size, np.random.default_rng(pos_seed))
            counts += np.bincount(pos.pixel, minlength=12)
            out.write(pos.to_records().tobytes())
    return counts


def _build_chunk(pos: Positions, flux: FluxLimit, prop_seed, buffers: RecordBuffers):
    """One chunk's three record arrays (runs in a worker thread; numpy releases the GIL)."""
    prop_rng = np.random.default_rng(prop_seed)
    phys = draw_physical(pos, flux, prop_rng)
    return pos, build_records(phys, prop_rng, buffers)


def _built_chunks(cached: BinaryIO, flux: FluxLimit, seed: int, n: int, chunk_rows: int):
    """Chunks built BUILD_THREADS at a time, yielded in order; each owns one of the row buffers."""
    capacity = min(chunk_rows, n)
    # chunks being built, plus the one being written
    buffers = [RecordBuffers(capacity) for _ in range(BUILD_THREADS + 1)]
    with ThreadPoolExecutor(BUILD_THREADS, thread_name_prefix="synth-build") as pool:
        pending = deque()
        for k, (_, size, _, prop_seed) in enumerate(_chunks(seed, n, chunk_rows)):
            pos = Positions.from_records(np.fromfile(cached, dtype=POSITION_DTYPE, count=size))
            if len(pending) == BUILD_THREADS:
                yield pending.popleft().result()
            pending.append(
                pool.submit(_build_chunk, pos, flux, prop_seed, buffers[k % len(buffers)])
            )
        while pending:
            yield pending.popleft().result()


def _second_pass(
    writer: FastspecWriter,
    cached: BinaryIO,
    flux: FluxLimit,
    seed: int,
    n: int,
    chunk_rows: int,
    progress: Callable[[int], None] | None,
):
    """Build every chunk's rows, hand them to the writer, and collect the V2 input sample."""
    v2_parts: dict[str, list] = {cap.name: [] for cap in CAPS}
    in_void = 0
    for pos, (meta, spec, fast) in _built_chunks(cached, flux, seed, n, chunk_rows):
        size = len(pos.z)
        sel = _v2_selection(pos, spec)
        for i, cap in enumerate(CAPS):
            s = sel & (pos.cap == i)
            v2_parts[cap.name].append((meta["TARGETID"][s], pos.ra[s], pos.dec[s], pos.z[s]))
        in_void += int(pos.in_void.sum())
        writer.submit(pos.pixel, meta, spec, fast)
        if progress is not None:
            progress(size)
    samples = {
        cap: V2Input(
            *(
                np.concatenate(c).astype(c[0].dtype.newbyteorder("="))
                for c in zip(*parts, strict=True)
            )
        )
        for cap, parts in v2_parts.items()
    }
    return samples, in_void


def write_catalogs(
    out_dir: Path,
    n_galaxies: int,
    seed: int,
    chunk_rows: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> SynthSummary:
    """Write all FastSpecFit and DESIVAST files into out_dir; `progress(n)` gets rows per chunk."""
    if n_galaxies < 1 or chunk_rows < 1:
        raise DesivoidError(
            f"synth needs at least 1 galaxy and 1 row per chunk (got --galaxies {n_galaxies}, "
            f"chunk_rows {chunk_rows})"
        )
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    universe = universe_for_seed(seed)
    flux = FluxLimit(universe.dist_vf)
    scratch = out_dir / f".synth-positions-{os.getpid()}.tmp"
    try:
        counts = _first_pass(universe, flux, seed, n_galaxies, chunk_rows, scratch)
        with FastspecWriter(out_dir, counts) as writer, scratch.open("rb") as cached:
            samples, in_void = _second_pass(
                writer, cached, flux, seed, n_galaxies, chunk_rows, progress
            )
    finally:
        scratch.unlink(missing_ok=True)
    vast = write_vast(out_dir, universe, samples, np.random.SeedSequence(seed).spawn(3)[2])
    files = writer.files + [path for path, _ in vast]
    size = writer.bytes_written + sum(n for _, n in vast)
    return SynthSummary(
        files,
        n_galaxies,
        size,
        time.perf_counter() - t0,
        in_void / n_galaxies,
        {cap: len(s.z) for cap, s in samples.items()},
    )
