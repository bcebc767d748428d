"""The repository stands alone: nothing in code, tests, scripts or configs reads outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"\.\./shared|/work/")
CHECKED = ("src/", "tests/", "scripts/", "configs/", "Makefile", "train.py", ".ci/")


def _tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = [ROOT / n for n in names if n.startswith(CHECKED) and not n.endswith(".fits")]
    return [f for f in files if f.is_file() and f.name != Path(__file__).name]


def test_no_path_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _tracked_text_files()
        for number, line in enumerate(path.read_text(errors="ignore").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_real_fits_files_are_in_the_repository() -> None:
    real = ROOT / "tests" / "data" / "real"
    names = {p.relative_to(real).as_posix() for p in real.rglob("*.fits")}
    assert "vast-test-galaxies-10k.fits" in names
    assert "voids/TEST10K_VoidFinder_membership.fits" in names
