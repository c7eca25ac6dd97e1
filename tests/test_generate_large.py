"""The large dump generator: reproducible, valid per declaration, consistent, sized by scale,
and accepted whole by extract and transform."""

from __future__ import annotations

import json
import os
from datetime import datetime

import bson
import numpy as np
import pytest
from bson import ObjectId

from toolkit.declarations.spec import Field, Kind
from toolkit.documents.index import INT32
from toolkit.generate import large as generate_large
from toolkit.generate.sample import dump_metadata
from toolkit.sources.readers import DumpSource
from toolkit.stages.extract import extract
from toolkit.stages.rules import indexed_texts
from toolkit.stages.transform import transform
from toolkit.staging.layout import Staging
from transforms import APP, ENUMS, JUNCTIONS, MODELS

SCALE = 0.2  # about 18,000 documents
BY_NAME = {m.name: m for m in MODELS}
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
SMALL = {"CHUNK": 300}  # many chunks even at a small scale


def _write(folder, seed=7, **settings):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings.items():
            patch.setattr(generate_large, name, value)
        return generate_large.large(APP, SCALE, seed, dump_out=folder)


def _files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "nextcrm").iterdir())}


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    folder = tmp_path_factory.mktemp("large")
    return folder, _write(folder, **SMALL)


@pytest.fixture(scope="module")
def data(dump):
    folder, _ = dump
    return {m.source: bson.decode_all((folder / "nextcrm" / f"{m.source}.bson").read_bytes()) for m in MODELS}


def _ids(data, model_name) -> set[ObjectId]:
    return {d["_id"] for d in data[BY_NAME[model_name].source]}


def _target(f: Field) -> str | None:
    return f.references.model if f.references else f.points_to


# --- reproducible and sized ----------------------------------------------------------------


def test_same_seed_gives_the_same_bytes(dump, tmp_path):
    folder, _ = dump
    _write(tmp_path, **SMALL)
    assert _files(tmp_path) == _files(folder)


def test_rows_joined_in_small_blocks_side_by_side_give_the_same_bytes(dump, tmp_path):
    """Blocks of 7 rows, joined on two threads, each writing its own rows of the chunk."""
    folder, _ = dump
    _write(tmp_path, **SMALL, ROW_BLOCK=7)
    assert _files(tmp_path) == _files(folder)


def test_each_file_holds_the_chunks_encoded_in_memory_one_after_the_other(dump):
    """The writer puts each block of rows at its own place in the file, from two threads; the
    file is the chunks as `encode_chunk` makes them, in order."""
    folder, counts = dump
    world = generate_large.World.create(APP, 7, counts)
    for model in (BY_NAME["crm_Contacts"], BY_NAME["Documents"], BY_NAME["Users"]):
        total = counts[model.source]
        encoded = b"".join(
            generate_large.encode_chunk(model, start, min(start + SMALL["CHUNK"], total), world).tobytes()
            for start in range(0, total, SMALL["CHUNK"])
        )
        assert (folder / "nextcrm" / f"{model.source}.bson").read_bytes() == encoded


def test_a_write_that_fails_is_raised_once_the_writes_are_waited_for(tmp_path):
    """The writes run on the pool's threads; waiting for them gives back the first failure."""
    path = tmp_path / "read-only.bson"
    path.write_bytes(b"")
    fd = os.open(path, os.O_RDONLY)
    try:
        values = generate_large.fixed(np.arange(3, dtype="<i4"))
        size, writes = generate_large.write_documents(fd, 0, [("n", INT32, values, None)], 3)
        assert size == 3 * (5 + 3 + 4)
        with pytest.raises(OSError):
            generate_large._finish(writes)
    finally:
        os.close(fd)


def test_another_seed_gives_other_documents(dump, tmp_path):
    folder, counts = dump
    _write(tmp_path, seed=8, **SMALL)
    mine, other = _files(folder), _files(tmp_path)
    assert all(other[f"{c}.bson"] != mine[f"{c}.bson"] for c in counts)


def test_dump_layout_matches_mongodump(dump):
    folder, counts = dump
    assert {p.name for p in (folder / "nextcrm").iterdir()} == {
        f"{c}{suffix}" for c in counts for suffix in (".bson", ".metadata.json")
    }
    for collection in counts:
        text = (folder / "nextcrm" / f"{collection}.metadata.json").read_text()
        assert json.loads(text) == dump_metadata(collection)


def test_files_hold_the_counts_returned(dump, data):
    _, counts = dump
    assert counts == generate_large.counts(APP, SCALE) == {c: len(docs) for c, docs in data.items()}
    assert set(counts) == {m.source for m in MODELS}


SCALES = [(0.05, 10.0), (1.0, 10.0), (0.5, 1.0)]


@pytest.mark.parametrize("small, big", SCALES)
def test_counts_are_proportional_to_the_scale(small, big):
    low, high = generate_large.counts(APP, small), generate_large.counts(APP, big)
    for model in MODELS:
        count, scaled = APP.sample_data.large_counts[model.name]
        expected = high[model.source] * small / big if scaled else count
        assert low[model.source] == pytest.approx(expected, abs=1), model.name


def test_scale_one_volumes():
    counts = generate_large.counts(APP, 1.0)
    assert {
        c: counts[c]
        for c in ("Users", "crm_Accounts", "crm_Contacts", "crm_Leads", "crm_Opportunities", "Documents", "Tasks")
    } == {
        "Users": 1_000,
        "crm_Accounts": 10_000,
        "crm_Contacts": 25_000,
        "crm_Leads": 5_000,
        "crm_Opportunities": 15_000,
        "Documents": 10_000,
        "Tasks": 20_000,
    }
    assert 85_000 < sum(counts.values()) < 100_000  # about 900k at scale 10


def test_object_ids_are_unique_ascending_and_spread_over_years(data):
    for collection, docs in data.items():
        ids = [d["_id"] for d in docs]
        assert ids == sorted(ids), collection
    every = [d["_id"] for docs in data.values() for d in docs]
    assert len(set(every)) == len(every)
    assert {oid.generation_time.year for oid in every} == set(range(2019, 2026))


# --- every document as the declaration says ------------------------------------------------

VALID = {  # the decoded value of each kind (a BSON int32 decodes to int, an int64 to Int64)
    Kind.OBJECT_ID: lambda v: type(v) is ObjectId,
    Kind.TEXT: lambda v: type(v) is str,
    Kind.ENUM: lambda v: type(v) is str,
    Kind.INT: lambda v: type(v) is int and INT32_MIN <= v <= INT32_MAX,
    Kind.BOOL: lambda v: type(v) is bool,
    Kind.DATETIME: lambda v: type(v) is datetime,
    Kind.JSON: lambda v: type(v) in (dict, list),
    Kind.TEXT_LIST: lambda v: type(v) is list and all(type(e) is str for e in v),
    Kind.UUID_LIST: lambda v: type(v) is list and all(type(e) is ObjectId for e in v),
}


def _feeds(model) -> set[str]:
    return {feed.key for j in JUNCTIONS for feed in j.feeds if feed.model == model.name}


def _problems(model, doc: dict) -> list[str]:
    """What a document breaks of its declaration: a small, independent statement of validity."""
    feeds = _feeds(model)
    indexed = indexed_texts(model)
    found = [f"unknown key {k}" for k in doc if k not in {f.key for f in model.fields} | feeds]
    if next(iter(doc)) != "_id" or type(doc["_id"]) is not ObjectId:
        found.append("_id")
    for f in model.fields:
        value = doc.get(f.key)
        if value is None:
            found += [f"{f.name} required"] if f.required else []
            continue
        if not VALID[f.kind](value):
            found.append(f"{f.name} kind")
        if f.enum and value not in ENUMS[f.enum]:
            found.append(f"{f.name} enum")
        if isinstance(value, str) and (
            "\x00" in value or len(value.encode()) > indexed.get(f.name, len(value.encode()))
        ):
            found.append(f"{f.name} text")
    for key in feeds & set(doc):
        array = doc[key]
        if not (
            type(array) is list
            and len(array) <= 5
            and all(type(e) is ObjectId for e in array)
            and len(set(array)) == len(array)
        ):
            found.append(f"{key} junction array")
    return found


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_every_document_follows_its_declaration(data, model):
    docs = data[model.source]
    assert [(d["_id"], p) for d in docs if (p := _problems(model, d))] == []


ENUM_FIELDS = [(m, f) for m in MODELS for f in m.fields if f.enum]


@pytest.mark.parametrize("model, field", ENUM_FIELDS, ids=lambda x: getattr(x, "name", ""))
def test_every_enum_value_appears(data, model, field):
    assert {d.get(field.key) for d in data[model.source]} - {None} == set(ENUMS[field.enum])


OPTIONAL = [
    (m, f)
    for m in MODELS
    for f in m.fields
    if not f.required and f.key != "_id" and f"{m.name}.{f.name}" not in APP.sample_data.linked
]


EVEN = 400  # documents per collection: enough for every share of ABSENT_SHARES to show in each


@pytest.fixture(scope="module")
def even():
    """Every collection at EVEN documents, encoded as `large` encodes a chunk, so a collection
    that the scale keeps small (MyAccount holds one document) is judged too."""
    world = generate_large.World.create(APP, 7, {m.source: EVEN for m in MODELS})
    chunks = {m.source: generate_large.encode_chunk(m, 0, EVEN, world).tobytes() for m in MODELS}
    return {source: bson.decode_all(chunk) for source, chunk in chunks.items()}


@pytest.mark.parametrize("model, field", OPTIONAL, ids=lambda x: getattr(x, "name", ""))
def test_optional_fields_are_sometimes_left_out(even, model, field):
    docs = even[model.source]
    assert len(docs) == EVEN
    assert any(field.key not in d for d in docs)
    assert any(field.key in d and d[field.key] is not None for d in docs)
    if field.optional:
        assert any(field.key in d and d[field.key] is None for d in docs)


def test_users_emails_are_unique(data):
    emails = [d["email"] for d in data["Users"]]
    assert len(set(emails)) == len(emails)


def test_json_fields_hold_small_documents_and_arrays(data):
    items = [i for d in data["Invoices"] for i in d.get("invoice_items") or ()]
    assert items and all(set(i) == {"description", "quantity", "unit_price", "vat_rate"} for i in items)
    labels = [t for d in data["crm_Accounts_Tasks"] for t in d.get("tags") or ()]
    assert labels and all(set(t) == {"name", "color"} for t in labels)
    assert any(d.get("tags") and all(type(t) is str for t in d["tags"]) for d in data["Tasks"])


# --- consistent relations ------------------------------------------------------------------

REFERENCES = [(m, f) for m in MODELS for f in m.fields if f.key != "_id" and _target(f)]


@pytest.mark.parametrize("model, field", REFERENCES, ids=lambda x: getattr(x, "name", ""))
def test_every_reference_names_a_document_of_its_target(data, model, field):
    targets = _ids(data, _target(field))
    values = [d.get(field.key) for d in data[model.source]]
    named = [e for v in values if v is not None for e in (v if isinstance(v, list) else [v])]
    assert named and set(named) <= targets
    if field.required or f"{model.name}.{field.name}" in APP.sample_data.linked:
        assert None not in values


@pytest.mark.parametrize("path", sorted(APP.sample_data.linked))
def test_linked_references_are_always_set(data, path):
    model, name = path.split(".")
    assert all(d.get(BY_NAME[model].field(name).key) is not None for d in data[BY_NAME[model].source])


FEEDS = [(j, feed) for j in JUNCTIONS for feed in j.feeds]


@pytest.mark.parametrize("junction, feed", FEEDS, ids=lambda x: getattr(x, "table", None) or getattr(x, "key", ""))
def test_junction_arrays_hold_0_to_5_documents_of_the_other_side(data, junction, feed):
    _, elements = junction.side_of(feed.model)
    targets = _ids(data, elements.model)
    docs = data[BY_NAME[feed.model].source]
    arrays = [d[feed.key] for d in docs if feed.key in d]
    assert {len(a) for a in arrays} <= set(range(6)) and any(arrays)
    assert all(e in targets for array in arrays for e in array)
    assert any(feed.key not in d for d in docs) and [] in arrays


def _pairs(data, junction, feed):
    owner_side, _ = junction.side_of(feed.model)
    pairs = {(d["_id"], e) for d in data[BY_NAME[feed.model].source] for e in d.get(feed.key) or ()}
    return pairs if owner_side is junction.left else {(b, a) for a, b in pairs}


@pytest.mark.parametrize("junction", [j for j in JUNCTIONS if len(j.feeds) == 2], ids=lambda j: j.table)
def test_two_sided_junctions_are_kept_on_one_side_the_other_or_both(data, junction):
    left, right = (_pairs(data, junction, feed) for feed in junction.feeds)
    assert left - right and right - left and left & right


# --- the pipeline takes it whole -----------------------------------------------------------


def test_extract_and_transform_quarantine_nothing(dump, data, tmp_path):
    folder, counts = dump
    staged = extract(DumpSource(folder), Staging(tmp_path), MODELS, JUNCTIONS, 5000)
    assert staged["documents"] == sum(counts.values())
    report = transform(Staging(tmp_path), MODELS, JUNCTIONS, ENUMS)
    assert report["quarantined"] == 0
    assert report["clean"] == report["documents"] == sum(counts.values())
    by_table = {j["table"]: j for j in report["junctions"]}
    for junction in JUNCTIONS:
        pairs = set().union(*(_pairs(data, junction, feed) for feed in junction.feeds))
        assert by_table[junction.table]["rows"] == len(pairs) > 0
        assert not any(by_table[junction.table]["skipped_pairs"].values())
