"""One command at a time on a staging folder: two would interleave their writes.

The lock is an `flock` on STAGING/.m2pg.lock, so the kernel frees it the moment its holder dies
(a lock left by a killed process is simply taken over); the file names the holder, for the
message the second command prints. The file is removed when the command ends.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from toolkit.runtime.errors import ConfigError

LOCK_FILE = ".m2pg.lock"


@contextmanager
def held(root: Path, command: str, what: str = "staging folder", option: str = "--staging") -> Iterator[None]:
    """Hold the folder's lock while the block runs; exit 2 naming the holder if another command
    has it. `what` and `option` name the folder and the option choosing it in that message."""
    path = Path(root) / LOCK_FILE
    fd = _acquire(path, command, what, option)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"`{command}` (pid {os.getpid()})\n".encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)  # while still held: the next command locks a new file
        os.close(fd)


def _acquire(path: Path, command: str, what: str, option: str) -> int:
    """The locked descriptor of the file now at `path` (a holder may remove it while we wait)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another m2pg command"
            os.close(fd)
            raise ConfigError(
                f"{what} {path.parent} is in use by {holder}",
                hint=f"wait for it to end (or stop it) before running `{command}`, or choose another {option}",
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed the file between our open and our lock: try again
