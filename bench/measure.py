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

    def as_dict(self) -> dict:
        return asdict(self)


def _high_water(pid: int) -> int:
    """VmHWM of the child's own address space in kB (ru_maxrss would count the parent's at fork)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next((int(line.split()[1]) for line in fh if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


def measure(argv: list[str], env: dict | None = None, quiet: bool = True) -> Measured:
    """os.wait4 gives the CPU time of exactly this child; its peak RSS is polled from /proc."""
    started = time.perf_counter()
    sink = subprocess.DEVNULL if quiet else None
    errors = tempfile.TemporaryFile() if quiet else None  # a pipe could fill up while we poll
    child = subprocess.Popen(argv, env=env, stdout=sink, stderr=errors)
    peak = 0
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, _high_water(child.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3) and quiet:
        errors.seek(0)
        raise RuntimeError(f"{' '.join(argv)} exited {code}: {errors.read().decode()[-2000:]}")
    return Measured(" ".join(argv), round(seconds, 3), round(peak / 1024, 1),
                    round(100 * (usage.ru_utime + usage.ru_stime) / seconds, 1), code)
