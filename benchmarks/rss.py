"""This process's resident memory, from /proc (Linux): now, and at its peak since a reset."""

from __future__ import annotations

from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status: `VmRSS` (now) or `VmHWM`
    (the peak)."""
    for line in STATUS.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise LookupError(f"{field} is not in {STATUS}")


def reset_peak() -> None:
    """Make VmHWM start again from the current resident size (Linux 4.0 and later)."""
    CLEAR_REFS.write_text("5")
