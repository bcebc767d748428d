"""Tests of desivoid_ml.download against a local HTTP server with Range support (no internet).

Long (~310 lines) because the server fixture (ranges, failures, wrong checksums) lives here with
the tests that need it."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from desivoid_ml.download import (
    BASE_URL_ENV,
    DATASETS,
    LOCAL_SUMS,
    DownloadError,
    RemoteFile,
    download_all,
    parse_sha256sum,
)
from desivoid_ml.progress import LineReporter

REPO = Path(__file__).resolve().parents[1]
SIZE = 300_000  # bytes per test file: several chunks of the server's writes, still instant
DIR = "cat/v1"
SUMS = "cat_v1.sha256sum"


class RangeServer(ThreadingHTTPServer):
    """A file server whose misbehaviour tests switch on; it counts the file bytes it sends."""

    daemon_threads = True
    ignore_range = False  # answer every GET with 200 and the whole file
    drops = 0  # this many next file responses stop halfway, then the connection closes

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), partial(RangeHandler, directory=str(root)))
        self.root = root
        self.url = f"http://127.0.0.1:{self.server_port}"
        self.served: dict[str, int] = {}  # body bytes sent per file name
        self.ranges: list[str | None] = []  # Range header of each file request


class RangeHandler(SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus `Range: bytes=N-` (206/416) and the server's test modes."""

    server: RangeServer

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        """Serve a file, honouring or ignoring Range, possibly dropping the connection."""
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data, header = path.read_bytes(), self.headers.get("Range")
        if path.suffix == ".fits":
            self.server.ranges.append(header)
        start = 0 if header is None or self.server.ignore_range else int(header[6:-1])
        if start >= len(data) > 0:
            self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
            return
        extra = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"} if start else {}
        self._send(206 if start else 200, data[start:], extra, path.name)

    def _send(self, status: int, body: bytes, headers: dict[str, str], name: str = "") -> None:
        """Send status, headers and body (only half of it when a drop is due)."""
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(key, value)
        self.end_headers()
        if name.endswith(".fits") and self.server.drops > 0:
            self.server.drops -= 1
            body = body[: len(body) // 2]
            self.close_connection = True
        if name:  # counted before sending: the client may finish before this thread resumes
            self.server.served[name] = self.server.served.get(name, 0) + len(body)
        self.wfile.write(body)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RangeServer]:
    """A RangeServer on a free port of 127.0.0.1, serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = RangeServer(root)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def publish(server: RangeServer, name: str = "a.fits", listed: str | None = "good") -> bytes:
    """Put a random file on the server; list its sha256 ("good"), a wrong one ("bad") or none."""
    data = os.urandom(SIZE)
    folder = server.root / DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest() if listed == "good" else "0" * 64
    if listed is not None:
        (folder / SUMS).write_text(f"{digest}  {name}\n")
    return data


def remote(name: str = "a.fits") -> RemoteFile:
    """The test file, in a directory whose checksum list is SUMS."""
    return RemoteFile(DIR, name, None, SUMS)


def fetch(server: RangeServer, dest: Path, **kwargs: object) -> list[Path]:
    """download_all of the test file from the test server."""
    options = {"files": [remote()], "base_url": server.url, **kwargs}
    return download_all(dest, **options)


def test_full_download_is_verified_and_renamed(server: RangeServer, tmp_path: Path) -> None:
    data = publish(server)
    lines = io.StringIO()
    paths = fetch(server, tmp_path / "dest", reporter=LineReporter(lines, interval_s=0))
    assert paths == [tmp_path / "dest" / "a.fits"]
    assert lines.getvalue().splitlines()[-1].startswith(f"a.fits: {SIZE:,}/{SIZE:,} bytes (100%)")
    assert paths[0].read_bytes() == data
    assert not (tmp_path / "dest" / "a.fits.part").exists()
    assert server.served["a.fits"] == SIZE


def test_interrupted_transfer_resumes_with_only_the_remainder(
    server: RangeServer, tmp_path: Path
) -> None:
    data = publish(server)
    dest = tmp_path / "dest"
    server.drops = 1
    with pytest.raises(DownloadError, match="connection dropped.*run again to resume"):
        fetch(server, dest, retries=0)
    part = dest / "a.fits.part"
    kept = part.stat().st_size
    assert 0 < kept < SIZE and not (dest / "a.fits").exists()
    server.served.clear()
    fetch(server, dest)
    assert server.served["a.fits"] == SIZE - kept
    assert server.ranges[-1] == f"bytes={kept}-"
    assert (dest / "a.fits").read_bytes() == data


def test_dropped_connection_is_resumed_automatically(server: RangeServer, tmp_path: Path) -> None:
    data = publish(server)
    server.drops = 2
    [path] = fetch(server, tmp_path / "dest", retries=2)
    assert path.read_bytes() == data
    assert server.served["a.fits"] == SIZE  # halves of what was left, never a byte twice
    assert len(server.ranges) == 3


def test_server_ignoring_range_restarts_from_zero(server: RangeServer, tmp_path: Path) -> None:
    data = publish(server)
    dest = tmp_path / "dest"
    dest.mkdir()
    stale = b"stale bytes that must not survive"
    (dest / "a.fits.part").write_bytes(stale)
    server.ignore_range = True
    [path] = fetch(server, dest)
    assert server.ranges == [f"bytes={len(stale)}-"]
    assert path.read_bytes() == data


def test_complete_part_answered_416_is_verified(server: RangeServer, tmp_path: Path) -> None:
    data = publish(server)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "a.fits.part").write_bytes(data)
    [path] = fetch(server, dest)
    assert path.read_bytes() == data
    assert server.served.get("a.fits", 0) == 0


def test_checksum_mismatch_deletes_the_file(server: RangeServer, tmp_path: Path) -> None:
    data = publish(server, listed="bad")
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError) as err:
        fetch(server, dest)
    message = str(err.value)
    assert "a.fits" in message and "0" * 64 in message
    assert hashlib.sha256(data).hexdigest() in message and "\n" not in message
    assert not (dest / "a.fits").exists() and not (dest / "a.fits.part").exists()


def test_missing_checksum_warns_and_records_the_hash(
    server: RangeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = publish(server, listed=None)
    dest = tmp_path / "dest"
    fetch(server, dest)
    err = capsys.readouterr().err
    assert "WARNING" in err and "NOT verified" in err and SUMS in err
    local = parse_sha256sum((dest / LOCAL_SUMS).read_text(), LOCAL_SUMS)
    assert local == {"a.fits": hashlib.sha256(data).hexdigest()}


def test_sha256_argument_overrides_the_published_list(server: RangeServer, tmp_path: Path) -> None:
    data = publish(server, listed="bad")
    sums = tmp_path / "mine.sha256sum"
    sums.write_text(f"{hashlib.sha256(data).hexdigest()} *a.fits\n")
    [path] = fetch(server, tmp_path / "dest", sha256=sums)
    assert path.read_bytes() == data


def test_rerun_skips_verified_files(server: RangeServer, tmp_path: Path) -> None:
    publish(server)
    dest = tmp_path / "dest"
    fetch(server, dest)
    assert "a.fits" in json.loads((dest / ".verified.json").read_text())
    server.served.clear()
    fetch(server, dest)
    assert "a.fits" not in server.served and server.ranges == [None]


def test_rerun_replaces_a_corrupted_file(server: RangeServer, tmp_path: Path) -> None:
    data = publish(server)
    dest = tmp_path / "dest"
    fetch(server, dest)
    (dest / "a.fits").write_bytes(b"x" * SIZE)
    fetch(server, dest)
    assert (dest / "a.fits").read_bytes() == data


def test_404_names_the_url(server: RangeServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"HTTP 404.*/cat/v1/nothere\.fits$"):
        download_all(tmp_path, [RemoteFile(DIR, "nothere.fits")], server.url)


def test_unreachable_host_says_what_to_check(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DownloadError, match="check the network or --base-url"):
        download_all(tmp_path, [remote()], f"http://127.0.0.1:{port}")


def test_unwritable_destination(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DownloadError, match="destination not writable"):
        download_all(blocker / "dest", [remote()], "http://127.0.0.1:9")


def test_main_downloads_desivast_from_a_mirror(
    server: RangeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = DATASETS["desivast"]
    folder = server.root / files[0].directory
    folder.mkdir(parents=True)
    lines = []
    for f in files:
        (folder / f.name).write_bytes(f.name.encode())
        lines.append(f"{hashlib.sha256(f.name.encode()).hexdigest()}  {f.name}\n")
    (folder / files[0].checksums).write_text("".join(lines))
    monkeypatch.setenv(BASE_URL_ENV, server.url)
    dest = tmp_path / "dr1"
    result = _cli("download", "--only", "desivast", "--dest", str(dest))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in dest.glob("*.fits")) == sorted(f.name for f in files)
    done = [line for line in result.stderr.splitlines() if line.endswith("(done)")]
    assert len(done) == len(files)  # piped: the project's plain progress lines, one per file


def test_main_reports_errors_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = _cli("download", "--dest", str(blocker / "x"), "--base-url", "http://127.0.0.1:9")
    assert result.returncode == 2
    err = result.stderr
    assert err.startswith("error: destination not writable") and err.count("\n") == 1


def test_dry_run_lists_urls_under_the_base(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BASE_URL_ENV, "http://mirror.test/dr1/")
    result = _cli("download", "--dry-run", "--only", "fastspec")
    assert result.returncode == 0
    out = result.stdout.splitlines()
    urls = [line.split()[-1] for line in out[:12]]
    assert urls[0] == (
        "http://mirror.test/dr1/fastspecfit/iron/v3.0/catalogs/"
        "fastspec-iron-main-bright-nside1-hp00.fits"
    )
    assert [u[-7:-5] for u in urls] == [f"{hp:02d}" for hp in range(12)]
    assert "26.4 GiB" in out[-1]


def _cli(*args: str) -> subprocess.CompletedProcess:
    """`desivoid ARGS` in a child process (exit status and stderr as a user sees them)."""
    return subprocess.run(
        [sys.executable, "-m", "desivoid_ml.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_script_help() -> None:
    script = REPO / "scripts" / "download_dr1.py"
    result = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, check=True
    )
    assert "--base-url" in result.stdout and "--sha256-file" in result.stdout
