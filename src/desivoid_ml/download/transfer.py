"""HTTP transfer of one file into NAME.part, resumed with Range requests after a dropped
connection; failures become one-line DownloadErrors."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from pathlib import Path

from desivoid_ml.download.errors import DownloadError, Interrupted, NotFound, RangeDone
from desivoid_ml.download.messages import warn
from desivoid_ml.progress import Reporter

CHUNK_BYTES = 1 << 20  # bounded memory per read, few enough syscalls for multi-GB files
TIMEOUT_S = 60  # per socket operation: a stalled server fails the transfer, which then resumes
MAX_LIST_BYTES = 1 << 20  # a checksum list is a few hundred bytes; refuse anything absurd
USER_AGENT = "desivoid_ml-download/0.1"


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
        return RangeDone(_parse_content_range(exc.headers.get("Content-Range"))[1])
    if exc.code == 404:
        return NotFound(f"not found (HTTP 404): {url}")
    return DownloadError(f"HTTP {exc.code} {exc.reason}: {url}")


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a `bytes A-B/N` or `bytes */N` header; None where unknown."""
    if not value or not value.startswith("bytes "):
        return None, None
    span, _, total = value[len("bytes ") :].partition("/")
    first = span.partition("-")[0]
    return (int(first) if first.isdigit() else None, int(total) if total.isdigit() else None)


def read_text(url: str) -> str:
    """Body of a small text resource."""
    with _open(url) as resp:
        return resp.read(MAX_LIST_BYTES).decode("utf-8", errors="replace")


def _read(resp: http.client.HTTPResponse, name: str) -> bytes:
    """The next chunk of the body; a network failure becomes a resumable interruption."""
    try:
        return resp.read(CHUNK_BYTES)
    except (OSError, http.client.HTTPException) as exc:
        raise Interrupted(f"transfer of {name} interrupted ({exc})") from None


def _stream(
    resp: http.client.HTTPResponse,
    part: Path,
    offset: int,
    length: int | None,
    reporter: Reporter,
) -> int:
    """Copy the body into part (appending when offset > 0); return the bytes received. The
    reporter's task counts this response's bytes (0 total when the server sends no length)."""
    label = f"{part.stem} (from byte {offset:,})" if offset else part.stem
    received = 0
    try:
        with (
            part.open("ab" if offset else "wb") as fh,
            reporter.task(label, length or 0, "bytes") as step,
        ):
            while chunk := _read(resp, part.stem):
                fh.write(chunk)
                received += len(chunk)
                step.advance(len(chunk))
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
        raise Interrupted(f"server sent {part.stem} from byte {first}, not {offset}; restarting")
    return offset


def _range_done(part: Path, offset: int, total: int | None) -> None:
    """HTTP 416: keep the .part if its size is the server's total (verified next), else drop it."""
    if total is not None and total != offset:
        part.unlink(missing_ok=True)
        raise Interrupted(f"{part.name} has {offset} bytes, the server {total}; restarting")


def _transfer(url: str, part: Path, reporter: Reporter) -> None:
    """Fetch url into part, resuming from part's size when the server honours Range."""
    offset = part.stat().st_size if part.exists() else 0
    try:
        resp = _open(url, offset)
    except RangeDone as done:
        _range_done(part, offset, done.total)
        return
    with resp:
        offset = _resume_offset(resp, part, offset)
        header = resp.headers.get("Content-Length")
        length = int(header) if header and header.isdigit() else None
        received = _stream(resp, part, offset, length, reporter)
    if length is not None and received < length:
        got, want = offset + received, offset + length
        raise Interrupted(f"connection dropped after {got} of {want} bytes of {part.stem}")


def transfer_with_retries(url: str, part: Path, reporter: Reporter, retries: int) -> None:
    """Transfer url into part, resuming after an interruption up to `retries` times."""
    for attempt in range(retries + 1):
        try:
            _transfer(url, part, reporter)
            return
        except Interrupted as exc:
            if attempt == retries:
                raise Interrupted(f"{exc}; run again to resume") from None
            warn(f"{exc}; resuming (retry {attempt + 1} of {retries})")
