"""A dump holding malformed BSON, odd arrays and odd ids, one case per document among valid
documents: `m2pg run` exits 3, each broken document is in the quarantine with its rule, reason,
offset and exact bytes, every valid document loads exactly (`verify --full`), reconcile and verify
agree, `m2pg errors` groups the new rules, and no command prints a traceback. The bytes are
written by hand: no MongoDB server would hold them."""

import base64
import json
from pathlib import Path

import bson
import polars as pl
import pytest
from bson import ObjectId

from processes import m2pg
from toolkit.generate import sample as generate
from transforms import APP

USER = ObjectId("6600000000000000000000ff")  # a made-up user nothing else names


def oid(n: int) -> ObjectId:
    return ObjectId(f"66000000000000000000{n:04x}")


def int32(n: int) -> bytes:
    return n.to_bytes(4, "little", signed=True)


def replaced(raw: bytes, old: bytes, new: bytes) -> bytes:
    assert raw.count(old) == 1 and len(old) == len(new)
    return raw.replace(old, new)


def nested(levels: int) -> bytes:
    """An embedded document `{"d": {"d": ...}}` `levels` deep, built without recursion."""
    inner = int32(5) + b"\x00"
    for _ in range(levels):
        element = b"\x03d\x00" + inner
        inner = int32(len(element) + 5) + element + b"\x00"
    return inner


def with_element(raw: bytes, element: bytes) -> bytes:
    """The document with one more element at its end (its length fixed)."""
    body = raw[4:-1] + element
    return int32(len(body) + 5) + body + b"\x00"


def cases(board: dict, task: dict, repeated: dict, user: dict) -> dict[str, list[dict]]:
    """Per collection, the crafted documents in file order: their bytes, and what the quarantine
    must say (rule, a fragment of the reason, the ObjectId it names; `at`: the reason gives the
    file offset), or `loads` for an odd but valid document."""

    def b(n: int, **changes) -> bytes:
        return bson.encode({**board, "_id": oid(n), **changes})

    first, second = b(1), b(2)
    boards = [
        {
            "bytes": int32(len(first) + len(second)) + first[4:] + second,
            "rule": "bson",
            "reason": "the length covers bytes that follow",
            "object_id": oid(1),
            "at": True,
        },
        {
            "bytes": replaced(b(3, title="TITLE-X"), b"TITLE-X", b"TITLE-\xff"),
            "rule": "utf8",
            "reason": "is not valid UTF-8",
            "object_id": oid(3),
            "at": True,
        },
        {
            "bytes": replaced(b(4, note_K="v"), b"note_K", b"note_\xfe"),
            "rule": "utf8",
            "reason": "is not valid UTF-8",
            "object_id": oid(4),
            "at": True,
        },
        {
            "bytes": replaced(b(5, zzz=1), b"\x10zzz\x00", b"\x42zzz\x00"),
            "rule": "bson",
            "reason": "element type 0x42",
            "object_id": oid(5),
            "at": True,
        },
        {
            "bytes": replaced(b(6, description="LIE-LIE"), int32(8) + b"LIE-LIE\x00", int32(200) + b"LIE-LIE\x00"),
            "rule": "bson",
            "reason": "declares a length that does not fit",
            "object_id": oid(6),
            "at": True,
        },
        {
            "bytes": b(7)[:-1] + b"\x01",
            "rule": "bson",
            "reason": "is not the 0 that ends a document",
            "object_id": oid(7),
            "at": True,
        },
        {
            "bytes": replaced(b(8, tiXtle2="v"), b"tiXtle2", b"ti\x00tle2"),
            "rule": "bson",
            "reason": "declares a length that does not fit",
            "object_id": oid(8),
            "at": True,
        },
        {
            "bytes": b(9, sharedWith=[USER, None, board["user"]]),
            "rule": "type",
            "reason": "sharedWith: element 1 is null",
            "object_id": oid(9),
        },
        {
            "bytes": bson.encode({k: v for k, v in board.items() if k != "_id"} | {"title": "no id"}),
            "rule": "id_type",
            "reason": "document has no _id",
            "object_id": None,
        },
        {
            "bytes": bson.encode({**repeated, "title": "second copy", "watchers": [board["user"]]}),  # names no pair
            "rule": "unique",
            "reason": "repeats the _id of an earlier document",
            "object_id": repeated["_id"],
        },
        {"bytes": b(10, watchers=[board["user"], None]), "loads": oid(10)},  # a junction array skips the null
        {
            "bytes": with_element(b(12, title="one"), b"\x02title\x00" + int32(4) + b"two\x00"),
            "rule": "repeated_key",
            "reason": "title: the key appears more than once",
            "object_id": oid(12),
            "exact": True,
        },
        {
            "bytes": with_element(b(13, note="a"), b"\x02note\x00" + int32(2) + b"b\x00"),  # a key not declared
            "rule": "repeated_key",
            "reason": "note: the key appears more than once",
            "object_id": oid(13),
            "exact": True,
        },
        {
            "bytes": with_element(b(14), b"\x07_id\x00" + oid(15).binary),
            "rule": "repeated_key",
            "reason": "_id: the key appears more than once",
            "object_id": oid(14),
            "exact": True,
        },
        {"bytes": b(11)[:-12], "rule": "bson", "reason": "a truncated document", "object_id": None, "at": True},
    ]
    t = bson.encode({**task, "_id": oid(20), "tags": [{"name": "JSONX"}]})
    tasks = [
        {
            "bytes": replaced(t, b"JSONX", b"JSON\xff"),
            "rule": "utf8",
            "reason": "is not valid UTF-8",
            "object_id": oid(20),
            "at": True,
        },
        {
            "bytes": with_element(bson.encode({**task, "_id": oid(21), "tags": None}), b"\x03deep\x00" + nested(1000)),
            "rule": "bson",
            "reason": "nested more than 100 levels",
            "object_id": oid(21),
            "at": True,
        },
        {  # a key repeated in an object inside a Json value: jsonb would keep the last value
            "bytes": with_element(
                bson.encode({k: v for k, v in task.items() if k != "tags"} | {"_id": oid(22)}),
                b"\x04tags\x00" + document(b"\x030\x00" + document(text("name", "a") + text("name", "b"))),
            ),
            "rule": "repeated_key",
            "reason": "tags: the key 'name' appears more than once in one of its objects",
            "object_id": oid(22),
            "exact": True,
        },
    ]
    # Users has a unique field: a run into a target that holds rows reads its documents before the
    # extract, to find a unique value held by another's row (run's source_clash)
    users = [
        {
            "bytes": replaced(bson.encode({**user, "_id": oid(30), "email": "BADX@x.io"}), b"BADX", b"BAD\xff"),
            "rule": "utf8",
            "reason": "is not valid UTF-8",
            "object_id": oid(30),
            "at": True,
        },
        {
            "bytes": replaced(
                bson.encode({**user, "_id": oid(31), "email": "z@x.io", "zzz": 1}), b"\x10zzz\x00", b"\x42zzz\x00"
            ),
            "rule": "bson",
            "reason": "element type 0x42",
            "object_id": oid(31),
            "at": True,
        },
    ]
    return {"Boards": boards, "Tasks": tasks, "Users": users}


def document(elements: bytes) -> bytes:
    return int32(len(elements) + 5) + elements + b"\x00"


def text(key: str, value: str) -> bytes:
    return b"\x02" + key.encode() + b"\x00" + int32(len(value) + 1) + value.encode() + b"\x00"


def write_bad_dump(root: Path) -> tuple[Path, dict[str, list[dict]]]:
    """The sample dataset as a dump, each crafted document placed after every 20th valid one
    (the truncated one last, where a truncated document can only be); records each offset."""
    data = generate.sample(APP, 7)
    folder = generate.write_dump(root, "nextcrm", data)
    crafted = cases(data["Boards"][0], data["Tasks"][0], data["Boards"][5], data["Users"][0])
    for collection, made in crafted.items():
        valid = [bson.encode(d) for d in data[collection]]
        out = bytearray()
        for i, case in enumerate(made):
            out += b"".join(valid[20 * i : 20 * (i + 1)])
            if case is made[-1] and collection == "Boards":
                out += b"".join(valid[20 * (i + 1) :])
            case["offset"] = len(out)
            out += case["bytes"]
        if collection != "Boards":
            out += b"".join(valid[20 * len(made) :])
        (folder / f"{collection}.bson").write_bytes(bytes(out))
    return root, crafted


@pytest.fixture(scope="module")
def migrated(tmp_path_factory, pg_server):
    root = tmp_path_factory.mktemp("bad_bytes")
    dump, crafted = write_bad_dump(root / "dump")
    uri, staging = pg_server.get_uri(), root / "staging"
    run = m2pg("run", "--dump", str(dump), "--pg-uri", uri, "--staging", str(staging))
    return {"dump": dump, "uri": uri, "staging": staging, "crafted": crafted, "run": run}


def quarantine(staging: Path, collection: str) -> pl.DataFrame:
    return pl.read_parquet(sorted((staging / "quarantine" / collection).glob("part-*.parquet")))


def test_run_completes_with_every_broken_document_quarantined(migrated):
    run = migrated["run"]
    assert run.returncode == 3, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    for collection, made in migrated["crafted"].items():
        records = quarantine(migrated["staging"], collection)
        for case in made:
            if "loads" in case:
                assert str(case["loads"]) not in records["object_id"].to_list()
                continue
            if case.get("at"):  # malformed bytes: found by where they lie, kept exactly
                size = len(case["bytes"])
                where = f"bytes {case['offset']} to {case['offset'] + size} of the file ({size} bytes)"
                found = records.filter(pl.col("reason").str.contains(where, literal=True))
                assert found.height == 1, (where, records.select("rule", "reason").rows())
                kept = json.loads(found["document"][0])["$binary"]["base64"]
                assert base64.b64decode(kept) == case["bytes"]
            else:
                named = (
                    pl.col("object_id").is_null()
                    if case["object_id"] is None
                    else pl.col("object_id") == str(case["object_id"])
                )
                found = records.filter(named & pl.col("reason").str.contains(case["reason"], literal=True))
            assert found.height == 1, (case["reason"], records.select("object_id", "rule", "reason").rows())
            row = found.row(0, named=True)
            assert row["rule"] == case["rule"] and case["reason"] in row["reason"]
            assert row["object_id"] == (str(case["object_id"]) if case["object_id"] else None)
            if case.get("exact"):  # decoding would keep one value of the key: the bytes are kept
                assert base64.b64decode(json.loads(row["document"])["$binary"]["base64"]) == case["bytes"]


def test_the_extract_summary_counts_the_quarantined_bytes(migrated):
    manifest = json.loads((migrated["staging"] / "raw" / "Boards" / "manifest.json").read_text())
    malformed = sum(len(c["bytes"]) for c in migrated["crafted"]["Boards"] if c.get("at"))
    assert manifest["malformed_bytes"] == malformed


def test_verify_full_and_reconcile_agree_with_the_quarantine(migrated):
    args = ["--pg-uri", migrated["uri"], "--staging", str(migrated["staging"])]
    reconcile = m2pg("reconcile", *args)
    verify = m2pg("verify", "--full", "--dump", str(migrated["dump"]), *args)
    for done, code in ((reconcile, 3), (verify, 0)):  # reconcile: balanced, with records quarantined
        assert done.returncode == code, done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr
    report = json.loads((migrated["staging"] / "reports" / "verify.json").read_text())
    balance = json.loads((migrated["staging"] / "reports" / "reconcile.json").read_text())
    assert balance["ok"] and report["status"] == "pass"
    counted = {r["table"]: r for r in balance["tables"] if r["kind"] == "model"}
    for table, counts in report["layers"]["counts"]["tables"].items():
        if table in counted:
            assert (counts["source"], counts["quarantined"], counts["loaded"]) == (
                counted[table]["source"],
                counted[table]["quarantined"],
                counted[table]["loaded"],
            ), table
    boards = report["layers"]["counts"]["tables"]["Boards"]
    broken = sum(1 for c in migrated["crafted"]["Boards"] if "loads" not in c)
    assert boards["quarantined"] == broken and boards["quarantine_rows_without_source"] == 0


def test_errors_groups_the_new_rules_with_their_hints(migrated):
    done = m2pg("errors", "--staging", str(migrated["staging"]))
    text = done.stdout + done.stderr
    assert "Traceback" not in text
    for rule in ("bson", "utf8", "repeated_key"):
        assert rule in text
    log = (migrated["staging"] / "reports" / "errors.log").read_text()
    from toolkit.stages.rules import HINTS

    assert HINTS["bson"] in log and HINTS["utf8"] in log and HINTS["repeated_key"] in log


def test_a_run_again_over_the_same_dump_writes_nothing(migrated):
    """The target now holds rows, so the run reads the source's unique values before extracting:
    a malformed document among them is quarantined again, not a crash of the whole run."""
    again = m2pg(
        "run", "--dump", str(migrated["dump"]), "--pg-uri", migrated["uri"], "--staging", str(migrated["staging"])
    )
    assert again.returncode == 3, again.stdout + again.stderr
    assert "Traceback" not in again.stdout + again.stderr and "failed unexpectedly" not in again.stderr
    assert "run: nothing to write" in again.stdout
