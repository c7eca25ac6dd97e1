"""Ctrl+C as a request: the first finishes the batch in flight, the second stops at once.
SIGTERM (what `timeout`, systemd and Kubernetes send) and SIGHUP (the terminal closing, as when an
SSH session drops) are taken as the same request.

Stages call `check()` between batches; everything they write is atomic or transactional, so
stopping at either point leaves a checkpoint that the same command resumes from.

While a PostgreSQL statement runs, the ADBC driver takes SIGINT itself and cancels the
statement: the first Ctrl+C would then fail whatever was in flight (a schema being created, a
COPY) and never reach `check()`. So during a stage the driver's hook is wrapped: the first
Ctrl+C becomes the same request as anywhere else, the second cancels the statement.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
from collections import Counter
from contextlib import contextmanager, suppress
from typing import NoReturn

STOPPING = "Stopping after the batch in flight (Ctrl+C again to stop at once)...\n"
STOPPED = ("Stopped at once.", " Everything written is whole; re-run the same command to resume.")
_requested = False
_forced = False  # a second Ctrl+C cancelled a PostgreSQL statement
_passed: Counter = Counter()
_parent_stop = None  # in a worker process: the parent's stop event
_parent_pid: int | None = None
# what stops a command as Ctrl+C does: SIGHUP only where the platform has it (not on Windows)
REQUESTS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
READER_GONE = 141  # 128 + SIGPIPE: the exit code a shell shows of a command whose reader quit (`| head`)


class Interrupted(Exception):
    """Raised at a safe point after Ctrl+C; `done` and `left` say where the stage stopped."""

    def __init__(self, stage: str, done: str, left: str):
        super().__init__(f"{stage}: {done}; {left}")
        self.stage, self.done, self.left = stage, done, left

    def __reduce__(self):  # raised in a worker process, re-raised in the parent
        return Interrupted, (self.stage, self.done, self.left)


def _handle(signum, frame) -> None:
    global _requested
    hung_up(signum)
    if _requested:
        raise KeyboardInterrupt
    _requested = True
    _say(STOPPING)


def _say(text: str) -> None:
    """Not through rich: the handler may run while a module of it is half imported."""
    with suppress(OSError):  # a terminal that hung up refuses it (EIO): the stop goes on
        sys.stderr.write(text)


def hung_up(signum: int) -> None:
    """On SIGHUP: the terminal hung up and refuses every write (EIO), and the command's next line
    would fail on it; what it prints from now on goes to /dev/null instead. A standard stream that
    is a character device but no longer a terminal is one that hung up; a file or a pipe is kept."""
    if signum != getattr(signal, "SIGHUP", None):
        return
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # no file descriptor (a test's capture), or a closed one
            number = stream.fileno()
            if stat.S_ISCHR(os.fstat(number).st_mode) and not os.isatty(number):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, number)
                os.close(devnull)


def reader_gone(console) -> NoReturn:
    """A rich console's closed pipe (`m2pg status | head -1`): its reader quit, which is no failure
    of the command; nothing more is printed there (Python's last flush at exit included) and the
    command ends as one that SIGPIPE stopped would, exit 141."""
    with suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, console.file.fileno())
        os.close(devnull)
    raise SystemExit(READER_GONE)


def _during_statement(cancel) -> None:
    """The driver's SIGINT hook while a statement runs (in the driver's own thread)."""
    global _requested, _forced
    if _requested:
        _forced = True
        cancel()
    else:
        _requested = True
        _say(STOPPING)


@contextmanager
def graceful():
    """Install the two-step Ctrl+C handler, for SIGTERM and SIGHUP too, for the duration of a stage."""
    import adbc_driver_manager.dbapi as adbc_dbapi  # here: loading it takes a worker half a second

    global _requested, _forced
    _requested = _forced = False
    previous = {number: signal.signal(number, _handle) for number in REQUESTS}
    blocking = adbc_dbapi._blocking_call
    adbc_dbapi._blocking_call = lambda func, args, kwargs, cancel: blocking(
        func, args, kwargs, lambda: _during_statement(cancel)
    )
    try:
        yield
    finally:
        adbc_dbapi._blocking_call = blocking
        for number, handler in previous.items():
            signal.signal(number, handler)


def forced() -> bool:
    """Whether a second Ctrl+C cancelled a statement: its failure is the stop, not an error."""
    return _forced


def join_parent(stop, parent: int) -> None:
    """In a worker process: stop when the parent's event is set, and crash with the parent."""
    global _parent_stop, _parent_pid
    _parent_stop, _parent_pid = stop, parent


def requested() -> bool:
    """Whether Ctrl+C was pressed in this process."""
    return _requested


def stopping() -> bool:
    """Whether this process, or the parent of this worker, was asked to stop."""
    return _requested or (_parent_stop is not None and _parent_stop.is_set())


def check(stage: str, done: str, left: str) -> None:
    """Stop here, at a safe point, if Ctrl+C was pressed."""
    if stopping():
        raise Interrupted(stage, done, left)


def crash_point(name: str) -> None:
    """Where crash tests kill the process: M2PG_KILL_AT="name:n" sends SIGKILL at the n-th pass.

    Off unless the variable is set; it lets tests stop a real process at exact moments
    (between a part and its manifest, inside a COPY's transaction) instead of guessing times.
    """
    target = os.environ.get("M2PG_KILL_AT")
    if not target:
        return
    point, _, count = target.rpartition(":")
    _passed[name] += 1
    if point == name and _passed[name] == int(count):
        if _parent_pid is not None:  # the whole command dies, as in a power cut
            os.kill(_parent_pid, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
