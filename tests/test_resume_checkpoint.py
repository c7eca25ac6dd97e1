"""Where a resumed extract starts: which checkpoint counts, when a changed dump file voids it, and
the queries that read a live server from just after the last staged `_id`."""

import pytest
from bson import MaxKey, MinKey, ObjectId

from toolkit.declarations.spec import ModelSpec
from toolkit.sources import id_order
from toolkit.sources.readers import Position, changes, id_queries, unresumable
from toolkit.stages.extract import _resumable
from toolkit.staging.layout import Staging, write_json

MODEL = ModelSpec("Boards", ())
CHECKPOINT = {
    "collection": "Boards",
    "run": "r1",
    "complete": False,
    "parts": [{"file": "part-00000.parquet"}],
    "documents": 10,
}


def staged(tmp_path, manifest=None, run=None) -> Staging:
    staging = Staging(tmp_path)
    if manifest is not None:
        write_json(manifest, staging.manifest(MODEL.source))
    if run is not None:
        write_json(run, staging.root / "raw" / "run.json")
    return staging


def test_the_checkpoint_of_the_interrupted_run_counts(tmp_path):
    staging = staged(tmp_path, CHECKPOINT, {"run": "r1", "complete": False})
    assert _resumable(staging, MODEL, None, 10) == CHECKPOINT


def test_a_collection_the_interrupted_run_finished_is_kept_whole(tmp_path):
    finished = {**CHECKPOINT, "complete": True}
    assert _resumable(staged(tmp_path, finished, {"run": "r1"}), MODEL, None, 10) == finished


@pytest.mark.parametrize(
    "manifest, run",
    [
        (None, {"run": "r1", "complete": False}),  # the collection was never started
        (CHECKPOINT, None),  # no run to resume
        (CHECKPOINT, {"run": "r1", "complete": True}),  # that run finished: the source may have changed since
        (CHECKPOINT, {"run": "r2", "complete": False}),  # a checkpoint of an earlier run
        ({k: v for k, v in CHECKPOINT.items() if k != "run"}, {"run": "r1", "complete": False}),
    ],
)
def test_no_checkpoint_counts_otherwise(tmp_path, manifest, run):
    assert _resumable(staged(tmp_path, manifest, run), MODEL, None, 10) is None


@pytest.mark.parametrize("garbled", ["manifest", "run"])
def test_a_garbled_checkpoint_is_no_checkpoint(tmp_path, garbled):
    staging = staged(tmp_path, CHECKPOINT, {"run": "r1", "complete": False})
    path = staging.manifest(MODEL.source) if garbled == "manifest" else staging.root / "raw" / "run.json"
    path.write_text('{"run": "r1", ')
    assert _resumable(staging, MODEL, None, 10) is None


FILE = {"file": "/dump/db/Boards.bson", "bytes": 100, "modified_ns": 5, "sha256": "aa"}


@pytest.mark.parametrize(
    "before, now, said",
    [
        (FILE, dict(FILE), None),
        (None, None, None),
        (None, FILE, "the checkpoint records no dump file"),
        (FILE, None, "/dump/db/Boards.bson is gone"),
        (
            FILE,
            {**FILE, "bytes": 120},
            "/dump/db/Boards.bson changed since the checkpoint (its size went from 100 to 120 bytes)",
        ),
        (
            FILE,
            {**FILE, "modified_ns": 6},
            "/dump/db/Boards.bson changed since the checkpoint (its modification time changed)",
        ),
        (
            FILE,
            {**FILE, "sha256": "bb"},
            "/dump/db/Boards.bson changed since the checkpoint (its content digest changed)",
        ),
        (
            FILE,
            {**FILE, "bytes": 1, "modified_ns": 6, "sha256": "bb"},
            "/dump/db/Boards.bson changed since the checkpoint (its size went from 100 to 1 bytes, "
            "its modification time changed, its content digest changed)",
        ),
        (
            FILE,
            {**FILE, "file": "/dump/other/Boards.bson"},
            "/dump/other/Boards.bson changed since the checkpoint (another file)",
        ),
    ],
)
def test_changes_says_what_differs_since_the_checkpoint(before, now, said):
    assert changes(before, now) == said


def test_a_fresh_read_is_one_query_sorted_by_id():
    assert id_queries(Position()) == [{}]  # the server sorts the brackets in the order they are listed


@pytest.mark.parametrize(
    "last_id, value, rank",
    [
        ('{"$oid": "6b064c82833346aaba78a43f"}', ObjectId("6b064c82833346aaba78a43f"), 7),
        ('"b"', "b", 3),
        ('{"$numberInt": "3"}', 3, 2),
        ('{"$minKey": 1}', MinKey(), 0),
        ('{"$maxKey": 1}', MaxKey(), len(id_order.BRACKETS) - 1),
    ],
)
def test_a_resume_starts_after_the_last_id_in_its_bracket_and_skips_the_brackets_before(last_id, value, rank):
    queries = id_queries(Position(5, last_id))
    assert queries[0] == {"_id": {"$type": list(id_order.BRACKETS[rank]), "$gt": value}}
    later = [name for names in id_order.BRACKETS[rank + 1 :] for name in names]
    assert queries[1:] == ([{"_id": {"$type": later}}] if later else [])


@pytest.mark.parametrize(
    "last_id, unable",
    [
        ('{"$regularExpression": {"pattern": "a", "options": ""}}', True),
        ('{"$oid": "6b064c82833346aaba78a43f"}', False),
        ('"b"', False),
        (None, False),
    ],
)
def test_no_server_resumes_after_a_regular_expression(last_id, unable):
    assert unresumable(last_id) is unable
