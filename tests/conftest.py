"""Shared fixtures: a real embedded PostgreSQL, and a namespace of schemas per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from desivoid_ml.db.connection import Database, drop_namespace, open_database

# Public DESI, Legacy Surveys, SDSS and VAST-toolkit files kept in the repository (README there)
REAL_FITS = Path(__file__).resolve().parent / "data" / "real"


@contextmanager
def _fresh_namespace(tag: str) -> Iterator[Database]:
    """Schemas of their own on the embedded server (or DESIVOID_DSN), dropped afterwards."""
    database = open_database(prefix=f"{tag}{uuid.uuid4().hex[:10]}_")
    try:
        yield database
    finally:
        drop_namespace(database)


@pytest.fixture
def db() -> Iterator[Database]:
    """A namespace for one test."""
    with _fresh_namespace("t") as database:
        yield database


@pytest.fixture(scope="module")
def module_db() -> Iterator[Database]:
    """A namespace shared by the tests of one module (for fixtures that are costly to build)."""
    with _fresh_namespace("m") as database:
        yield database


@pytest.fixture(scope="module")
def real_fits() -> Path:
    """Folder of real FITS files from public DESI/SDSS/VAST projects."""
    if not REAL_FITS.exists():
        pytest.fail(f"real FITS folder not found at {REAL_FITS}")
    return REAL_FITS
