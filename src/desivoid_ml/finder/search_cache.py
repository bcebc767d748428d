"""The last similarity searches the finder ran, by galaxy, width, run and the data's identity:
a galaxy's Similar page, its API call and its embedding map ask PostgreSQL for the same
neighbours; a new run or a rebuilt table changes the identity, so an old answer is never
used again, only aged out."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

MAX_ENTRIES = 512
MAX_ROWS = 50  # wider searches (filters look thousands of rows down) are not kept


class SearchCache:
    """(column names, rows) by key, least recently used dropped beyond MAX_ENTRIES; callers
    get copies of the rows (they add columns to them)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._answers: OrderedDict[tuple, tuple[list[str], list[dict]]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_search(
        self, key: tuple, rows_wanted: int, search: Callable[[], tuple[list[str], list[dict]]]
    ) -> tuple[list[str], list[dict]]:
        with self._lock:
            found = self._answers.get(key)
            if found is not None:
                self._answers.move_to_end(key)
        if found is None:
            found = search()
            if rows_wanted <= MAX_ROWS:
                with self._lock:
                    self._answers[key] = found
                    while len(self._answers) > self.max_entries:
                        self._answers.popitem(last=False)
        names, rows = found
        return list(names), [dict(row) for row in rows]
