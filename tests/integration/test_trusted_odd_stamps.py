"""--trust-updated-at keeps a part unread only when the server vouches for every document in it.
A document whose @updatedAt field holds neither a date nor null (a string, a number) was written by something
other than the app's client, at a time it does not tell: its part is read again, so the change
is staged, instead of the previous extract's copy being kept without a word."""

import json
from datetime import UTC, datetime, timedelta

import bson
import polars as pl
import pytest
from bson import ObjectId
from pymongo import MongoClient

from processes import m2pg
from toolkit.runtime.servers import embedded_mongo

DB = "nextcrm"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with embedded_mongo(tmp_path_factory.mktemp("mongo")) as uri:
        yield uri


def staged_titles(staging) -> dict[str, str]:
    parts = sorted((staging / "raw" / "Boards").glob("part-*.parquet"))
    documents = [bson.decode(d) for p in parts for d in pl.read_parquet(p, columns=["m2pg_document"])["m2pg_document"]]
    return {str(d["_id"]): d["title"] for d in documents}


@pytest.mark.parametrize("stamp", ["2099-01-01T00:00:00Z", 1764900000000])
def test_a_change_whose_updated_at_is_no_date_is_read_again(tmp_path, server, stamp):
    boards = MongoClient(server)[DB]["Boards"]
    boards.drop()
    old = datetime.now(UTC) - timedelta(days=30)
    ids = [ObjectId() for _ in range(10)]
    boards.insert_many([{"_id": i, "title": f"b{n}", "createdAt": old, "updatedAt": old} for n, i in enumerate(ids)])
    staging = tmp_path / "st"
    options = ["--mongo-uri", server, "--mongo-db", DB, "--staging", str(staging), "--part-size", "5", "--workers", "1"]
    assert m2pg("extract", *options).returncode == 0
    boards.update_one({"_id": ids[1]}, {"$set": {"title": "changed", "updatedAt": stamp}})
    done = m2pg("extract", *options, "--trust-updated-at")
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((staging / "raw" / "Boards" / "manifest.json").read_text())
    assert [bool(p.get("unread")) for p in manifest["parts"]] == [False, True]  # the other part is still kept
    assert staged_titles(staging)[str(ids[1])] == "changed"
