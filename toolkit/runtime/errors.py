"""The tool's own errors: each says what went wrong and how to fix it, in one line."""

from __future__ import annotations

import errno
import re
from pathlib import Path

from toolkit.runtime.redact import scrub

LONGEST_CAUSE = 240  # characters of a driver's message kept in a one-line error


class M2pgError(Exception):
    """A failure the user can fix; the CLI prints it in one line and exits with `exit_code`."""

    exit_code = 1

    def __init__(self, message: str, *, stage: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.stage = stage
        self.hint = hint

    def __reduce__(self):  # raised in a worker process, re-raised in the parent
        return _rebuild, (type(self), self.args[0], self.stage, self.hint)

    def __str__(self) -> str:
        text = super().__str__()
        prefix = f"{self.stage}: " if self.stage else ""
        return one_line(f"{prefix}{one_line(text)}" + (f"; hint: {self.hint}" if self.hint else ""))


class ConfigError(M2pgError):
    """Wrong options, unreachable source, missing staging: a usage or configuration error."""

    exit_code = 2


class EnvironmentFailure(M2pgError):
    """A server, disk or folder failed under the command: fix it and re-run to resume."""

    exit_code = 1


class WorkerLost(Exception):
    """A worker process of a stage died under it (killed by the system, or by someone): the
    environment failed, as when a disk fills; re-running resumes."""


def _rebuild(kind: type, message: str, stage: str | None, hint: str | None) -> M2pgError:
    return kind(message, stage=stage, hint=hint)


def one_line(text: str) -> str:
    """Whitespace (newlines, tabs) folded into single spaces."""
    return " ".join(text.split())


# what is left of a driver's message once the essential cause is said
_NOISE = re.compile(
    r"\s*(?:\(configured timeouts:.*|, Timeout: .*|, Topology Description: .*|, full error: .*"
    r"|\bIs the server running .*)$",
    re.S,
)


def short_cause(error: BaseException | str) -> str:
    """A driver's message as one short line: its essential cause, never a password."""
    text = _NOISE.sub("", one_line(scrub(str(error))))
    return text if len(text) <= LONGEST_CAUSE else text[: LONGEST_CAUSE - 1] + "…"


_FOLDER_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EFBIG,  # a file passed the size limit (ulimit -f) or the file system's largest file
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ENOENT,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EIO,
    errno.EEXIST,
}
_SERVERS = {
    "psycopg": "PostgreSQL",
    "adbc_driver": "PostgreSQL",
    "duckdb": "PostgreSQL (through DuckDB)",
    "pymongo": "MongoDB",
    "bson": "MongoDB",
}
_DROPPED = (
    "OperationalError",
    "InterfaceError",
    "AutoReconnect",
    "ConnectionFailure",
    "NetworkTimeout",
    "ServerSelectionTimeoutError",
    "ConnectionException",
    "IOException",
    "ExecutionTimeout",
)


CURSOR_LOST = {43, 175, 237}  # CursorNotFound, QueryPlanKilled, CursorKilled: MongoDB ended a read it was serving
INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL's SQLSTATE for a privilege the role lacks
UNAUTHORIZED = 13  # MongoDB's error code for a command the user may not run


def refused_privilege(error: BaseException) -> str | None:
    """A server's refusal of a privilege the command's login lacks, in the server's own words
    (PostgreSQL's primary message, without the driver's wrapping and the query); None for any
    other error."""
    if getattr(error, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
        fields = {k.decode(): v.decode(errors="replace") for k, v in getattr(error, "details", None) or []}
        said = fields.get("PG_DIAG_MESSAGE_PRIMARY") or getattr(getattr(error, "diag", None), "message_primary", None)
        return f"PostgreSQL refused the role of --pg-uri a privilege m2pg needs: {said or short_cause(error)}"
    if type(error).__module__.startswith("pymongo") and getattr(error, "code", None) == UNAUTHORIZED:
        return f"MongoDB refused the user of --mongo-uri a privilege m2pg needs: {short_cause(error)}"
    return None


def environment_failure(error: BaseException | None, folder: Path | None = None) -> str | None:
    """What failed around m2pg (a disk, a folder, a server that dropped, a privilege the target
    refused), named in one line; None when the error is not one of these (a bug of m2pg).
    `folder`, the one the command writes, is named when the error does not say which file failed
    (Arrow's writers do not)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, WorkerLost):
            return str(error)
        if isinstance(error, MemoryError):  # the machine's memory or the process's limit (ulimit -v)
            return "out of memory: the machine, or the limit set for the command, holds too little for it"
        if isinstance(error, OSError) and error.errno in _FOLDER_ERRNOS:
            where = error.filename or (f"a file in {folder}" if folder else "a file")
            return f"cannot write or read {where}: {error.strerror or error}"
        refused = refused_privilege(error)
        if refused:
            return refused
        kind = type(error)
        server = next((name for prefix, name in _SERVERS.items() if kind.__module__.startswith(prefix)), None)
        if server == "MongoDB" and getattr(error, "code", None) in CURSOR_LOST:
            return f"MongoDB ended a read (a collection dropped or renamed?): {short_cause(error)}"
        if server and any(base.__name__ in _DROPPED for base in kind.__mro__):
            return f"{server} failed: {short_cause(error)}"
        error = error.__cause__ or error.__context__
    return None
