"""A connection that survives the database dropping out: bounded, logged retries of one unit of
work (a block of rows), so a stream continues where it stopped after a restart or network blip."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import psycopg

from desivoid_ml.db.connection import connect
from desivoid_ml.errors import DatabaseLost, DatabaseUnavailable, first_line

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` reconnections, waits doubling so that together they span `window_s`."""

    attempts: int = 5
    window_s: float = 120.0

    def waits(self) -> list[float]:
        first = self.window_s / (2**self.attempts - 1)
        return [first * 2**i for i in range(self.attempts)]


class ReconnectingConnection:
    """Runs units of work on one autocommit connection, reconnecting when it is lost. A unit is
    retried whole, so it must not have handed anything out before it returns.

    The owner may run units in another thread (a prefetch reader). `release()` is how it stops
    them: a running query is cancelled (psycopg's thread-safe `cancel_safe`), a wait between
    attempts ends at once, and no new connection is opened; the unit then fails with the error
    it got, never retried, since a connection its owner let go is not a lost database."""

    def __init__(self, dsn: str, policy: RetryPolicy, what: str):
        self.dsn = dsn
        self.policy = policy
        self.what = what  # e.g. "the train split of features.galaxy", for messages
        self.conn: psycopg.Connection | None = None
        self._released = threading.Event()
        self._running = threading.Event()

    def __enter__(self) -> ReconnectingConnection:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
        self.close()

    def release(self) -> None:
        """Stop every unit now and for good (from any thread)."""
        self._released.set()
        conn = self.conn
        if conn is not None and self._running.is_set():
            with contextlib.suppress(psycopg.Error):
                conn.cancel_safe(timeout=5)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def run(self, work: Callable[[psycopg.Connection], T]) -> T:
        """work(conn), retried on a fresh connection while the policy allows."""
        waits = self.policy.waits()
        for attempt in range(len(waits) + 1):
            try:
                return self._once(work)
            except (psycopg.OperationalError, DatabaseUnavailable) as exc:
                self.close()
                if self._released.is_set():
                    raise
                reason = first_line(exc)
                if attempt == len(waits):
                    raise DatabaseLost(
                        f"lost the database while reading {self.what}: {reason}; it did not come "
                        f"back after {len(waits)} attempts over {self.policy.window_s:.0f} s"
                    ) from exc
                log.warning(
                    "database connection lost while reading %s (%s); reconnecting in %.1f s "
                    "(attempt %d of %d)",
                    self.what,
                    reason,
                    waits[attempt],
                    attempt + 1,
                    len(waits),
                )
                if self._released.wait(waits[attempt]):
                    raise
        raise AssertionError("unreachable")

    def _once(self, work: Callable[[psycopg.Connection], T]) -> T:
        if self._released.is_set():
            raise psycopg.OperationalError(f"stopped reading {self.what}")
        if self.conn is None or self.conn.closed:
            self.conn = connect(self.dsn, autocommit=True)
        self._running.set()
        try:
            if self._released.is_set():  # released while connecting: do not start
                raise psycopg.OperationalError(f"stopped reading {self.what}")
            return work(self.conn)
        finally:
            self._running.clear()
