"""A URI spelled as RFC 3986 allows and as people paste it reaches the same server: its scheme in
any case (`POSTGRESQL://`, `MongoDB://`) and whitespace around it (a copied line's newline, a
leading space). libpq read `POSTGRESQL://...` or ` postgresql://...` as `key=value` pairs
("missing "=" after ..."), took a trailing newline into the database's name, and pymongo
answered "URI must begin with 'mongodb://'" beside a URI shown beginning with it."""

import psycopg
import pytest
from bson import ObjectId
from pymongo import MongoClient

from processes import m2pg
from toolkit.runtime.servers import embedded_mongo

SPELLINGS = {
    "upper case scheme": lambda uri: uri.split("://")[0].upper() + "://" + uri.split("://", 1)[1],
    "space before, newline after": lambda uri: f" {uri}\n",
    "tab, mixed case scheme": lambda uri: f"\t{uri.split('://')[0].title()}://{uri.split('://', 1)[1]} ",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with embedded_mongo(tmp_path_factory.mktemp("mongo")) as uri:
        MongoClient(uri)["nextcrm"]["Boards"].insert_one({"_id": ObjectId(), "title": "b"})
        yield uri


def app_tables(uri: str) -> int:
    with psycopg.connect(uri) as conn:
        found = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()
        return found[0] if found else 0


@pytest.mark.parametrize("spelled", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_a_pg_uri_in_any_case_or_with_whitespace_around_it_reaches_the_target(tmp_path, pg_uri, spelled):
    done = m2pg("schema", "--pg-uri", spelled(pg_uri))
    assert done.returncode == 0, done.stdout + done.stderr
    assert app_tables(pg_uri) == 39
    done = m2pg("status", "--pg-uri", spelled(pg_uri), "--staging", str(tmp_path / "none"))
    assert done.returncode == 0 and "cannot connect" not in done.stdout + done.stderr, done.stdout + done.stderr


@pytest.mark.parametrize("spelled", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_a_mongo_uri_in_any_case_or_with_whitespace_around_it_reaches_the_source(tmp_path, server, spelled):
    done = m2pg("extract", "--mongo-uri", spelled(server), "--mongo-db", "nextcrm", "--staging", str(tmp_path / "st"))
    assert done.returncode == 0 and "1 document" in done.stdout, done.stdout + done.stderr
