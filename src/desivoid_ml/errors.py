"""Errors a user can act on: each message is one line that names the problem and the next step."""

from __future__ import annotations


def first_line(exc: object, last: bool = False) -> str:
    """The first (or last) non-empty line of an error's message, else its type's name: what
    goes into a one-line message (libpq puts its reason on the last line of a failed connect)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    return lines[-1] if last else lines[0]


class DesivoidError(Exception):
    """Base class; the CLI prints `error: <message>` and exits with status 2."""


class DatabaseUnavailable(DesivoidError):
    """The database cannot be reached or started."""


class DatabaseLost(DesivoidError):
    """The database went away in the middle of work and did not come back in time."""


class FitsError(DesivoidError):
    """A file is not a readable FITS file (missing, truncated, corrupt, unsupported)."""


class SchemaMismatch(DesivoidError):
    """Incoming data does not fit the table already in the database."""


class IngestError(DesivoidError):
    """A file could not be loaded; nothing of it was committed."""


class TableRewritten(DesivoidError):
    """The table a stream reads was rewritten or dropped in the middle of an epoch."""
