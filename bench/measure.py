"""Run a command as a child process and measure it: wall time, peak RSS and CPU of that child alone."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass


@dataclass
class Measured:
    command: str
    seconds: float
    peak_rss_mb: float
    cpu_percent: float
    exit_code: int
    cores_busy: float = 0.0  # the whole machine's, PostgreSQL included, averaged over the run

    def as_dict(self) -> dict:
        return asdict(self)


def _status(pid: int, field: str) -> int:
    """A kB figure from /proc/<pid>/status; 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next((int(line.split()[1]) for line in fh if line.startswith(field)), 0)
    except OSError:
        return 0


def _tree(pid: int) -> list[int]:
    """The process and all its descendants (a stage may run worker processes)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    todo.extend(int(child) for child in fh.read().split())
        except OSError:
            continue
    return found


def _resident(pid: int) -> int:
    """kB in memory now for the whole tree: every process's own (anonymous) pages, plus the
    file-backed pages (the libraries the workers share) once; or the child's own high-water
    mark if that is more. /proc/<pid>/status is cheap to read, unlike smaps, which stalls
    the process it walks."""
    tree = _tree(pid)
    own = sum(_status(p, "RssAnon:") for p in tree)
    shared = max((_status(p, "RssFile:") + _status(p, "RssShmem:") for p in tree), default=0)
    return max(_status(pid, "VmHWM:"), own + shared)


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, in ticks, from /proc/stat."""
    with open("/proc/stat") as fh:
        ticks = [int(v) for v in fh.readline().split()[1:]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)  # idle and iowait are not busy


def measure(argv: list[str], env: dict | None = None, quiet: bool = True) -> Measured:
    """os.wait4 gives the CPU time of this child and the workers it waited for; the peak RSS of
    the child and its workers together is polled from /proc; /proc/stat gives how many cores
    the whole machine kept busy meanwhile, which counts the PostgreSQL server's work too."""
    started, ticks = time.perf_counter(), _machine_ticks()
    sink = subprocess.DEVNULL if quiet else None
    errors = tempfile.TemporaryFile() if quiet else None  # a pipe could fill up while we poll
    child = subprocess.Popen(argv, env=env, stdout=sink, stderr=errors)
    peak = 0
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, _resident(child.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    busy, total = (after - before for after, before in zip(_machine_ticks(), ticks, strict=False))
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3) and quiet:
        errors.seek(0)
        raise RuntimeError(f"{' '.join(argv)} exited {code}: {errors.read().decode()[-2000:]}")
    return Measured(
        " ".join(argv),
        round(seconds, 3),
        round(peak / 1024, 1),
        round(100 * (usage.ru_utime + usage.ru_stime) / seconds, 1),
        code,
        round((os.cpu_count() or 1) * busy / max(total, 1), 2),
    )
