"""Errors a user can act on: each message is one line that names the problem and the next step."""

from __future__ import annotations


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
