"""Mistakes in --mongo-uri that the driver lets through at first are the operator's: one line,
exit 2, nothing staged and nothing written to the target.
- A read preference no member can serve (readPreference=secondary where there is none): the check
  asked the primary only, and the extract failed at its first read (exit 1), after `run` had
  created the schema.
- A TLS file an option names (tlsCAFile, tlsCertificateKeyFile) that cannot be read: the driver
  reports it as an OSError, which was taken for a failure of the staging folder (exit 1).
- An option the driver does not know (a typo) or whose value it cannot read: it only warns, once
  per process, and connects without it (a mistyped readPreference reads the primary)."""

import psycopg
import pytest
from bson import ObjectId
from pymongo import MongoClient

from processes import m2pg
from toolkit.runtime.servers import embedded_mongo


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with embedded_mongo(tmp_path_factory.mktemp("mongo")) as uri:
        MongoClient(uri)["nextcrm"]["Boards"].insert_one({"_id": ObjectId(), "title": "b"})
        yield uri


def tables(uri: str) -> list[str]:
    with psycopg.connect(uri) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema IN ('public', 'm2pg')"
            )
        ]


def refused(command: str, uri: str, staging, *target: str) -> str:
    """The one line `command` reading `uri` stops with (exit 2), having staged nothing."""
    done = m2pg(command, "--mongo-uri", uri, "--mongo-db", "nextcrm", "--staging", str(staging), *target)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stdout + done.stderr
    assert not staging.exists()
    return lines[0]


@pytest.mark.parametrize("command", ["extract", "run"])
def test_a_read_preference_no_member_serves_is_one_line_before_anything_is_written(tmp_path, server, pg_uri, command):
    target = ["--pg-uri", pg_uri] if command == "run" else []
    line = refused(command, f"{server}?readPreference=secondary", tmp_path / "st", *target)
    assert "cannot reach MongoDB" in line and "Secondary" in line, line
    assert tables(pg_uri) == []


@pytest.mark.parametrize("option", ["tlsCAFile", "tlsCertificateKeyFile"])
def test_a_tls_file_that_cannot_be_read_is_one_line_and_exit_2(tmp_path, server, option):
    line = refused("extract", f"{server}?tls=true&{option}={tmp_path / 'missing.pem'}", tmp_path / "st")
    assert option.lower() in line.lower() and "cannot reach MongoDB" in line, line
    assert str(tmp_path / "st") not in line


@pytest.mark.parametrize(
    "option, said", [("readPrefernce=secondary", "Unknown option"), ("connectTimeoutMS=abc", "connecttimeoutms")]
)
def test_an_option_the_driver_cannot_take_is_one_line_and_nothing_is_staged(tmp_path, server, option, said):
    line = refused("extract", f"{server}?{option}", tmp_path / "st")
    assert said in line and option.split("=")[0] in line and "Warning" not in line, line


def test_the_database_the_uri_names_is_extracted_without_mongo_db(tmp_path, server):
    """`--mongo-uri mongodb://host/nextcrm` alone stopped on "--mongo-db is required"."""
    done = m2pg("extract", "--mongo-uri", f"{server.rstrip('/')}/nextcrm", "--staging", str(tmp_path / "st"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "database nextcrm" in done.stdout and "1 document" in done.stdout, done.stdout
