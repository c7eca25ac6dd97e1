"""A reproducible, realistic dataset of an app for the demo and the tests.

Documents are derived from the app's declarations: each field's kind, enum, reference and
optionality decide its value, and its junctions decide the arrays of ObjectIds on either side
of a many-to-many relation. What only the app knows, how many documents a collection holds,
which realistic values a text, number or date field takes, which values a naive migration gets
wrong and which records must be quarantined, it gives as a `SampleData` (`App.sample_data`);
an app without one gets values from the declarations alone.

`sample` is clean data (plus the app's edge cases), `bad_records` are the documents that must be
quarantined, with the rule that should catch each, and `demo_dataset` is both. `write_mongo` and
`write_dump` put a dataset into a server or into a mongodump directory.
"""

from __future__ import annotations

import bisect
import copy
import itertools
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bson
from bson import Int64, ObjectId

from toolkit.declarations.app import App
from toolkit.declarations.spec import LIST_KINDS, Feed, Field, Kind, ModelSpec
from toolkit.runtime.progress import tracked
from toolkit.sources.mongodump import file_stem

if TYPE_CHECKING:
    from pymongo import MongoClient

Dataset = dict[str, list[dict]]
Ids = dict[str, list[ObjectId]]  # model name -> its ids, ascending (oldest first)
Maker = Callable[[random.Random], object]  # one realistic value from a seeded generator
TextMaker = Callable[[random.Random], str]
Break = tuple[str, str, object, str]  # (collection, key, bad value or DROP, rule that must catch it)
BadRecord = tuple[str, dict, str]  # (collection, document, rule that must quarantine it)

START = datetime(2019, 1, 1, tzinfo=UTC)  # generated ids are created between START and END
END = datetime(2025, 6, 30, tzinfo=UTC)
DROP = object()
"""A break's value that removes the key instead of setting it."""


@dataclass(frozen=True)
class Forge:
    """What an app's builder of bad records is given: valid documents that are in no dataset
    (of a collection, by name) and ObjectIds that no document has, to point at nothing."""

    valid: Callable[[str], dict]
    fresh: Callable[[], ObjectId]


@dataclass(frozen=True)
class SampleData:
    """An app's tables for the data generators. Every table is optional: a field none of them
    names gets a value from its declared kind alone. Models are named by model name, documents
    to break or plant into by collection."""

    counts: Mapping[str, int] = field(default_factory=dict)  # documents per model in `sample`
    default_count: int = 300  # documents of a model `counts` does not name
    text: Mapping[str, TextMaker] = field(default_factory=dict)  # by "Model.field", then by field name
    text_enums: Mapping[str, str] = field(default_factory=dict)  # "Model.field" -> the enum whose values it takes
    patterns: tuple[tuple[str, TextMaker], ...] = ()  # (part of a field's name, maker), the first match wins
    words: tuple[str, ...] = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit")
    tags: tuple[str, ...] = ("alpha", "beta", "gamma", "delta", "epsilon")  # a "tags" list's, a Json's labels
    json: Mapping[str, Maker] = field(default_factory=dict)  # a Json field's value by field name (else tags)
    int_ranges: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # by field name, else 0..1000
    true_share: Mapping[str, float] = field(default_factory=dict)  # by field name, else 0.5
    days_after_creation: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # a date field's
    edge_cases: Callable[[random.Random, Dataset], None] | None = None  # plants what a naive migration gets wrong
    breaks: tuple[Break, ...] = ()  # valid documents, each broken in one way
    beyond_datetime_breaks: tuple[Break, ...] = ()  # dates outside years 1..9999: dumps only
    broken_references: Callable[[Forge], list[BadRecord]] | None = None  # references to nothing, to the bad
    large_counts: Mapping[str, tuple[int, bool]] = field(default_factory=dict)  # `large` at scale 1: (n, scaled)
    linked: frozenset[str] = frozenset()  # "Model.field": optional references `large` always sets
    large_json: Mapping[str, Callable] = field(default_factory=dict)  # `large`'s Json columns, by
    # "Model.field" then by field name: (chunk, field) -> (BSON type, values)


GENERIC = SampleData()


def tables(app: App) -> SampleData:
    """The app's sample data, or the generic one when it declares none."""
    return app.sample_data or GENERIC


def text_maker(app: App, model: str, name: str) -> TextMaker:
    """How a text field's values are made: by "Model.field", by field name, by a part of the
    name, else a word."""
    data = tables(app)
    qualified = f"{model}.{name}"
    if qualified in data.text:
        return data.text[qualified]
    if qualified in data.text_enums:
        values = app.enums[data.text_enums[qualified]]
        return lambda r: r.choice(values)
    if name in data.text:
        return data.text[name]
    lowered = name.lower()
    make = next((m for part, m in data.patterns if part in lowered), None)
    words = data.words
    return make or (lambda r: r.choice(words))


def tag_list(r: random.Random, tags: tuple[str, ...]) -> object:
    """A Json field's default: labels, or small documents naming them."""
    if r.random() < 0.5:
        return r.sample(tags, r.randint(0, 3))
    return [
        {"id": r.randbytes(4).hex(), "name": t, "color": f"#{r.randbytes(3).hex()}"}
        for t in r.sample(tags, r.randint(1, 3))
    ]


def plant(r: random.Random, data: Dataset, cases: tuple[tuple[str, str, object], ...]) -> None:
    """Set each (collection, key, value) on a document of its own, chosen at random."""
    free = {c: r.sample(range(len(docs)), len(docs)) for c, docs in data.items()}
    for collection, key, value in cases:
        data[collection][free[collection].pop()][key] = copy.deepcopy(value)


# --- documents from declarations -----------------------------------------------------------


def _object_ids(r: random.Random, n: int) -> list[ObjectId]:
    """Ids created at random moments of recent years, oldest first like an insert log."""
    span = int((END - START).total_seconds())
    moments = (START + timedelta(seconds=r.randrange(span)) for _ in range(n))
    return sorted(ObjectId(ObjectId.from_datetime(t).binary[:4] + r.randbytes(8)) for t in moments)


def _pick(r: random.Random, pool: list[ObjectId], before: ObjectId) -> ObjectId:
    """A document of `pool` that already existed when `before` was created, if there is one."""
    older = bisect.bisect_left(pool, before)
    return pool[r.randrange(older or len(pool))]


def _int(r: random.Random, data: SampleData, name: str) -> object:
    """An in-range integer, sometimes stored as Int64 or as a lossless double, as drivers do."""
    value = r.randint(*data.int_ranges.get(name, (0, 1000)))
    roll = r.random()
    return Int64(value) if roll < 0.08 else float(value) if roll < 0.15 else value


def _date(r: random.Random, data: SampleData, name: str, oid: ObjectId) -> datetime:
    low, high = data.days_after_creation.get(name, (0, 0))
    offset = timedelta(days=r.uniform(low, high), milliseconds=r.randrange(1000))
    moment = oid.generation_time + offset
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)  # BSON keeps ms


def target_model(f: Field) -> str:
    """The model whose ids an ObjectId field (or array) holds: its reference's, else `points_to`."""
    target = f.references.model if f.references else f.points_to
    if target is None:
        raise ValueError(f"{f.name} names no model its ids belong to (a reference or points_to)")
    return target


def _value(r: random.Random, app: App, model: ModelSpec, f: Field, index: int, oid: ObjectId, ids: Ids):
    """A valid value for `f`: the first documents cycle through every enum value."""
    data = tables(app)
    if f.kind is Kind.OBJECT_ID:
        return _pick(r, ids[target_model(f)], oid)
    if f.kind is Kind.UUID_LIST:
        users = [_pick(r, ids[target_model(f)], oid) for _ in range(r.randint(0, 4))]
        return users + users[:1] if r.random() < 0.1 else users  # sometimes shared twice
    if f.kind is Kind.ENUM:
        values = app.enums[f.enum_name]
        return values[index] if index < len(values) else r.choice(values)
    if f.kind is Kind.INT:
        return _int(r, data, f.name)
    if f.kind is Kind.BOOL:
        return r.random() < data.true_share.get(f.name, 0.5)
    if f.kind is Kind.DATETIME:
        return _date(r, data, f.name, oid)
    if f.kind is Kind.JSON:
        make = data.json.get(f.name)
        return make(r) if make else tag_list(r, data.tags)
    make = text_maker(app, model.name, f.name)
    if f.kind is Kind.TEXT_LIST:
        one = (lambda: r.choice(data.tags)) if f.name == "tags" else (lambda: make(r))
        return [one() for _ in range(r.randint(0, 3))]
    text = make(r)
    if f.unique:  # unique at any count: the document's index joins the value
        local, at, domain = text.partition("@")
        text = f"{local}.{index}{at}{domain}"
    return text


def _absence(r: random.Random, f: Field) -> str | None:
    """How an optional value is left out: 'null', 'missing' or not at all (None)."""
    roll = r.random()
    if f.required:
        return None
    if f.kind in LIST_KINDS:
        return None if roll < 0.85 else "missing" if roll < 0.97 else "null"
    if f.optional:
        return None if roll < 0.75 else "null" if roll < 0.87 else "missing"
    return None if roll < 0.85 else "missing"  # a default fills it in


def _document(r: random.Random, app: App, model: ModelSpec, index: int, oid: ObjectId, ids: Ids) -> dict:
    doc: dict[str, object] = {}
    for f in model.fields:
        if f.key == "_id":
            doc["_id"] = oid
            continue
        absence = None if f.enum and index < len(app.enums[f.enum]) else _absence(r, f)
        if absence == "null":
            doc[f.key] = None
        elif absence is None:
            doc[f.key] = _value(r, app, model, f, index, oid, ids)
    return doc


def _fill_junctions(r: random.Random, app: App, data: Dataset, ids: Ids) -> None:
    """Link pairs, then record each pair in one side's array, the other's, or both."""
    for junction in app.junctions:
        arrays: dict[Feed, dict[ObjectId, list[ObjectId]]] = {feed: {} for feed in junction.feeds}
        rights = ids[junction.right.model]
        for left in ids[junction.left.model]:
            for right in r.sample(rights, r.choice((0, 0, 1, 1, 2, 3))):
                feeds = (
                    junction.feeds
                    if len(junction.feeds) == 1
                    else r.choice((junction.feeds[:1], junction.feeds[1:], junction.feeds))
                )
                for feed in feeds:
                    owner, element = (left, right) if feed.model == junction.left.model else (right, left)
                    arrays[feed].setdefault(owner, []).append(element)
        for feed, by_owner in arrays.items():
            for doc in data[app.model(feed.model).source]:
                if doc["_id"] in by_owner:
                    doc[feed.key] = by_owner[doc["_id"]]
                elif r.random() < 0.5:
                    doc[feed.key] = []


def _ids(app: App, seed: int) -> Ids:
    data = tables(app)
    return {
        m.name: _object_ids(random.Random(f"{seed}:{m.name}:ids"), data.counts.get(m.name, data.default_count))
        for m in app.models
    }


def sample(app: App, seed: int = 7) -> Dataset:
    """Clean data of the app, keyed by collection, the same for the same seed."""
    ids = _ids(app, seed)
    data = {}
    for model in tracked(app.models, "generate", lambda m: m.source):
        r = random.Random(f"{seed}:{model.name}")
        data[model.source] = [_document(r, app, model, i, oid, ids) for i, oid in enumerate(ids[model.name])]
    _fill_junctions(random.Random(f"{seed}:junctions"), app, data, ids)
    plant_edge_cases = tables(app).edge_cases
    if plant_edge_cases:
        plant_edge_cases(random.Random(f"{seed}:edge"), data)
    return data


# --- records to quarantine -----------------------------------------------------------------


def _bad_records(app: App, data: Dataset, seed: int, beyond_datetime: bool) -> list[BadRecord]:
    """Valid documents, each then broken in exactly one way."""
    r = random.Random(f"{seed}:bad")
    ids = {m.name: [d["_id"] for d in data[m.source]] for m in app.models}
    known = {oid for pool in ids.values() for oid in pool}
    fresh = iter(oid for oid in _object_ids(r, 50) if oid not in known)
    by_collection = {m.source: m for m in app.models}
    index = itertools.count(max((len(docs) for docs in data.values()), default=0))  # past any enum cycle

    def valid(collection: str) -> dict:
        return _document(r, app, by_collection[collection], next(index), next(fresh), ids)

    sample_data = tables(app)
    records = []
    for collection, key, value, rule in sample_data.breaks + (
        sample_data.beyond_datetime_breaks if beyond_datetime else ()
    ):
        doc = valid(collection)
        if value is DROP:
            doc.pop(key, None)
        else:
            doc[key] = copy.deepcopy(value)
        records.append((collection, doc, rule))
    if sample_data.broken_references:
        records += sample_data.broken_references(Forge(valid, lambda: next(fresh)))
    return records


def bad_records(app: App, seed: int = 7, beyond_datetime: bool = False) -> list[BadRecord]:
    """(collection, document, rule that must quarantine it), against `sample(app, seed)`; with
    `beyond_datetime`, also dates outside years 1..9999 (for dumps only)."""
    return _bad_records(app, sample(app, seed), seed, beyond_datetime)


def demo_dataset(app: App, seed: int = 7, beyond_datetime: bool = False) -> Dataset:
    """`sample(app, seed)` with `bad_records(app, seed, beyond_datetime)` slipped in among the good documents."""
    data = sample(app, seed)
    r = random.Random(f"{seed}:demo")
    for collection, doc, _ in _bad_records(app, data, seed, beyond_datetime):
        docs = data[collection]
        docs.insert(r.randint(0, len(docs)), doc)
    return data


# --- writers -------------------------------------------------------------------------------

BATCH = 1000


def write_mongo(uri: str, db: str, dataset: Dataset) -> None:
    """Replace each collection of `db` by the dataset's documents, inserted in order."""
    from pymongo import MongoClient  # only a write to a server needs the driver

    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    with client:
        database = client[db]
        for collection, docs in tracked(dataset.items(), "write", lambda item: item[0]):
            database.drop_collection(collection)
            for start in range(0, len(docs), BATCH):
                database[collection].insert_many(docs[start : start + BATCH], ordered=True)


def dump_metadata(collection: str) -> dict:
    """What mongodump writes beside a collection with only the `_id` index."""
    return {"options": {}, "indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"}], "collectionName": collection}


def write_dump(directory: str | Path, db: str, dataset: Dataset) -> Path:
    """Write a mongodump layout, `directory/<db>/<collection>.bson` + metadata; return its folder."""
    folder = Path(directory) / db
    folder.mkdir(parents=True, exist_ok=True)
    for collection, docs in dataset.items():
        (folder / f"{file_stem(collection)}.bson").write_bytes(b"".join(bson.encode(d) for d in docs))
        (folder / f"{file_stem(collection)}.metadata.json").write_text(json.dumps(dump_metadata(collection)))
    return folder
