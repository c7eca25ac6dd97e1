"""Ctrl+C as a request: the first finishes the batch in flight, the second stops at once.
SIGTERM (what `timeout`, systemd and Kubernetes send) is taken as the same request.

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
import sys
from collections import Counter
from contextlib import contextmanager

STOPPING = "Stopping after the batch in flight (Ctrl+C again to stop at once)...\n"
STOPPED = ("Stopped at once.", " Everything written is whole; re-run the same command to resume.")
_requested = False
_forced = False  # a second Ctrl+C cancelled a PostgreSQL statement
_passed: Counter = Counter()
_parent_stop = None  # in a worker process: the parent's stop event
_parent_pid: int | None = None


class Interrupted(Exception):
    """Raised at a safe point after Ctrl+C; `done` and `left` say where the stage stopped."""

    def __init__(self, stage: str, done: str, left: str):
        super().__init__(f"{stage}: {done}; {left}")
        self.stage, self.done, self.left = stage, done, left

    def __reduce__(self):  # raised in a worker process, re-raised in the parent
        return Interrupted, (self.stage, self.done, self.left)


def _handle(signum, frame) -> None:
    global _requested
    if _requested:
        raise KeyboardInterrupt
    _requested = True
    sys.stderr.write(STOPPING)  # not through rich: the handler may run while a module of it is half imported


def _during_statement(cancel) -> None:
    """The driver's SIGINT hook while a statement runs (in the driver's own thread)."""
    global _requested, _forced
    if _requested:
        _forced = True
        cancel()
    else:
        _requested = True
        sys.stderr.write(STOPPING)


@contextmanager
def graceful():
    """Install the two-step Ctrl+C handler, for SIGTERM too, for the duration of a stage."""
    import adbc_driver_manager.dbapi as adbc_dbapi  # here: loading it takes a worker half a second

    global _requested, _forced
    _requested = _forced = False
    previous = {number: signal.signal(number, _handle) for number in (signal.SIGINT, signal.SIGTERM)}
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
