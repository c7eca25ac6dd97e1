"""Real `m2pg` processes for the tests: run to the end, killed at a named point, or sent Ctrl+C."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

M2PG = [sys.executable, "-m", "toolkit.cli"]


def environment(kill_at: str | None = None) -> dict:
    """This environment without the variables that steer m2pg, plus a crash point if asked."""
    env = {k: v for k, v in os.environ.items() if k not in ("M2PG_KILL_AT", "M2PG_WORKERS")}
    if kill_at:
        env["M2PG_KILL_AT"] = kill_at
    return env


def m2pg(*args: str, kill_at: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*M2PG, *args], capture_output=True, text=True, env=environment(kill_at), timeout=600)


def ctrl_c_once(args: list[str], ready: Callable[[], bool], sent: int = signal.SIGINT) -> tuple[int, str]:
    """Start m2pg, press Ctrl+C (or send `sent`) as soon as `ready()` says so; (exit code, output)."""
    process = subprocess.Popen(
        [*M2PG, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment()
    )
    deadline = time.time() + 120
    while not ready() and time.time() < deadline:
        time.sleep(0.01)
    process.send_signal(sent)
    out, err = process.communicate(timeout=300)
    return process.returncode, out + err


def ctrl_c_when(
    args: list[str], folder: Path, pattern: str, count: int = 1, sent: int = signal.SIGINT
) -> tuple[int, str]:
    """Start m2pg, press Ctrl+C (or send `sent`) once `count` files match `pattern` under `folder`;
    (exit code, output)."""
    return ctrl_c_once(args, lambda: len(list(folder.glob(pattern))) >= count, sent)
