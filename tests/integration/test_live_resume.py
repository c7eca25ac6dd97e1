"""Extract stopped mid-collection (SIGKILL, Ctrl+C) and resumed, from the embedded MongoDB-compatible
server as well as from a dump: every source document is staged exactly once, none twice, none skipped."""

import signal
from collections import Counter
from pathlib import Path

import bson
import polars as pl
import psycopg
import pytest
from bson.json_util import CANONICAL_JSON_OPTIONS, dumps
from pymongo import MongoClient

from processes import ctrl_c_when, m2pg
from toolkit.documents.ids import uuid_for
from toolkit.generate import sample as generate
from toolkit.runtime.servers import embedded_mongo
from toolkit.staging.layout import Staging, read_json
from transforms import APP, MODELS

DB = "nextcrm"
KEEP = 100  # documents a collection keeps (and every one whose `_id` is not an ObjectId): a server reads slowly


def dataset() -> dict[str, list[dict]]:
    """The demo dataset, cut short."""
    return {
        c: docs[:KEEP] + [d for d in docs[KEEP:] if not isinstance(d["_id"], bson.ObjectId)]
        for c, docs in generate.demo_dataset(APP, 7).items()
    }


def key(value) -> str:
    """An `_id` of any BSON type as text that tells types apart (1, "1" and 1.0 differ)."""
    return dumps(value, json_options=CANONICAL_JSON_OPTIONS)


@pytest.fixture(scope="module")
def mongo(tmp_path_factory):
    """The dataset on the embedded MongoDB-compatible server."""
    with embedded_mongo(tmp_path_factory.mktemp("mongo")) as uri:
        generate.write_mongo(uri, DB, dataset())
        yield uri


@pytest.fixture(scope="module")
def short_dump(tmp_path_factory) -> Path:
    """The same dataset in a mongodump folder."""
    folder = tmp_path_factory.mktemp("dump")
    generate.write_dump(folder, DB, dataset())
    return folder


@pytest.fixture(params=["live", "dump"])
def source(request, mongo, short_dump) -> tuple[list[str], dict[str, list[str]]]:
    """(extract's source options, collection -> the `_id` of every document the source holds)."""
    if request.param == "live":
        with MongoClient(mongo) as client:
            ids = {m.source: [key(d["_id"]) for d in client[DB][m.source].find({}, {"_id": 1})] for m in MODELS}
        return ["--mongo-uri", mongo, "--mongo-db", DB], ids
    files = {m.source: short_dump / DB / f"{m.source}.bson" for m in MODELS}
    ids = {c: [key(d["_id"]) for d in bson.decode_all(f.read_bytes())] if f.exists() else [] for c, f in files.items()}
    return ["--dump", str(short_dump)], ids


def staged_ids(staging: Path) -> dict[str, list[str]]:
    """Collection -> the `_id` of every document in its raw parts, in the order they were staged."""
    raw = Staging(staging)
    return {
        m.source: [
            key(bson.decode(document)["_id"])
            for part in sorted(raw.raw_dir(m.source).glob("part-*.parquet"))
            for document in pl.read_parquet(part, columns=["m2pg_document"])["m2pg_document"]
        ]
        for m in MODELS
    }


def assert_stopped_mid_collection(staging: Path) -> None:
    """The premise: a collection was left part-way, so the resume starts after a recorded `_id`."""
    manifests = [read_json(p) for p in (staging / "raw").glob("*/manifest.json")]
    assert any(not m["complete"] and m["last_id"] for m in manifests), [
        (m["collection"], m["complete"], m["documents"]) for m in manifests
    ]


def assert_staged_exactly_once(staging: Path, source_ids: dict[str, list[str]]) -> None:
    staged = staged_ids(staging)
    for collection, ids in source_ids.items():
        twice = [i for i, n in Counter(staged[collection]).items() if n > 1]
        assert not twice, f"{collection}: staged twice: {twice[:5]}"
        skipped = set(ids) - set(staged[collection])
        assert not skipped, f"{collection}: never staged: {sorted(skipped)[:5]}"
        assert Counter(staged[collection]) == Counter(ids), collection


def test_sigkill_mid_collection_then_resume_stages_each_document_once(source, tmp_path):
    options, ids = source
    args = ("extract", *options, "--staging", str(tmp_path), "--batch-size", "20")
    killed = m2pg(*args, kill_at="extract-part:3")  # the first collection's third part, not recorded
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert_stopped_mid_collection(tmp_path)
    resumed = m2pg(*args)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert read_json(tmp_path / "reports" / "extract.json")["parts_resumed"] > 0
    assert_staged_exactly_once(tmp_path, ids)


def test_ctrl_c_mid_collection_then_resume_stages_each_document_once(source, tmp_path):
    options, ids = source
    args = ["extract", *options, "--staging", str(tmp_path), "--batch-size", "5"]
    code, output = ctrl_c_when(args, tmp_path / "raw", "*/manifest.json")
    assert code == 130, output
    assert "Checkpoint saved" in output
    assert_stopped_mid_collection(tmp_path)
    resumed = m2pg(*args)
    assert read_json(tmp_path / "reports" / "extract.json")["parts_resumed"] > 0
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert_staged_exactly_once(tmp_path, ids)


def test_a_collection_dropped_before_the_resume_is_staged_empty(mongo, tmp_path):
    """The resume found nothing after the checkpoint of a collection dropped (or renamed) since,
    marked it complete with the parts staged before, and the load loaded them: the run said the
    target equals the source, which no longer held a document of it."""
    database = "nextcrm_dropped"
    generate.write_mongo(mongo, database, dataset())
    args = ("extract", "--mongo-uri", mongo, "--mongo-db", database, "--staging", str(tmp_path), "--batch-size", "20")
    killed = m2pg(*args, kill_at="extract-part:3")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    manifests = [read_json(p) for p in (tmp_path / "raw").glob("*/manifest.json")]
    dropped = next(m["collection"] for m in manifests if not m["complete"] and m["documents"])
    with MongoClient(mongo) as client:
        client[database].drop_collection(dropped)
    resumed = m2pg(*args)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"{dropped} is absent from the source now" in resumed.stderr, resumed.stderr
    manifest = read_json(Staging(tmp_path).manifest(dropped))
    assert (manifest["documents"], manifest["parts"], manifest["complete"], manifest["absent"]) == (0, [], True, True)
    assert staged_ids(tmp_path)[dropped] == []
    assert pl.read_parquet(Staging(tmp_path).idmap(dropped)).height == 0


def last_line(output: str) -> str:
    """The run's verdict, its words unwrapped."""
    return " ".join(output[output.rindex("run: ") :].split())


def test_a_run_resumed_from_a_live_server_does_not_claim_edits_it_never_read(mongo, pg_uri, tmp_path):
    """A run killed in its extract and resumed keeps the parts read before the kill: a document of
    them deleted in between was not seen, and the run said the target equals the source "as the
    source holds it now". It says what it kept as read then; the next run catches it up."""
    database = "nextcrm_edited"
    generate.write_mongo(mongo, database, dataset())
    args = ("run", "--mongo-uri", mongo, "--mongo-db", database, "--pg-uri", pg_uri, "--staging", str(tmp_path))
    killed = m2pg(*args, "--part-size", "20", kill_at="extract-part:3")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    begun = next(m for m in map(read_json, (tmp_path / "raw").glob("*/manifest.json")) if m["documents"])
    model = next(m for m in MODELS if m.source == begun["collection"])
    staged = pl.read_parquet(Staging(tmp_path).raw_dir(model.source) / begun["parts"][0]["file"])
    refused = {str(d["_id"]) for c, d, _ in generate.bad_records(APP, 7) if c == model.source}
    ids = [bson.decode(document)["_id"] for document in staged["m2pg_document"]]
    gone = next(i for i in ids if isinstance(i, bson.ObjectId) and str(i) not in refused)
    with MongoClient(mongo) as client:
        assert client[database][model.source].delete_one({"_id": gone}).deleted_count

    def rows_of_gone() -> int:
        with psycopg.connect(pg_uri) as conn:
            return conn.execute(
                f'SELECT count(*) FROM "{model.table}" WHERE id = %s', (uuid_for(str(gone)),)
            ).fetchone()[0]

    resumed = m2pg(*args, "--part-size", "20")
    assert resumed.returncode in (0, 3), resumed.stdout + resumed.stderr
    verdict = last_line(resumed.stdout)
    assert "the target equals the source as read, not as it may be now" in verdict, verdict
    assert f"({model.source}" in verdict and "as the source holds it now" not in verdict, verdict
    assert rows_of_gone() == 1
    again = m2pg(*args, "--part-size", "20")
    assert again.returncode in (0, 3), again.stdout + again.stderr
    verdict = last_line(again.stdout)
    assert "as the source holds it now" in verdict and "not as it may be now" not in verdict, verdict
    assert rows_of_gone() == 0
