"""What can go wrong in a download; every message is one line meant for the user."""

from __future__ import annotations

from desivoid_ml.errors import DesivoidError


class DownloadError(DesivoidError):
    """A download failed; the message is one line meant for the user."""


class NotFound(DownloadError):
    """HTTP 404."""


class Interrupted(DownloadError):
    """The transfer stopped early; the .part file it left can be resumed."""


class RangeDone(Exception):
    """HTTP 416: the server has nothing past the .part's end, so the .part may be complete."""

    def __init__(self, total: int | None) -> None:
        super().__init__(total)
        self.total = total
