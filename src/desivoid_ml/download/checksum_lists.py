"""Published and user-given sha256 lists (sha256sum format) of the files to download."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from desivoid_ml.download.errors import DownloadError, NotFound
from desivoid_ml.download.files import RemoteFile
from desivoid_ml.download.messages import warn
from desivoid_ml.download.transfer import read_text


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


def _published(url: str) -> dict[str, str]:
    """Checksums from a published list; a missing list only warns."""
    try:
        return parse_sha256sum(read_text(url), url)
    except NotFound:
        warn(f"no checksum list at {url}: the files it should cover will not be verified")
        return {}


def _explicit(sha256: Mapping[str, str] | str | Path) -> dict[str, str]:
    """Checksums given by the caller: a mapping, a local sha256sum file or its URL."""
    if isinstance(sha256, Mapping):
        return {name: digest.lower() for name, digest in sha256.items()}
    source = str(sha256)
    if source.startswith(("http://", "https://")):
        return parse_sha256sum(read_text(source), source)
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
