"""The generated NextCRM dataset: reproducible, consistent, full of edge cases, and bad on purpose."""

from __future__ import annotations

import json
import math
import unicodedata
from datetime import datetime

import bson
import pytest
from bson import Decimal128, Int64, ObjectId
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.datetime_ms import DatetimeMS
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

from toolkit.declarations.spec import Field, Kind
from toolkit.generate import sample as generate
from toolkit.runtime import servers
from transforms import APP, ENUMS, JUNCTIONS, MODELS

BY_NAME = {m.name: m for m in MODELS}
RULES = (
    "required",
    "enum",
    "type",
    "int_range",
    "nul",
    "id_type",
    "reference",
    "quarantined_reference",
    "timestamp_range",
)
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
FIRST_MS, LAST_MS = -62_135_596_800_000, 253_402_300_799_999  # 0001-01-01 .. 9999-12-31T23:59:59.999


@pytest.fixture(scope="module")
def data():
    return generate.sample(APP)


@pytest.fixture(scope="module")
def demo():
    return generate.demo_dataset(APP, beyond_datetime=True)


@pytest.fixture(scope="module")
def bad():
    return generate.bad_records(APP, beyond_datetime=True)


def _encoded(dataset):
    return {c: [bson.encode(d) for d in docs] for c, docs in dataset.items()}


def _ids(dataset, model_name):
    return {d["_id"] for d in dataset[BY_NAME[model_name].source]}


def _target(f: Field) -> str | None:
    return f.references.model if f.references else f.points_to


def _strings(value):
    """Every string and key inside a value, however deeply nested."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _wrong_type(f: Field, v) -> bool:
    if v is None or f.kind is Kind.JSON:
        return False
    if f.kind is Kind.INT:
        return isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, float) and v.is_integer()))
    expected = {
        Kind.TEXT: str,
        Kind.ENUM: str,
        Kind.BOOL: bool,
        Kind.DATETIME: (datetime, DatetimeMS),
        Kind.OBJECT_ID: ObjectId,
        Kind.TEXT_LIST: list,
        Kind.UUID_LIST: list,
    }[f.kind]
    return not isinstance(v, expected)


def _flaws(collection: str, doc: dict, known: set, quarantined: set) -> set[str]:
    """The rules a document breaks: a small, independent statement of what `bad_records` means."""
    model = BY_NAME[collection]
    values = [(f, doc.get(f.key)) for f in model.fields if f.key != "_id"]
    checks = {
        "required": any(f.required and v is None for f, v in values),
        "enum": any(f.enum and isinstance(v, str) and v not in ENUMS[f.enum] for f, v in values),
        "type": any(_wrong_type(f, v) for f, v in values),
        "int_range": any(
            f.kind is Kind.INT and isinstance(v, int) and not INT32_MIN <= v <= INT32_MAX for f, v in values
        ),
        "nul": any("\x00" in s for s in _strings(doc)),
        "id_type": not isinstance(doc["_id"], ObjectId),
        "reference": any(
            f.references and isinstance(v, ObjectId) and v not in known and v not in quarantined for f, v in values
        ),
        "quarantined_reference": any(f.references and v in quarantined for f, v in values),
        "timestamp_range": any(isinstance(v, DatetimeMS) and not FIRST_MS <= int(v) <= LAST_MS for f, v in values),
    }
    return {rule for rule, broken in checks.items() if broken}


# --- reproducible and sized ----------------------------------------------------------------


def test_same_seed_gives_the_same_documents(data):
    assert _encoded(generate.sample(APP, 7)) == _encoded(data)
    assert _encoded(generate.demo_dataset(APP, 7)) == _encoded(generate.demo_dataset(APP, 7))


def test_another_seed_gives_other_documents(data):
    other = _encoded(generate.sample(APP, 8))
    assert all(other[c] != docs for c, docs in _encoded(data).items())


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_every_collection_holds_100_to_1000_documents(data, demo, model):
    assert 100 <= len(data[model.source]) <= 1000
    assert 100 <= len(demo[model.source]) <= 1000


def test_object_ids_are_unique_and_spread_over_years(data):
    ids = [d["_id"] for docs in data.values() for d in docs]
    assert len(set(ids)) == len(ids)
    assert len({oid.generation_time.year for oid in ids}) >= 5


# --- consistent relations ------------------------------------------------------------------

REFERENCES = [(m, f) for m in MODELS for f in m.fields if f.key != "_id" and _target(f)]


@pytest.mark.parametrize("model, field", REFERENCES, ids=lambda x: getattr(x, "name", ""))
def test_every_reference_names_a_document_of_its_target(data, model, field):
    targets = _ids(data, _target(field))
    docs = data[model.source]
    values = [d.get(field.key) for d in docs]
    elements = [e for v in values if isinstance(v, list) for e in v]
    assert elements or any(v is not None for v in values), "no document sets the reference"
    assert all(v is None or v in targets for v in values if not isinstance(v, list))
    assert all(e in targets for e in elements)
    if field.required:
        assert all(v is not None for v in values)
    elif field.kind is Kind.OBJECT_ID:  # optional: sometimes null, sometimes missing
        assert any(field.key not in d for d in docs)
        assert any(field.key in d and d[field.key] is None for d in docs)


def test_shared_with_repeats_some_users(data):
    lists = [d["sharedWith"] for d in data["Boards"] if d.get("sharedWith")]
    assert any(len(set(users)) < len(users) for users in lists)


FEEDS = [(j, feed) for j in JUNCTIONS for feed in j.feeds]


@pytest.mark.parametrize("junction, feed", FEEDS, ids=lambda x: getattr(x, "table", None) or getattr(x, "key", ""))
def test_junction_arrays_name_documents_of_the_other_side(data, junction, feed):
    _, elements = junction.side_of(feed.model)
    targets = _ids(data, elements.model)
    arrays = [d[feed.key] for d in data[BY_NAME[feed.model].source] if d.get(feed.key)]
    assert arrays
    assert all(e in targets for array in arrays for e in array)


def _pairs(data, junction, feed):
    owner_side, _ = junction.side_of(feed.model)
    pairs = {(d["_id"], e) for d in data[BY_NAME[feed.model].source] for e in d.get(feed.key) or ()}
    return pairs if owner_side is junction.left else {(b, a) for a, b in pairs}


@pytest.mark.parametrize("junction", [j for j in JUNCTIONS if len(j.feeds) == 2], ids=lambda j: j.table)
def test_two_sided_junctions_are_fed_from_one_side_the_other_or_both(data, junction):
    left, right = (_pairs(data, junction, feed) for feed in junction.feeds)
    assert left - right and right - left and left & right


# --- values --------------------------------------------------------------------------------

ENUM_FIELDS = [(m, f) for m in MODELS for f in m.fields if f.enum]


@pytest.mark.parametrize("model, field", ENUM_FIELDS, ids=lambda x: getattr(x, "name", ""))
def test_every_enum_value_appears(data, model, field):
    seen = {d.get(field.key) for d in data[model.source]} - {None}
    assert seen == set(ENUMS[field.enum])


def test_sample_breaks_no_rule(data):
    known = {d["_id"] for docs in data.values() for d in docs}
    flawed = [(c, d["_id"], _flaws(c, d, known, set())) for c, docs in data.items() for d in docs]
    assert [f for f in flawed if f[2]] == []


def _top_values(data):
    return [v for docs in data.values() for d in docs for v in d.values()]


def _json_values(data):
    """Every value nested in a Json field."""

    def walk(value):
        yield value
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for child in children:
            yield from walk(child)

    return [
        v for m in MODELS for f in m.fields if f.kind is Kind.JSON for d in data[m.source] for v in walk(d.get(f.key))
    ]


def _json_keys(data):
    return [k for v in _json_values(data) if isinstance(v, dict) for k in v]


def _declared_keys(model):
    feeds = {feed.key for j in JUNCTIONS for feed in j.feeds if feed.model == model.name}
    return {f.key for f in model.fields} | feeds


def _has(char_test):
    return lambda v: isinstance(v, str) and any(char_test(c) for c in v)


EDGE_CASES = {
    "empty string": (_top_values, lambda v: v == ""),
    "the string NULL": (_top_values, lambda v: v == "NULL"),
    "the string \\N": (_top_values, lambda v: v == "\\N"),
    "a 100k-character text": (_top_values, lambda v: isinstance(v, str) and len(v) >= 100_000),
    "emoji": (_top_values, _has(lambda c: ord(c) > 0xFFFF)),
    "combining character": (_top_values, _has(unicodedata.combining)),
    "right-to-left text": (_top_values, _has(lambda c: unicodedata.bidirectional(c) in ("R", "AL"))),
    "Int64 in an Int field": (_top_values, lambda v: type(v) is Int64),
    "75.0": (_top_values, lambda v: type(v) is float and v == 75.0),
    "-0.0": (_top_values, lambda v: type(v) is float and v == 0 and math.copysign(1, v) < 0),
    "year 1": (_top_values, lambda v: isinstance(v, datetime) and v.year == 1),
    "year 9999": (_top_values, lambda v: isinstance(v, datetime) and v.year == 9999),
    "Json key with a dot": (_json_keys, lambda k: "." in k),
    "Json key with a dollar": (_json_keys, lambda k: "$" in k),
    "ObjectId in Json": (_json_values, lambda v: isinstance(v, ObjectId)),
    "datetime in Json": (_json_values, lambda v: isinstance(v, datetime)),
    "Int64 in Json": (_json_values, lambda v: type(v) is Int64),
    "Decimal128 in Json": (_json_values, lambda v: isinstance(v, Decimal128)),
}


@pytest.mark.parametrize("case", EDGE_CASES)
def test_edge_case_is_present(data, case):
    values, predicate = EDGE_CASES[case]
    assert any(predicate(v) for v in values(data))


@pytest.mark.parametrize("key", ["id", "v"])
def test_stray_top_level_key_is_present(data, key):
    assert any(key in d for docs in data.values() for d in docs)


def test_some_documents_carry_undeclared_fields(data):
    extra = (
        {k for m in MODELS for d in data[m.source] for k in d}
        - {k for m in MODELS for k in _declared_keys(m)}
        - {"id", "v"}
    )
    assert len(extra) >= 2


def test_the_sample_tables_name_only_what_the_app_declares():
    """A misspelt name in NextCRM's tables would silently fall back to a generic value."""
    tables = APP.sample_data
    fields = {f"{m.name}.{f.name}" for m in MODELS for f in m.fields}
    names = {f.name for m in MODELS for f in m.fields}
    assert set(tables.counts) <= set(BY_NAME) == set(tables.large_counts)
    qualified = [k for k in (*tables.text, *tables.large_json) if "." in k] + [*tables.text_enums, *tables.linked]
    assert set(qualified) <= fields
    assert set(tables.text_enums.values()) <= set(ENUMS)
    plain = (
        *tables.text,
        *tables.json,
        *tables.large_json,
        *tables.int_ranges,
        *tables.true_share,
        *tables.days_after_creation,
    )
    assert {k for k in plain if "." not in k} <= names
    assert {c for c, *_ in tables.breaks + tables.beyond_datetime_breaks} <= {m.source for m in MODELS}


# --- bad records ---------------------------------------------------------------------------


def test_bad_records_cover_every_rule(bad):
    assert sorted({rule for _, _, rule in bad}) == sorted(RULES)
    assert max(sum(r == rule for *_, r in bad) for rule in RULES) <= 5  # "type" has 5 shapes


def test_each_bad_record_breaks_exactly_its_rule(data, bad):
    known = {d["_id"] for docs in data.values() for d in docs}
    quarantined = {d["_id"] for _, d, _ in bad}
    assert [_flaws(c, d, known, quarantined) for c, d, _ in bad] == [{r} for *_, r in bad]


def test_demo_dataset_is_sample_plus_bad_records(data, demo, bad):
    expected = _encoded(data)
    for collection, doc, _ in bad:
        expected[collection].append(bson.encode(doc))
    assert {c: sorted(docs) for c, docs in _encoded(demo).items()} == {c: sorted(docs) for c, docs in expected.items()}


# --- writers -------------------------------------------------------------------------------


def test_dump_round_trips(tmp_path, demo):
    dataset = demo
    folder = generate.write_dump(tmp_path, "nextcrm", dataset)
    assert folder == tmp_path / "nextcrm"
    assert {p.name for p in folder.iterdir()} == {
        f"{c}{suffix}" for c in dataset for suffix in (".bson", ".metadata.json")
    }
    for collection, docs in dataset.items():
        raw = (folder / f"{collection}.bson").read_bytes()
        auto = CodecOptions(tz_aware=True, datetime_conversion=DatetimeConversion.DATETIME_AUTO)
        assert bson.decode_all(raw, auto) == docs
        assert raw == b"".join(bson.encode(d) for d in docs)
        metadata = json.loads((folder / f"{collection}.metadata.json").read_text())
        assert metadata == {
            "options": {},
            "indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"}],
            "collectionName": collection,
        }


def test_write_mongo_round_trips(tmp_path):
    dataset = generate.demo_dataset(APP)  # without dates beyond years 1..9999, which the server refuses
    with servers.embedded_mongo(tmp_path / "mongo") as uri:
        generate.write_mongo(uri, "nextcrm", dataset)
        generate.write_mongo(uri, "nextcrm", {"invoice_States": dataset["invoice_States"]})
        with MongoClient(uri, document_class=RawBSONDocument) as client:
            db = client["nextcrm"]
            assert sorted(db.list_collection_names()) == sorted(dataset)
            for collection, docs in dataset.items():
                assert db[collection].count_documents({}) == len(docs)
                stored = sorted(bytes(d.raw) for d in db[collection].find())
                assert stored == sorted(bson.encode(d) for d in docs)


def test_embedded_postgres_serves_the_nextcrm_database(tmp_path):
    import adbc_driver_postgresql.dbapi as adbc

    with servers.embedded_postgres(tmp_path / "pg", "nextcrm") as uri:
        with adbc.connect(uri) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            assert cursor.fetchone() == ("nextcrm",)
