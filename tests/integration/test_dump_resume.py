"""A dump extract resumes after the last recorded `_id`, and restarts a collection whose file changed
since the checkpoint, saying why: every document of the dump as it is now is staged exactly once."""

import json
import math
import os
import signal

import bson
import polars as pl
import pytest
from bson import ObjectId

from processes import m2pg
from toolkit.generate import sample as generate
from toolkit.sources.readers import DumpSource, Position, resume_index, resume_point
from transforms import APP, MODELS

PART = 100


def kill_point(dump, dataset, collection: str, parts_kept: int) -> str:
    """The crash point that stops a one-process extract after `parts_kept` parts of `collection`
    (collections are extracted the largest first)."""
    source = DumpSource(dump)
    order = sorted(MODELS, key=lambda m: -source.volume(m.source))
    before = 0
    for m in order:
        if m.source == collection:
            return f"extract-part:{before + parts_kept + 1}"
        before += math.ceil(len(dataset.get(m.source, [])) / PART)
    raise AssertionError(collection)


def staged_ids(staging, collection: str) -> list[str]:
    """The ids of the parts the collection's manifest records."""
    folder = staging / "raw" / collection
    parts = [folder / p["file"] for p in json.loads((folder / "manifest.json").read_text())["parts"]]
    return pl.read_parquet(parts, columns=["m2pg_object_id"])["m2pg_object_id"].to_list() if parts else []


def extract(dump, staging, kill_at=None):
    return m2pg(
        "extract",
        "--dump",
        str(dump),
        "--staging",
        str(staging),
        "--batch-size",
        str(PART),
        "--workers",
        "1",
        kill_at=kill_at,
    )


def test_a_dump_recreated_without_an_earlier_document_is_staged_exactly_once(tmp_path):
    dataset = generate.demo_dataset(APP, 7)
    dump, staging = tmp_path / "dump", tmp_path / "staging"
    generate.write_dump(dump, "nextcrm", dataset)
    killed = extract(dump, staging, kill_at=kill_point(dump, dataset, "Invoices", parts_kept=2))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert len(staged_ids(staging, "Invoices")) == 2 * PART
    by_id = sorted(dataset["Invoices"], key=lambda d: d["_id"])
    dataset["Invoices"].remove(by_id[50])  # a document the interrupted run had staged
    generate.write_dump(dump, "nextcrm", dataset)  # mongodump run again

    resumed = extract(dump, staging)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    for collection, documents in dataset.items():
        expected = sorted(str(d["_id"]) for d in documents if isinstance(d.get("_id"), ObjectId))
        got = sorted(i for i in staged_ids(staging, collection) if i is not None)
        assert got == expected, collection
    lines = [
        line for line in resumed.stderr.splitlines() if "Invoices" in line and "changed since the checkpoint" in line
    ]
    assert lines and "extracting it again from the start" in lines[0], resumed.stderr


def test_a_file_edited_in_place_with_its_size_and_time_kept_is_restarted(tmp_path):
    dataset = generate.demo_dataset(APP, 7)
    dump, staging = tmp_path / "dump", tmp_path / "staging"
    generate.write_dump(dump, "nextcrm", dataset)
    assert extract(dump, staging, kill_at=kill_point(dump, dataset, "Invoices", 2)).returncode == -signal.SIGKILL
    path = dump / "nextcrm" / "Invoices.bson"
    before = path.stat()
    data = path.read_bytes()
    at = data.index(b"paid")
    path.write_bytes(data[:at] + b"PAID" + data[at + 4 :])
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    resumed = extract(dump, staging)
    assert resumed.returncode == 0, resumed.stderr
    assert "Invoices.bson changed since the checkpoint (its content digest changed)" in resumed.stderr
    statuses = pl.read_parquet(staging / "raw" / "Invoices" / "part-*.parquet", columns=["status"])["status"]
    assert "PAID" in statuses.to_list()


def oid(n: int) -> ObjectId:
    return ObjectId(n.to_bytes(12, "big"))


@pytest.mark.parametrize(
    "ids, staged, deleted, resume_at",
    [
        ([1, 2, 3, 4, 5, 6], 3, None, 3),  # the file as it was
        ([1, 2, 3, 4, 5, 6], 3, 2, 2),  # an earlier document deleted: the next one still follows
        ([1, 2, 3, 4, 5, 6], 3, 5, 3),  # a later one deleted
        ([6, 5, 4, 3, 2, 1], 3, 1, 2),  # out of _id order in the file
        ([1, 2, 3, 3, 3, 4], 4, None, 4),  # a repeated _id split by the end of a part
        ([1, 2, 3, 3, 3, 4], 5, None, 5),
        ([1, 2, 3, 3, 3, 4], 5, 1, 4),
        ([1, *[2] * 40, 3], 41, None, 41),  # more copies than the first look at a part's end takes in
    ],
)
def test_the_resume_point_follows_the_last_recorded_id(tmp_path, ids, staged, deleted, resume_at):
    documents = [bson.encode({"_id": oid(i), "k": k}) for k, i in enumerate(ids)]
    in_order = sorted(documents, key=lambda d: bson.decode(d)["_id"])
    last, key, copies = resume_point(b"".join(in_order[:staged]))
    if deleted is not None:
        documents = [d for d in documents if bson.decode(d)["_id"] != oid(deleted)]
    path = tmp_path / "c.bson"
    path.write_bytes(b"".join(documents))
    assert resume_index(path, Position(staged, last, copies, key)) == resume_at


@pytest.mark.parametrize(
    "value, later, before",
    [  # `before`: documents of the file that sort before `value`
        ("b", "c", ["a"]),
        (5, 7.5, [-2]),
        (-1.5, 0, [-2]),
        ("z", oid(1), ["a"]),
        (oid(9), True, [oid(8), "a"]),
        ({"x": 1}, [1], ["a"]),
    ],
)
def test_ids_of_other_types_resume_by_value(tmp_path, value, later, before):
    path = tmp_path / "c.bson"
    path.write_bytes(b"".join(bson.encode({"_id": v}) for v in (later, *before, value)))
    last, key, copies = resume_point(bson.encode({"_id": value}))
    assert resume_index(path, Position(9, last, copies, key)) == len(before) + 1


def test_a_malformed_last_document_resumes_after_it(tmp_path):
    documents = [bson.encode({"_id": oid(i)}) for i in (1, 2)]
    broken = bytearray(bson.encode({"_id": oid(3), "s": "text"}))
    broken[-3] = 0x00  # the string's terminator moved: the document is malformed, its length intact
    path = tmp_path / "c.bson"
    path.write_bytes(b"".join([documents[1], bytes(broken), documents[0]]))
    last, key, copies = resume_point(b"".join([documents[0], documents[1], bytes(broken)]))
    assert resume_index(path, Position(3, last, copies, key)) == 3
