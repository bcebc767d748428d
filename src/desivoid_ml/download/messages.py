"""One-line status and warning messages on stderr (above the progress bar when one is live)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

console = Console(stderr=True)


def warn(message: str) -> None:
    """Print a loud one-line warning to stderr (above the progress bar when one is live)."""
    console.print(Text.assemble(("WARNING: ", "bold red"), message), soft_wrap=True)


def say(message: str) -> None:
    """Print a one-line status message to stderr."""
    console.print(Text(message), soft_wrap=True)
