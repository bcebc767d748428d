"""Progress reporting for long work: a rich progress bar on a terminal, silence in tests."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

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


class RichReporter:
    """One progress bar per task (rows done / total, rows/s, time left), on stderr."""

    def __init__(self, console: Console | None = None):
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
        )

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def task(self, label: str, total: int, unit: str = "rows") -> _RichStep:
        return _RichStep(self.progress, label, total, unit)
