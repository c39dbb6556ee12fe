"""The machine a benchmark runs on, for the record: every benchmark prints it first."""

from __future__ import annotations

import contextlib
import datetime
import os
import platform


def machine() -> str:
    """The CPU model, cores, Python, the kernel and today's date."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        cpu = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
            cpu,
        )
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, {datetime.date.today().isoformat()}"
    )
