"""Resumable, checksum-verified download of the public DESI DR1 catalogs this project reads.

Files land flat in DEST under their public names. Bytes go to NAME.part, which a later run resumes
with an HTTP Range request; NAME appears only after its sha256 matched the published list.
"""

from __future__ import annotations

import http.client
import json
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from desivoid_ml.checksums import sha256_file
from desivoid_ml.dr1_files import (  # noqa: F401  (the public file table, re-exported)
    BASE_URL_ENV,
    DATASETS,
    DEFAULT_BASE_URL,
    RemoteFile,
    resolve_base_url,
)
from desivoid_ml.errors import DesivoidError

DEFAULT_DEST = "data/dr1"
CHUNK_BYTES = 1 << 20  # bounded memory per read, few enough syscalls for multi-GB files
TIMEOUT_S = 60  # per socket operation: a stalled server fails the transfer, which then resumes
RETRIES = 3  # automatic resumes of one file after a dropped connection
MAX_LIST_BYTES = 1 << 20  # a checksum list is a few hundred bytes; refuse anything absurd
LOCAL_SUMS = "SHA256SUMS.local"  # computed sha256 of files no published list covered
STATE_FILE = ".verified.json"  # size, mtime and sha256 of verified files: re-runs skip rehashing
USER_AGENT = "desivoid_ml-download/0.1"


class DownloadError(DesivoidError):
    """A download failed; the message is one line meant for the user."""


class _NotFound(DownloadError):
    """HTTP 404."""


class _Interrupted(DownloadError):
    """The transfer stopped early; the .part file it left can be resumed."""


class _RangeDone(Exception):
    """HTTP 416: the server has nothing past the .part's end, so the .part may be complete."""

    def __init__(self, total: int | None) -> None:
        super().__init__(total)
        self.total = total


_console = Console(stderr=True)


def select(only: str | None = None) -> list[RemoteFile]:
    """The files of one dataset of DATASETS, or of all of them."""
    if only is None:
        return [f for files in DATASETS.values() for f in files]
    if only not in DATASETS:
        raise DownloadError(f"unknown dataset {only!r}: choose from {', '.join(DATASETS)}")
    return list(DATASETS[only])


def parse_sha256sum(text: str, source: str) -> dict[str, str]:
    """Map file name -> hex digest from `sha256sum` output (`<hex>  <name>` or `<hex> *<name>`)."""
    sums: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        digest, _, name = line.partition(" ")
        name = name.strip().lstrip("*").removeprefix("./")
        if len(digest) != 64 or not name or not _is_hex(digest):
            raise DownloadError(f"{source}:{lineno}: not a sha256sum line: {line[:80]!r}")
        sums[name] = digest.lower()
    return sums


def _is_hex(text: str) -> bool:
    """True when text is all hexadecimal digits."""
    return all(c in "0123456789abcdefABCDEF" for c in text)


def _warn(message: str) -> None:
    """Print a loud one-line warning to stderr (above the progress bar when one is live)."""
    _console.print(Text.assemble(("WARNING: ", "bold red"), message), soft_wrap=True)


def _say(message: str) -> None:
    """Print a one-line status message to stderr."""
    _console.print(Text(message), soft_wrap=True)


def _open(url: str, offset: int = 0) -> http.client.HTTPResponse:
    """GET url from byte offset on; turn failures into one-line DownloadErrors."""
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        raise _http_error(exc, url) from None
    except OSError as exc:  # URLError, refused, unknown host, timeout
        reason = getattr(exc, "reason", exc)
        raise DownloadError(
            f"cannot reach {url} ({reason}): check the network or --base-url"
        ) from None
    except ValueError as exc:
        raise DownloadError(f"bad URL {url!r} ({exc}): check --base-url") from None


def _http_error(exc: urllib.error.HTTPError, url: str) -> Exception:
    """The exception that stands for an HTTP error status."""
    exc.close()
    if exc.code == 416:
        return _RangeDone(_parse_content_range(exc.headers.get("Content-Range"))[1])
    if exc.code == 404:
        return _NotFound(f"not found (HTTP 404): {url}")
    return DownloadError(f"HTTP {exc.code} {exc.reason}: {url}")


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a `bytes A-B/N` or `bytes */N` header; None where unknown."""
    if not value or not value.startswith("bytes "):
        return None, None
    span, _, total = value[len("bytes ") :].partition("/")
    first = span.partition("-")[0]
    return (int(first) if first.isdigit() else None, int(total) if total.isdigit() else None)


def _read_text(url: str) -> str:
    """Body of a small text resource."""
    with _open(url) as resp:
        return resp.read(MAX_LIST_BYTES).decode("utf-8", errors="replace")


def _published(url: str) -> dict[str, str]:
    """Checksums from a published list; a missing list only warns."""
    try:
        return parse_sha256sum(_read_text(url), url)
    except _NotFound:
        _warn(f"no checksum list at {url}: the files it should cover will not be verified")
        return {}


def _explicit(sha256: Mapping[str, str] | str | Path) -> dict[str, str]:
    """Checksums given by the caller: a mapping, a local sha256sum file or its URL."""
    if isinstance(sha256, Mapping):
        return {name: digest.lower() for name, digest in sha256.items()}
    source = str(sha256)
    if source.startswith(("http://", "https://")):
        return parse_sha256sum(_read_text(source), source)
    try:
        return parse_sha256sum(Path(source).read_text(), source)
    except OSError as exc:
        raise DownloadError(f"cannot read checksum list {source}: {exc.strerror or exc}") from None


def load_checksums(
    files: Iterable[RemoteFile],
    base_url: str,
    sha256: Mapping[str, str] | str | Path | None = None,
) -> dict[str, str]:
    """Published checksums of the files' directories, overridden by those the caller gives."""
    urls = dict.fromkeys(u for f in files if (u := f.checksums_url(base_url)) is not None)
    sums: dict[str, str] = {}
    for url in urls:
        sums.update(_published(url))
    if sha256 is not None:
        sums.update(_explicit(sha256))
    return sums


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
        raise DownloadError(
            f"not enough space in {dest}: need {_human(needed)}, {_human(free)} free"
        )


def _human(size: int) -> str:
    """A byte count in binary units."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _read(resp: http.client.HTTPResponse, name: str) -> bytes:
    """The next chunk of the body; a network failure becomes a resumable interruption."""
    try:
        return resp.read(CHUNK_BYTES)
    except (OSError, http.client.HTTPException) as exc:
        raise _Interrupted(f"transfer of {name} interrupted ({exc})") from None


def _stream(
    resp: http.client.HTTPResponse,
    part: Path,
    offset: int,
    length: int | None,
    bar: Progress | None,
) -> int:
    """Copy the body into part (appending when offset > 0); return the bytes received."""
    total = None if length is None else offset + length
    task = bar.add_task(part.stem, total=total, completed=offset) if bar else None
    received = 0
    try:
        with part.open("ab" if offset else "wb") as fh:
            while chunk := _read(resp, part.stem):
                fh.write(chunk)
                received += len(chunk)
                if bar is not None and task is not None:
                    bar.update(task, advance=len(chunk))
    except OSError as exc:
        raise DownloadError(f"cannot write {part}: {exc.strerror or exc}") from None
    return received


def _resume_offset(resp: http.client.HTTPResponse, part: Path, offset: int) -> int:
    """Where the body starts: offset for a matching 206, 0 when the server ignored Range."""
    if offset == 0 or resp.status != 206:
        return 0
    first, _ = _parse_content_range(resp.headers.get("Content-Range"))
    if first != offset:
        part.unlink()
        raise _Interrupted(f"server sent {part.stem} from byte {first}, not {offset}; restarting")
    return offset


def _range_done(part: Path, offset: int, total: int | None) -> None:
    """HTTP 416: keep the .part if its size is the server's total (verified next), else drop it."""
    if total is not None and total != offset:
        part.unlink(missing_ok=True)
        raise _Interrupted(f"{part.name} has {offset} bytes, the server {total}; restarting")


def _transfer(url: str, part: Path, bar: Progress | None) -> None:
    """Fetch url into part, resuming from part's size when the server honours Range."""
    offset = part.stat().st_size if part.exists() else 0
    try:
        resp = _open(url, offset)
    except _RangeDone as done:
        _range_done(part, offset, done.total)
        return
    with resp:
        offset = _resume_offset(resp, part, offset)
        header = resp.headers.get("Content-Length")
        length = int(header) if header and header.isdigit() else None
        received = _stream(resp, part, offset, length, bar)
    if length is not None and received < length:
        got, want = offset + received, offset + length
        raise _Interrupted(f"connection dropped after {got} of {want} bytes of {part.stem}")


def _transfer_with_retries(url: str, part: Path, bar: Progress | None, retries: int) -> None:
    """Transfer url into part, resuming after an interruption up to `retries` times."""
    for attempt in range(retries + 1):
        try:
            _transfer(url, part, bar)
            return
        except _Interrupted as exc:
            if attempt == retries:
                raise _Interrupted(f"{exc}; run again to resume") from None
            _warn(f"{exc}; resuming (retry {attempt + 1} of {retries})")


def _record_local_sum(dest: Path, name: str, digest: str) -> None:
    """Add or replace name's line in DEST/SHA256SUMS.local (sha256sum format)."""
    path = dest / LOCAL_SUMS
    sums = parse_sha256sum(path.read_text(), str(path)) if path.exists() else {}
    sums[name] = digest
    _write_atomic(path, "".join(f"{d}  {n}\n" for n, d in sorted(sums.items())))


def _write_atomic(path: Path, text: str) -> None:
    """Write text to path through a temporary file and a rename."""
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _unverified(remote: RemoteFile, path: Path, digest: str) -> None:
    """Warn that a file has no published checksum and record the one computed here."""
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        _warn(f"{remote.name} has {size} bytes, the public tree lists {remote.size}")
    _warn(
        f"no published sha256 for {remote.name}: NOT verified; its sha256 {digest} "
        f"is recorded in {path.parent / LOCAL_SUMS}"
    )
    _record_local_sum(path.parent, remote.name, digest)


def _finish(part: Path, final: Path, remote: RemoteFile, expected: str | None) -> str:
    """Check part against its expected sha256 (or record it), then rename it to final."""
    actual = sha256_file(part)
    if expected is None:
        _unverified(remote, part, actual)
    elif actual != expected:
        part.unlink()
        raise DownloadError(
            f"sha256 mismatch for {final.name}: expected {expected}, got {actual}; "
            "the download was deleted"
        )
    part.replace(final)
    return actual


def _load_state(dest: Path) -> dict[str, dict[str, int | str]]:
    """Records of verified files; an unreadable state file is ignored (files get rehashed)."""
    try:
        return json.loads((dest / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _stamp(path: Path, digest: str) -> dict[str, int | str]:
    """What identifies a verified file cheaply: size, mtime and its sha256."""
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}


def _existing_ok(
    final: Path, remote: RemoteFile, expected: str | None, state: dict[str, dict[str, int | str]]
) -> bool:
    """True when final is present and matches its checksum; a bad one is deleted."""
    if not final.exists():
        return False
    st, stamp = final.stat(), state.get(final.name, {})
    same = stamp.get("size") == st.st_size and stamp.get("mtime_ns") == st.st_mtime_ns
    if same and expected in (None, stamp.get("sha256")):
        return True
    actual = sha256_file(final)
    if expected is not None and actual != expected:
        _warn(f"{final.name} does not match its published sha256; downloading it again")
        final.unlink()
        return False
    if expected is None:
        _unverified(remote, final, actual)
    state[final.name] = _stamp(final, actual)
    return True


def _fetch_one(
    remote: RemoteFile,
    dest: Path,
    base_url: str,
    expected: str | None,
    bar: Progress | None,
    state: dict[str, dict[str, int | str]],
    retries: int,
) -> Path:
    """Make dest/NAME a verified copy of one remote file."""
    final = dest / remote.name
    if _existing_ok(final, remote, expected, state):
        _say(f"{remote.name}: already present and verified, skipped")
        return final
    part = dest / f"{remote.name}.part"
    _transfer_with_retries(remote.url(base_url), part, bar, retries)
    state[remote.name] = _stamp(final, _finish(part, final, remote, expected))
    return final


def _progress_bar() -> Progress:
    """A rich progress bar showing bytes, speed and time left."""
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    return Progress(*columns, TransferSpeedColumn(), TimeRemainingColumn(), console=_console)


def download_all(
    dest: str | Path = DEFAULT_DEST,
    files: Iterable[RemoteFile] | None = None,
    base_url: str | None = None,
    sha256: Mapping[str, str] | str | Path | None = None,
    progress: bool = True,
    retries: int = RETRIES,
) -> list[Path]:
    """Download files (default: all of DATASETS) into dest, verified; return their local paths.

    sha256 adds to or overrides the published checksums: a name -> hex mapping, or a sha256sum list
    given as a local path or a URL.
    """
    dest = Path(dest)
    files = select() if files is None else list(files)
    base = resolve_base_url(base_url)
    _ensure_writable(dest)
    sums = load_checksums(files, base, sha256)
    _check_space(dest, files)
    state = _load_state(dest)
    paths: list[Path] = []
    with _progress_bar() if progress else nullcontext() as bar:
        for remote in files:
            paths.append(_fetch_one(remote, dest, base, sums.get(remote.name), bar, state, retries))
            _write_atomic(dest / STATE_FILE, json.dumps(state, indent=1, sort_keys=True))
    return paths


def describe(files: Iterable[RemoteFile], base_url: str) -> list[str]:
    """What --dry-run prints: size and URL of each file, the checksum lists, the total."""
    files = list(files)
    lines = [f"{'?' if f.size is None else _human(f.size):>10}  {f.url(base_url)}" for f in files]
    lists = dict.fromkeys(u for f in files if (u := f.checksums_url(base_url)) is not None)
    lines += [f"{'checksums':>10}  {url}" for url in lists]
    total = sum(f.size or 0 for f in files)
    lines.append(f"{_human(total):>10}  total, {len(files)} files")
    return lines
