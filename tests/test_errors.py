"""A failure around m2pg (a disk, a folder, a server that drops) is named in one short line;
anything else is left to be reported as a bug."""

import errno

import psycopg
import pytest
from adbc_driver_manager import AdbcStatusCode, ProgrammingError
from pymongo import MongoClient
from pymongo.errors import CursorNotFound, OperationFailure, PyMongoError

from toolkit.runtime.errors import LONGEST_CAUSE, ConfigError, environment_failure, short_cause


def refused_postgres() -> Exception:
    try:
        psycopg.connect("postgresql://u:Wolf%40Moon@127.0.0.1:1/db", connect_timeout=2)
    except psycopg.Error as error:
        return error
    raise AssertionError("a closed port accepted a connection")


def not_allowed(sqlstate: str) -> Exception:
    """PostgreSQL's error as the ADBC driver raises it, the query in its text."""
    return ProgrammingError(
        "UNAUTHORIZED: [libpq] Failed to execute query 'SELECT * FROM \"Users\"': ERROR: permission denied",
        status_code=AdbcStatusCode.UNAUTHORIZED,
        sqlstate=sqlstate,
        details=[(b"PG_DIAG_MESSAGE_PRIMARY", b"permission denied for table Users")],
    )


def refused_mongo() -> Exception:
    try:
        MongoClient("mongodb://127.0.0.1:1/", serverSelectionTimeoutMS=200).admin.command("ping")
    except PyMongoError as error:
        return error
    raise AssertionError("a closed port accepted a connection")


@pytest.mark.parametrize(
    "make, expected",
    [
        (
            lambda: OSError(errno.ENOSPC, "No space left on device", "/st/clean/x.parquet"),
            "cannot write or read /st/clean/x.parquet: No space left on device",
        ),
        (
            lambda: OSError(errno.EROFS, "Read-only file system", "/st/reports/load.json"),
            "cannot write or read /st/reports/load.json: Read-only file system",
        ),
        (refused_postgres, "PostgreSQL failed: "),
        (refused_mongo, "MongoDB failed: 127.0.0.1:1: [Errno 111] Connection refused"),
        (
            lambda: not_allowed("42501"),
            "PostgreSQL refused the role of --pg-uri a privilege m2pg needs: permission denied for table Users",
        ),
        (
            lambda: OperationFailure(
                "not authorized on nextcrm to execute command { listCollections: 1 }", code=13, details={"code": 13}
            ),
            "MongoDB refused the user of --mongo-uri a privilege m2pg needs: not authorized on nextcrm to execute",
        ),
        (  # the collection dropped or renamed under the read: was "failed unexpectedly ... report it as a bug"
            lambda: CursorNotFound("cursor id 5177 not found", code=43, details={"code": 43}),
            "MongoDB ended a read (a collection dropped or renamed?): cursor id 5177 not found",
        ),
        (
            lambda: OperationFailure("collection dropped. UUID 1a2b", code=175, details={"code": 175}),
            "MongoDB ended a read (a collection dropped or renamed?): collection dropped",
        ),
        (  # under `ulimit -v`: was "failed unexpectedly: MemoryError:  ... report it as a bug"
            MemoryError,
            "out of memory: the machine, or the limit set for the command, holds too little for it",
        ),
    ],
)
def test_environment_failures_are_named_in_one_line(make, expected):
    said = environment_failure(make())
    assert said is not None and said.startswith(expected), said
    assert "\n" not in said and len(said) < LONGEST_CAUSE + 60 and "Wolf" not in said


def test_a_failure_wrapped_by_another_is_still_found():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/st/raw/part.parquet")
        except OSError as error:
            raise RuntimeError("writing a part failed") from error
    except RuntimeError as wrapped:
        assert environment_failure(wrapped).startswith("cannot write or read /st/raw/part.parquet")


@pytest.mark.parametrize(
    "error",
    [
        KeyError("x"),
        ValueError("bad value"),
        ZeroDivisionError(),
        not_allowed("42P01"),  # a table m2pg should have made: its own fault
        OperationFailure("the $group stage is not allowed here", code=15),
    ],
)
def test_a_bug_is_not_taken_for_the_environment(error):
    assert environment_failure(error) is None


def test_driver_text_is_cut_to_its_cause():
    noisy = (
        "127.0.0.1:1: [Errno 111] Connection refused (configured timeouts: socketTimeoutMS: 20000.0ms, "
        "connectTimeoutMS: 20000.0ms), Timeout: 0.2s, Topology Description: <TopologyDescription ...>"
    )
    assert short_cause(noisy) == "127.0.0.1:1: [Errno 111] Connection refused"
    assert len(short_cause("x" * 1000)) == LONGEST_CAUSE


def test_a_hint_stays_on_the_line():
    assert (
        str(ConfigError("no source given\n", stage="extract", hint="pass --dump DIR"))
        == "extract: no source given; hint: pass --dump DIR"
    )
