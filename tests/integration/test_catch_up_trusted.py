"""A catch-up from a live server with --trust-updated-at: parts of the previous extract the server
vouches for are kept unread, and the target still equals a fresh migration of the changed
source when every write set updatedAt as the app's client does; a write that did not is not
seen, and `m2pg verify` says so."""

import signal
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from bson import ObjectId
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

from catch_up_source import copy_of_the_first_run, edit, first_source, first_world, run_between
from processes import m2pg
from test_catch_up import assert_same_rows, migrated_rows
from toolkit.generate import sample as generate
from toolkit.staging.layout import read_json
from transforms import MODELS

DB = "trusted"
PART = "5"  # several parts a collection, so some are kept and some read
STAMPED = [m for m in MODELS if m.updated_at]


@dataclass
class Source:
    mongo_uri: str
    before_db: str  # the first run's target: a template for each test's copy
    before_staging: Path
    touched: dict[str, set[str]]  # collection -> ids of documents added, changed or deleted by the edits
    fresh: dict


def documents(client: MongoClient) -> dict[str, dict]:
    """Every document of the collections with @updatedAt fields, as its exact bytes, by `_id`."""
    raw = CodecOptions(document_class=RawBSONDocument)
    return {
        m.source: {d["_id"]: d.raw for d in client[DB].get_collection(m.source, codec_options=raw).find()}
        for m in STAMPED
    }


def stamp_what_changed(client: MongoClient, before: dict[str, dict]) -> dict[str, set[str]]:
    """Set the @updatedAt fields of every document added or changed, as the app's client would;
    the ids of those and of the deleted ones."""
    after, now, touched = documents(client), datetime.now(UTC), {}
    for m in STAMPED:
        changed = [i for i, raw in after[m.source].items() if before[m.source].get(i) != raw]
        if changed:
            client[DB][m.source].update_many({"_id": {"$in": changed}}, {"$set": dict.fromkeys(m.updated_at, now)})
        touched[m.source] = {str(i) for i in [*changed, *(before[m.source].keys() - after[m.source].keys())]}
    return touched


def run(mongo_uri: str, pg_uri: str, staging: Path, *options: str, kill_at: str | None = None):
    return run_between(mongo_uri, DB, pg_uri, staging, "--part-size", PART, *options, kill_at=kill_at)


@pytest.fixture(scope="module")
def source(pg_server, tmp_path_factory) -> Source:
    with first_world(pg_server, tmp_path_factory, DB, "trusted") as places:
        mongo_uri, cast, before_db, fresh_db, before_staging = places
        first = run(mongo_uri, before_db, before_staging, "--trust-updated-at")
        assert first.returncode == 3, first.stdout + first.stderr
        assert "no complete earlier extract from this source: it is read whole" in first.stderr
        with MongoClient(mongo_uri) as client:
            before = documents(client)
            edit(client[DB], cast)
            touched = stamp_what_changed(client, before)
        fresh = run(mongo_uri, fresh_db, tmp_path_factory.mktemp("fresh"))
        assert fresh.returncode == 3, fresh.stdout + fresh.stderr
        yield Source(mongo_uri, before_db, before_staging, touched, migrated_rows(fresh_db))


def first_run_copy(source: Source, pg_server, tmp_path: Path, name: str) -> tuple[str, Path]:
    return copy_of_the_first_run(pg_server, "trusted", source.before_staging, tmp_path, name)


def unread_parts(staging: Path) -> dict[str, list[set[str]]]:
    """Per collection, the ids in each part the extract kept unread."""
    found = {}
    for m in STAMPED:
        folder = staging / "raw" / m.source
        found[m.source] = [
            set(pl.read_parquet(folder / p["file"], columns=["m2pg_object_id"])["m2pg_object_id"])
            for p in read_json(folder / "manifest.json")["parts"]
            if p.get("unread")
        ]
    return found


def test_the_edits_touch_some_parts_and_leave_others(source):
    """The premise: the edits reach documents with @updatedAt fields, and not all of them."""
    assert sum(len(ids) for ids in source.touched.values()) >= 5
    assert {"crm_Accounts", "crm_Contacts", "Boards"} <= {c for c, ids in source.touched.items() if ids}


def test_a_trusted_catch_up_reads_only_what_changed_and_equals_a_fresh_migration(source, pg_server, tmp_path):
    uri, staging = first_run_copy(source, pg_server, tmp_path, "trusted_once")
    result = run(source.mongo_uri, uri, staging, "--trust-updated-at")
    assert result.returncode == 3, result.stdout + result.stderr
    assert_same_rows(migrated_rows(uri), source.fresh)
    report = read_json(staging / "reports" / "extract.json")
    kept = unread_parts(staging)
    assert report["documents_unread"] == sum(len(ids) for parts in kept.values() for ids in parts) > 0
    for collection, parts in kept.items():
        for ids in parts:  # a part kept unread holds no document the edits touched
            assert not ids & source.touched[collection], collection
    assert any(parts for c, parts in kept.items() if source.touched[c])  # kept beside parts read again
    assert "not read again" in " ".join(result.stdout.split())
    assert not list((staging / "raw").glob(".*.earlier"))
    assert m2pg("report", "--staging", str(staging)).returncode == 0
    page = (staging / "reports" / "report.html").read_text()
    assert f"{report['documents_unread']} documents in {report['parts_unread']} parts: none written" in page


def test_a_write_that_sets_no_updated_at_is_not_seen_and_verify_says_so(source, pg_server, tmp_path):
    uri, staging = first_run_copy(source, pg_server, tmp_path, "trusted_unseen")
    assert run(source.mongo_uri, uri, staging, "--trust-updated-at").returncode == 3
    kept = unread_parts(staging)["Tasks"]
    assert kept, "no part of Tasks was kept: the case proves nothing"
    task = sorted(kept[0])[0]
    with MongoClient(source.mongo_uri) as client:
        tasks = client[DB]["Tasks"]
        original = tasks.find_one({"_id": ObjectId(task)})
        try:
            tasks.update_one({"_id": original["_id"]}, {"$set": {"title": "Changed behind the app's back"}})
            trusted = run(source.mongo_uri, uri, staging, "--trust-updated-at")
            assert trusted.returncode == 3 and "0 updated" in trusted.stdout, trusted.stdout + trusted.stderr
            verify = m2pg(
                "verify", "--mongo-uri", source.mongo_uri, "--mongo-db", DB, "--pg-uri", uri, "--staging", str(staging)
            )
            assert verify.returncode == 1 and "Tasks" in verify.stdout + verify.stderr, verify.stdout + verify.stderr
            whole = run(source.mongo_uri, uri, staging)
            assert whole.returncode == 3 and "1 updated" in whole.stdout, whole.stdout + whole.stderr
        finally:
            tasks.replace_one({"_id": original["_id"]}, original)


@pytest.mark.parametrize("point", ["extract-part:3"])
def test_sigkill_during_a_trusted_extract_then_again_equals_one_catch_up(source, pg_server, tmp_path, point):
    name = "trusted_killed_" + point.rpartition(":")[2]
    uri, staging = first_run_copy(source, pg_server, tmp_path, name)
    killed = run(source.mongo_uri, uri, staging, "--trust-updated-at", kill_at=point)
    assert killed.returncode == -signal.SIGKILL, f"{point} was never reached:\n{killed.stdout}{killed.stderr}"
    assert list((staging / "raw").glob(".*.earlier")), "killed outside a trusted collection: the case proves nothing"
    again = run(source.mongo_uri, uri, staging, "--trust-updated-at")
    assert again.returncode == 3, again.stdout + again.stderr
    assert_same_rows(migrated_rows(uri), source.fresh)
    assert not list((staging / "raw").glob(".*.earlier"))


def test_a_dump_is_read_whole_and_says_so(tmp_path):
    data, _ = first_source()
    generate.write_dump(tmp_path / "dump", DB, data)
    staging = tmp_path / "staging"
    args = ["extract", "--dump", str(tmp_path / "dump"), "--mongo-db", DB, "--staging", str(staging)]
    assert m2pg(*args).returncode == 0
    again = m2pg(*args, "--trust-updated-at")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "is read whole (only a server vouches)" in again.stderr
    report = read_json(staging / "reports" / "extract.json")
    assert report["documents_unread"] == 0
    assert "trusted_since" not in report and "not read again" not in again.stdout  # nothing claimed of a dump
