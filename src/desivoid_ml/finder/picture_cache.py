"""The server's own copy of the pictures it drew: PNG bytes by ETag in a bounded LRU. The tag
hashes the path, the query, the renderer and the data's identity (`etags`), so a new run or a
rebuilt table gives new tags and the old pictures are never served again, only aged out."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # ~1,500 slices (~40 KiB each) and maps (~25 KiB)


class PictureCache:
    """PNG bytes by tag, least recently used dropped beyond `max_bytes`; thread-safe. A picture
    being drawn is drawn once: other requests for the same tag wait for it."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._pictures: OrderedDict[str, bytes] = OrderedDict()
        self._drawing: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pictures)

    def get(self, tag: str) -> bytes | None:
        with self._lock:
            return self._lookup(tag)

    def put(self, tag: str, picture: bytes) -> None:
        if len(picture) > self.max_bytes:
            return
        with self._lock:
            if tag in self._pictures:
                self.size -= len(self._pictures.pop(tag))
            self._pictures[tag] = picture
            self.size += len(picture)
            while self.size > self.max_bytes:
                self.size -= len(self._pictures.popitem(last=False)[1])

    def get_or_draw(self, tag: str, draw: Callable[[], bytes]) -> tuple[bytes, bool]:
        """(picture, whether this call drew it): the cached picture, else draw() once
        (concurrent callers of one tag share that drawing)."""
        while True:
            with self._lock:
                picture = self._lookup(tag)
                if picture is not None:
                    return picture, False
                pending = self._drawing.get(tag)
                if pending is None:
                    pending = self._drawing[tag] = threading.Event()
                    self.misses += 1
                    break
            pending.wait()  # another thread draws it; if it failed, try ourselves
        try:
            picture = draw()
            self.put(tag, picture)
            return picture, True
        finally:
            with self._lock:
                self._drawing.pop(tag, None)
            pending.set()

    def _lookup(self, tag: str) -> bytes | None:
        picture = self._pictures.get(tag)
        if picture is not None:
            self._pictures.move_to_end(tag)
            self.hits += 1
        return picture
