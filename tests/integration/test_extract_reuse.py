"""A second extract into the same staging folder reuses the rows of every document whose bytes
are unchanged, and stages exactly what a fresh extract of the changed source stages: the same
parts, byte for byte, a malformed document's reason naming its new place in the file included."""

import json
import shutil
import signal
from pathlib import Path

import bson
import pyarrow.parquet as pq
import pytest

from processes import m2pg
from toolkit.generate import sample as generate
from toolkit.sources.readers import DumpSource
from toolkit.stages import extract as extract_mod
from toolkit.staging.layout import Staging
from transforms import APP

PART_SIZE = 7  # small parts: an edit early in a file moves documents across later part boundaries
KEEP = 30  # documents per collection: extract does not follow references, a few parts each are enough
BAD_UTF8 = b"\x02title\x00\x04\x00\x00\x00a\xff\xfe\x00"  # a string element that is not UTF-8


def with_element(raw: bytes, element: bytes) -> bytes:
    body = raw[4:-1] + element
    return (len(body) + 5).to_bytes(4, "little") + body + b"\x00"


def write_source(folder: Path, data: dict[str, list[dict]], malformed: bytes) -> Path:
    """The dataset as a dump, with one malformed Boards document in the file after the sixth
    valid one (read last: its ObjectId sorts last)."""
    generate.write_dump(folder, "nextcrm", data)
    boards = [bson.encode(d) for d in data["Boards"]]
    (folder / "nextcrm" / "Boards.bson").write_bytes(b"".join(boards[:6]) + malformed + b"".join(boards[6:]))
    return folder


def edited(data: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """What the app did since: the first board deleted (everything after it moves up), a task
    retitled, a contact added."""
    changed = {c: [dict(d) for d in docs] for c, docs in data.items()}
    del changed["Boards"][0]
    changed["Tasks"][9]["title"] = "Retitled since the first extract"
    added = {**changed["crm_Contacts"][3], "_id": bson.ObjectId("6700000000000000000000aa")}
    changed["crm_Contacts"].append(added)
    return changed


def extract(dump: Path, staging: Path) -> dict:
    report = extract_mod.extract(DumpSource(dump, "nextcrm"), Staging(staging), APP.models, APP.junctions, PART_SIZE, 1)
    return {c["collection"]: c for c in report["collections"]}


def staged_parts(staging: Path) -> dict[str, list[tuple[str, str]]]:
    """Per collection, each part's name and the sha256 extract recorded of its file."""
    found = {}
    for manifest in sorted((staging / "raw").glob("*/manifest.json")):
        parts = json.loads(manifest.read_text())["parts"]
        found[manifest.parent.name] = [(p["file"], p["file_sha256"]) for p in parts]
    return found


@pytest.fixture(scope="module")
def extracts(tmp_path_factory):
    root = tmp_path_factory.mktemp("reuse")
    data = {c: docs[:KEEP] for c, docs in generate.sample(APP, 7).items()}
    board = {**data["Boards"][1], "_id": bson.ObjectId("6700000000000000000000bb")}
    malformed = with_element(bson.encode(board), BAD_UTF8)
    first = write_source(root / "first", data, malformed)
    second = write_source(root / "second", edited(data), malformed)
    staging = root / "staging"
    extract(first, staging)
    shutil.copytree(staging, root / "before")
    caught_up = extract(second, staging)
    fresh = extract(second, root / "fresh")
    return {"root": root, "second": second, "staging": staging, "caught_up": caught_up, "fresh": fresh, "data": data}


def test_the_second_extract_stages_what_a_fresh_one_does(extracts):
    again, fresh = staged_parts(extracts["staging"]), staged_parts(extracts["root"] / "fresh")
    assert again == fresh
    assert len(fresh["Boards"]) > 2  # the deleted board moved every later part's documents


def test_the_malformed_document_is_located_where_it_now_lies(extracts):
    def problems(staging: Path) -> list:
        rows = pq.read_table(sorted((staging / "raw" / "Boards").glob("part-*.parquet"))[-1])
        return [p for p in rows.column("m2pg_problems").to_pylist() if p]

    now, before = problems(extracts["staging"]), problems(extracts["root"] / "before")
    assert len(now) == len(before) == 1 and now[0][0]["rule"] == "utf8", now
    assert now != before  # its offset in the file moved with the deleted board
    assert now == problems(extracts["root"] / "fresh")


def test_only_the_changed_and_new_documents_are_decoded(extracts):
    data, caught_up, fresh = extracts["data"], extracts["caught_up"], extracts["fresh"]
    decoded = {c: s["documents"] - s["documents_reused"] for c, s in caught_up.items()}
    assert decoded["Boards"] == 1  # the malformed one: its reason names its place, so it is decoded again
    assert decoded["Tasks"] == 1 and decoded["crm_Contacts"] == 1
    assert all(n == 0 for c, n in decoded.items() if c not in ("Boards", "Tasks", "crm_Contacts")), decoded
    assert caught_up["Users"]["documents_reused"] == len(data["Users"]) > 0
    assert all(s["documents_reused"] == 0 for s in fresh.values())


def test_nothing_of_the_earlier_extract_is_left(extracts):
    assert not (extracts["staging"] / "raw" / ".earlier").exists()


def test_a_damaged_earlier_part_is_decoded_again_not_reused(extracts, tmp_path):
    staging = tmp_path / "staging"
    shutil.copytree(extracts["root"] / "before", staging)
    part = staging / "raw" / "Users" / "part-00000.parquet"
    spoiled = bytearray(part.read_bytes())
    spoiled[len(spoiled) // 2] ^= 0xFF
    part.write_bytes(bytes(spoiled))
    summary = extract(extracts["second"], staging)
    assert summary["Users"]["documents_reused"] == summary["Users"]["documents"] - PART_SIZE
    assert staged_parts(staging) == staged_parts(extracts["root"] / "fresh")


def test_rows_of_another_decoding_are_not_reused(extracts, tmp_path):
    staging = tmp_path / "staging"
    shutil.copytree(extracts["root"] / "before", staging)
    manifest = staging / "raw" / "Tasks" / "manifest.json"
    made = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**made, "decoded_by": "an older m2pg"}))
    summary = extract(extracts["second"], staging)
    assert summary["Tasks"]["documents_reused"] == 0 < summary["Users"]["documents_reused"]
    assert staged_parts(staging) == staged_parts(extracts["root"] / "fresh")


@pytest.mark.parametrize("point", ["extract-part:2", "extract-part:9"])
def test_a_catch_up_extract_killed_then_run_again_stages_what_a_fresh_one_does(extracts, tmp_path, point):
    staging = tmp_path / "staging"
    shutil.copytree(extracts["root"] / "before", staging)
    args = ("extract", "--dump", str(extracts["second"]), "--staging", str(staging), "--part-size", str(PART_SIZE))
    killed = m2pg(*args, kill_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert (staging / "raw" / ".earlier").exists()  # what the finished run left aside waits for the next
    again = m2pg(*args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert staged_parts(staging) == staged_parts(extracts["root"] / "fresh")
    assert not (staging / "raw" / ".earlier").exists()


def test_the_extract_says_how_many_documents_it_decoded_anew(extracts, tmp_path):
    staging = tmp_path / "staging"
    shutil.copytree(extracts["root"] / "before", staging)
    done = m2pg("extract", "--dump", str(extracts["second"]), "--staging", str(staging), "--part-size", str(PART_SIZE))
    assert done.returncode == 0, done.stdout + done.stderr
    total = sum(s["documents"] for s in extracts["caught_up"].values())
    said = " ".join(done.stdout.split())
    assert f"{total - 3} documents unchanged since the extract before (their rows reused), 3 new or changed" in said
