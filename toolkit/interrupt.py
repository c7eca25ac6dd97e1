"""Ctrl+C as a request: the first finishes the batch in flight, the second stops at once.

Stages call `check()` between batches; everything they write is atomic or transactional, so
stopping at either point leaves a checkpoint that the same command resumes from.
"""
from __future__ import annotations

import os
import signal
from collections import Counter
from contextlib import contextmanager

from toolkit.progress import console

_requested = False
_passed: Counter = Counter()


class Interrupted(Exception):
    """Raised at a safe point after Ctrl+C; `done` and `left` say where the stage stopped."""

    def __init__(self, stage: str, done: str, left: str):
        super().__init__(f"{stage}: {done}; {left}")
        self.stage, self.done, self.left = stage, done, left


def _handle(signum, frame) -> None:
    global _requested
    if _requested:
        raise KeyboardInterrupt
    _requested = True
    console.print("[yellow]Stopping after the batch in flight (Ctrl+C again to stop at once)...[/]")


@contextmanager
def graceful():
    """Install the two-step Ctrl+C handler for the duration of a stage."""
    global _requested
    _requested = False
    previous = signal.signal(signal.SIGINT, _handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def check(stage: str, done: str, left: str) -> None:
    """Stop here, at a safe point, if Ctrl+C was pressed."""
    if _requested:
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
        os.kill(os.getpid(), signal.SIGKILL)
