"""Views on the source server. One named like an app collection is not the app's data: it shows
its pipeline's output (a subset, a reshaping), the app's client cannot write it, and a dump of the
same database holds none of it; it was migrated as the collection. It stops the command in one line
(exit 2) before a file is staged. One the app does not declare and the server cannot read (its
pipeline fails) is listed with the server's reason: it failed every extract, after staging every
collection, as "m2pg failed unexpectedly"."""

import pytest
from bson import ObjectId
from pymongo import MongoClient

from processes import m2pg
from toolkit.runtime.servers import embedded_mongo


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with embedded_mongo(tmp_path_factory.mktemp("mongo")) as uri:
        client = MongoClient(uri)
        shadowed = client["shadowed"]  # Boards a view on another collection
        shadowed["boards_all"].insert_many([{"_id": ObjectId(), "title": f"b{n}", "n": n} for n in range(6)])
        shadowed["Users"].insert_one({"_id": ObjectId(), "email": "a@example.com"})
        shadowed.command("create", "Boards", viewOn="boards_all", pipeline=[{"$match": {"n": {"$lt": 3}}}])
        broken = client["broken"]  # an undeclared view that cannot be read
        broken["Boards"].insert_many([{"_id": ObjectId(), "title": f"b{n}"} for n in range(3)])
        broken.command("create", "report", viewOn="Boards", pipeline=[{"$project": {"x": {"$divide": [1, 0]}}}])
        yield uri


def extract(server: str, database: str, staging):
    return m2pg("extract", "--mongo-uri", server, "--mongo-db", database, "--staging", str(staging))


def test_a_view_in_place_of_an_app_collection_is_one_line_and_nothing_is_staged(tmp_path, server):
    done = extract(server, "shadowed", tmp_path / "st")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stdout + done.stderr
    assert "Boards is a view on boards_all" in lines[0], lines[0]
    assert not (tmp_path / "st").exists()


def test_an_undeclared_view_the_server_cannot_read_is_a_warning_not_a_failure(tmp_path, server):
    done = extract(server, "broken", tmp_path / "st")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "collection report could not be read (" in done.stdout + done.stderr
    assert "3 documents staged" in done.stdout
