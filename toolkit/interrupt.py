"""Ctrl+C as a request: the first finishes the batch in flight, the second stops at once.

Stages call `check()` between batches; everything they write is atomic or transactional, so
stopping at either point leaves a checkpoint that the same command resumes from.
"""
from __future__ import annotations

import signal
from contextlib import contextmanager

from toolkit.progress import console

_requested = False


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


def requested() -> bool:
    return _requested


def check(stage: str, done: str, left: str) -> None:
    """Stop here, at a safe point, if Ctrl+C was pressed."""
    if _requested:
        raise Interrupted(stage, done, left)
