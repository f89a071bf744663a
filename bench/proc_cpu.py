"""CPU time of a group of processes, from /proc: the user + system time of every live process of a process
group (a server started in its own session, with its workers), in seconds. A bench samples it before and
after a measured window and divides by the requests served: CPU per request, the figure that decides how
many cores a shop needs, and much steadier than req/s on a loaded machine."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def group_cpu_seconds(pgid: int, proc: Path = PROC) -> float:
    """utime + stime of every live process whose process group is `pgid` (Linux only)."""
    ticks = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:  # the process ended meanwhile
            continue
        # "pid (comm) state ppid pgrp ... utime stime ...": comm may hold spaces and parentheses
        fields = stat[stat.rindex(b")") + 2 :].split()
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


def cpu_us_per_request(cpu_seconds: float, requests: int) -> float | None:
    return round(cpu_seconds * 1e6 / requests, 1) if requests else None
