"""This process's memory in MB, for benchmarks and summaries.

The peak is VmHWM, the high-water mark of this process's own address space, and not
`ru_maxrss`: on Linux `ru_maxrss` survives fork and exec, so a child started by a large parent
reports at least the parent's size at the fork, whatever it does itself.
"""

from __future__ import annotations

import resource
from pathlib import Path

STATUS = Path("/proc/self/status")


def peak_rss_mb() -> float:
    """Highest resident memory of this process since it started (its own, not its parent's)."""
    return _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Resident memory now (0 where /proc is not available)."""
    return _status_mb("VmRSS") or 0.0


def _status_mb(key: str) -> float | None:
    if not STATUS.exists():
        return None
    for line in STATUS.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return None
