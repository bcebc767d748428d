"""Which downloaded files are verified: checks against the expected sha256, the state file that
lets re-runs skip rehashing, and SHA256SUMS.local for files no published list covers."""

from __future__ import annotations

import json
from pathlib import Path

from desivoid_ml.checksums import sha256_file
from desivoid_ml.download.checksum_lists import parse_sha256sum
from desivoid_ml.download.errors import DownloadError
from desivoid_ml.download.files import RemoteFile
from desivoid_ml.download.messages import warn

LOCAL_SUMS = "SHA256SUMS.local"  # computed sha256 of files no published list covered
STATE_FILE = ".verified.json"  # size, mtime and sha256 of verified files: re-runs skip rehashing


def record_local_sum(dest: Path, name: str, digest: str) -> None:
    """Add or replace name's line in DEST/SHA256SUMS.local (sha256sum format)."""
    path = dest / LOCAL_SUMS
    sums = parse_sha256sum(path.read_text(), str(path)) if path.exists() else {}
    sums[name] = digest
    write_atomic(path, "".join(f"{d}  {n}\n" for n, d in sorted(sums.items())))


def write_atomic(path: Path, text: str) -> None:
    """Write text to path through a temporary file and a rename."""
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _unverified(remote: RemoteFile, path: Path, digest: str) -> None:
    """Warn that a file has no published checksum and record the one computed here."""
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        warn(f"{remote.name} has {size} bytes, the public tree lists {remote.size}")
    warn(
        f"no published sha256 for {remote.name}: NOT verified; its sha256 {digest} "
        f"is recorded in {path.parent / LOCAL_SUMS}"
    )
    record_local_sum(path.parent, remote.name, digest)


def finish(part: Path, final: Path, remote: RemoteFile, expected: str | None) -> str:
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


def load_state(dest: Path) -> dict[str, dict[str, int | str]]:
    """Records of verified files; an unreadable state file is ignored (files get rehashed)."""
    try:
        return json.loads((dest / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def stamp(path: Path, digest: str) -> dict[str, int | str]:
    """What identifies a verified file cheaply: size, mtime and its sha256."""
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}


def existing_ok(
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
        warn(f"{final.name} does not match its published sha256; downloading it again")
        final.unlink()
        return False
    if expected is None:
        _unverified(remote, final, actual)
    state[final.name] = stamp(final, actual)
    return True
