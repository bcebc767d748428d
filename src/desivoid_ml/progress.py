"""Progress reporting for long work: a rich progress bar on a terminal, plain periodic lines
(rows, rate, ETA) when output goes to a file or pipe, silence in tests."""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import AbstractContextManager
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class Reporter(Protocol):
    """What long-running work reports: a task with a total, advanced as units complete."""

    def task(self, label: str, total: int, unit: str = "rows") -> AbstractContextManager[Step]: ...


class Step(Protocol):
    def advance(self, n: int) -> None: ...


class _NullStep:
    def advance(self, n: int) -> None:
        pass

    def __enter__(self) -> _NullStep:
        return self

    def __exit__(self, *exc) -> None:
        return None


class NullReporter:
    """Reports nothing."""

    def task(self, label: str, total: int, unit: str = "rows") -> _NullStep:
        return _NullStep()


class RateColumn(ProgressColumn):
    """Units per second, e.g. `412,301 rows/s`."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "rows")
        return Text(f"{speed:,.0f} {unit}/s" if speed else f"- {unit}/s", style="cyan")


class _RichStep:
    def __init__(self, progress: Progress, label: str, total: int, unit: str):
        self._progress = progress
        self._id = progress.add_task(label, total=total, unit=unit)

    def advance(self, n: int) -> None:
        self._progress.advance(self._id, n)

    def __enter__(self) -> _RichStep:
        return self

    def __exit__(self, *exc) -> None:
        self._progress.refresh()


INTERVAL_ENV = "DESIVOID_PROGRESS_INTERVAL"
DEFAULT_INTERVAL_S = 10.0


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class _LineStep:
    """Writes `label: done/total unit (pct), rate, elapsed, ETA` at most every interval."""

    def __init__(self, stream: TextIO, label: str, total: int, unit: str, interval_s: float):
        self.stream, self.label, self.total, self.unit = stream, label, total, unit
        self.interval_s = interval_s
        self.done = 0
        self.started = self.last = time.monotonic()
        self._lock = threading.Lock()

    def advance(self, n: int) -> None:
        with self._lock:
            self.done += n
            now = time.monotonic()
            if now - self.last >= self.interval_s:
                self.last = now
                self._write(now)

    def _write(self, now: float, final: bool = False) -> None:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        line = f"{self.label}: {self.done:,}/{self.total:,} {self.unit}"
        if self.total:
            line += f" ({self.done / self.total:.0%})"
        line += f", {rate:,.0f} {self.unit}/s, {_duration(elapsed)}"
        if final:
            line += " (done)"
        elif rate > 0 and self.total > self.done:
            line += f", ETA {_duration((self.total - self.done) / rate)}"
        print(line, file=self.stream, flush=True)

    def __enter__(self) -> _LineStep:
        print(f"{self.label}: started ({self.total:,} {self.unit})", file=self.stream, flush=True)
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            with self._lock:
                self._write(time.monotonic(), final=True)


class LineReporter:
    """Plain progress lines for logs and pipes (no bar redrawn at the end)."""

    def __init__(self, stream: TextIO | None = None, interval_s: float | None = None):
        self.stream = stream or sys.stderr
        self.interval_s = (
            interval_s
            if interval_s is not None
            else float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL_S))
        )

    def __enter__(self) -> LineReporter:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def task(self, label: str, total: int, unit: str = "rows") -> _LineStep:
        return _LineStep(self.stream, label, total, unit, self.interval_s)


class RichReporter:
    """One progress bar per task (rows done / total, rows/s, time left), on stderr; when stderr
    is not a terminal, plain periodic lines instead (LineReporter)."""

    def __init__(self, console: Console | None = None):
        console = console or Console(stderr=True)
        self.lines = None if console.is_terminal else LineReporter(console.file)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )

    def __enter__(self) -> RichReporter:
        if self.lines is None:
            self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.lines is None:
            self.progress.stop()

    def task(self, label: str, total: int, unit: str = "rows") -> _RichStep | _LineStep:
        if self.lines is not None:
            return self.lines.task(label, total, unit)
        return _RichStep(self.progress, label, total, unit)
