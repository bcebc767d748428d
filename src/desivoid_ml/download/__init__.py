"""Resumable, checksum-verified download of the public DESI DR1 catalogs this project reads.

Files land flat in DEST under their public names. Bytes go to NAME.part, which a later run resumes
with an HTTP Range request; NAME appears only after its sha256 matched the published list.
Modules: `files` (the public file table), `transfer` (HTTP), `checksum_lists`, `verified` (state).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from desivoid_ml.download.checksum_lists import load_checksums, parse_sha256sum
from desivoid_ml.download.errors import DownloadError
from desivoid_ml.download.files import (
    BASE_URL_ENV,
    DATASETS,
    DEFAULT_BASE_URL,
    RemoteFile,
    resolve_base_url,
)
from desivoid_ml.download.messages import say
from desivoid_ml.download.transfer import transfer_with_retries
from desivoid_ml.download.verified import (
    LOCAL_SUMS,
    STATE_FILE,
    existing_ok,
    finish,
    load_state,
    stamp,
    write_atomic,
)
from desivoid_ml.progress import NullReporter, Reporter

__all__ = [
    "BASE_URL_ENV",
    "DATASETS",
    "DEFAULT_BASE_URL",
    "LOCAL_SUMS",
    "DownloadError",
    "RemoteFile",
    "describe",
    "download_all",
    "load_checksums",
    "parse_sha256sum",
    "resolve_base_url",
    "select",
]

DEFAULT_DEST = "data/dr1"
RETRIES = 3  # automatic resumes of one file after a dropped connection


def select(only: str | None = None) -> list[RemoteFile]:
    """The files of one dataset of DATASETS, or of all of them."""
    if only is None:
        return [f for files in DATASETS.values() for f in files]
    if only not in DATASETS:
        raise DownloadError(f"unknown dataset {only!r}: choose from {', '.join(DATASETS)}")
    return list(DATASETS[only])


def _ensure_writable(dest: Path) -> None:
    """Create dest and prove a file can be written there."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=dest):
            pass
    except OSError as exc:
        raise DownloadError(f"destination not writable: {dest} ({exc.strerror or exc})") from None


def _check_space(dest: Path, files: Iterable[RemoteFile]) -> None:
    """Fail early when the listed sizes of the missing files exceed the free space in dest."""
    needed = 0
    for f in files:
        if f.size is not None and not (dest / f.name).exists():
            part = dest / f"{f.name}.part"
            needed += f.size - (part.stat().st_size if part.exists() else 0)
    free = shutil.disk_usage(dest).free
    if needed > free:
        raise DownloadError(f"not enough space in {dest}: need {human(needed)}, {human(free)} free")


def human(size: int) -> str:
    """A byte count in binary units."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _fetch_one(
    remote: RemoteFile,
    dest: Path,
    base_url: str,
    expected: str | None,
    reporter: Reporter,
    state: dict[str, dict[str, int | str]],
    retries: int,
) -> Path:
    """Make dest/NAME a verified copy of one remote file."""
    final = dest / remote.name
    if existing_ok(final, remote, expected, state):
        say(f"{remote.name}: already present and verified, skipped")
        return final
    part = dest / f"{remote.name}.part"
    transfer_with_retries(remote.url(base_url), part, reporter, retries)
    state[remote.name] = stamp(final, finish(part, final, remote, expected))
    return final


def download_all(
    dest: str | Path = DEFAULT_DEST,
    files: Iterable[RemoteFile] | None = None,
    base_url: str | None = None,
    sha256: Mapping[str, str] | str | Path | None = None,
    reporter: Reporter | None = None,
    retries: int = RETRIES,
) -> list[Path]:
    """Download files (default: all of DATASETS) into dest, verified; return their local paths.
    Each transfer is one task of `reporter` (default: none), counted in bytes.

    sha256 adds to or overrides the published checksums: a name -> hex mapping, or a sha256sum list
    given as a local path or a URL.
    """
    dest = Path(dest)
    files = select() if files is None else list(files)
    base = resolve_base_url(base_url)
    _ensure_writable(dest)
    sums = load_checksums(files, base, sha256)
    _check_space(dest, files)
    state = load_state(dest)
    reporter = reporter or NullReporter()
    paths: list[Path] = []
    for remote in files:
        paths.append(
            _fetch_one(remote, dest, base, sums.get(remote.name), reporter, state, retries)
        )
        write_atomic(dest / STATE_FILE, json.dumps(state, indent=1, sort_keys=True))
    return paths


def describe(files: Iterable[RemoteFile], base_url: str) -> list[str]:
    """What --dry-run prints: size and URL of each file, the checksum lists, the total."""
    files = list(files)
    lines = [f"{'?' if f.size is None else human(f.size):>10}  {f.url(base_url)}" for f in files]
    lists = dict.fromkeys(u for f in files if (u := f.checksums_url(base_url)) is not None)
    lines += [f"{'checksums':>10}  {url}" for url in lists]
    total = sum(f.size or 0 for f in files)
    lines.append(f"{human(total):>10}  total, {len(files)} files")
    return lines
