"""Each rule, as a table of document -> quarantine rule or loaded value, on data that breaks naive code."""

import json
import random
import re

import bson
import polars as pl
import pytest
from bson import Decimal128, Int64, ObjectId
from bson.datetime_ms import DatetimeMS

from toolkit.documents.decode import decode_chunk
from toolkit.documents.ids import uuid_for, uuids_of
from toolkit.stages.extract import feeds_of
from toolkit.stages.rules import PROBLEM, Rule, problem, problems_of, repeats
from toolkit.stages.transform.judge import judge
from toolkit.stages.transform.outcome import Outcome
from toolkit.stages.transform.quarantine import quarantine_rows
from toolkit.stages.transform.rows import clean_rows
from transforms import ENUMS, JUNCTIONS, MODELS

SPECS = {m.name: m for m in MODELS}
USER = ObjectId("6b064c82833346aaba78a43f")
GONE_USER = ObjectId("6b064c82833346aaba78a440")
BAD_USER = ObjectId("6b064c82833346aaba78a441")
BOARD = {"__v": 0, "description": "d", "title": "t", "user": USER}


def outcome() -> Outcome:
    result = Outcome()
    for name in SPECS:
        result.kept[name] = pl.DataFrame({"object_id": [], "id": []}, schema={"object_id": pl.String, "id": pl.String})
        result.quarantined[name] = pl.Series([], dtype=pl.String)
    users = pl.Series([str(USER)])
    result.kept["Users"] = pl.DataFrame({"object_id": users, "id": uuids_of(users)})
    result.quarantined["Users"] = pl.Series([str(BAD_USER)])
    result.idmaps["Users"] = pl.Series([str(USER), str(BAD_USER)]).sort()
    return result


def migrate(model: str, document: dict):
    """One document through decode, rules and row building: (clean row or None, quarantine row or None)."""
    spec = SPECS[model]
    document = {"_id": ObjectId("6b064c82833346aaba78a500"), **document}
    raw = pl.from_arrow(decode_chunk(bson.encode(document), spec, feeds_of(spec, JUNCTIONS)))
    state = outcome()
    judged = judge(raw, spec, ENUMS, state)
    failed = judged["problems"].list.len() > 0
    report = {"dangling_ids": {}}
    good = clean_rows(judged.filter(~failed), spec, lambda c: state.idmaps.get(c, state.idmaps["Users"]), report)
    bad = quarantine_rows(judged.filter(failed), spec)
    row = good.with_columns(pl.col(pl.Datetime).cast(pl.Int64)).to_dicts()
    return (row[0] if row else None), (bad.to_dicts()[0] if bad.height else None)


QUARANTINED = [
    ("Boards", {**BOARD, "title": None}, "title", "required"),
    ("Boards", {k: v for k, v in BOARD.items() if k != "description"}, "description", "required"),
    ("Users", {"email": "a@x", "userStatus": "active"}, "userStatus", "enum"),
    ("Users", {"email": "a@x", "userLanguage": "EN"}, "userLanguage", "enum"),
    ("Boards", {**BOARD, "position": "3"}, "position", "type"),
    ("Boards", {**BOARD, "position": True}, "position", "type"),
    ("Boards", {**BOARD, "position": 3.5}, "position", "type"),
    ("Boards", {**BOARD, "position": float("nan")}, "position", "type"),
    ("Boards", {**BOARD, "position": Decimal128("3")}, "position", "type"),
    ("Boards", {**BOARD, "createdAt": "2024-01-01"}, "createdAt", "type"),
    ("Boards", {**BOARD, "favourite": "true"}, "favourite", "type"),
    ("Boards", {**BOARD, "favourite": 1}, "favourite", "type"),
    ("Boards", {**BOARD, "title": {"en": "t"}}, "title", "type"),
    ("Boards", {**BOARD, "title": ["t"]}, "title", "type"),
    ("Boards", {**BOARD, "user": str(USER)}, "user", "type"),
    ("Boards", {**BOARD, "sharedWith": str(USER)}, "sharedWith", "type"),
    ("Boards", {**BOARD, "sharedWith": [USER, "x"]}, "sharedWith", "type"),
    ("crm_Contacts", {"last_name": "l", "tags": "vip"}, "tags", "type"),
    ("crm_Contacts", {"last_name": "l", "tags": ["vip", 5]}, "tags", "type"),
    ("crm_Contacts", {"last_name": "l", "tags": [None]}, "tags", "type"),  # the app's client reads no null there
    ("crm_Contacts", {"last_name": "l", "notes": ["ok", None]}, "notes", "type"),
    ("Boards", {**BOARD, "position": Int64(2_147_483_648)}, "position", "int_range"),  # one above the maximum
    ("Boards", {**BOARD, "position": Int64(-2_147_483_649)}, "position", "int_range"),  # one below the minimum
    ("Boards", {**BOARD, "position": 2_147_483_648.0}, "position", "int_range"),
    ("Boards", {**BOARD, "position": -2_147_483_649.0}, "position", "int_range"),
    ("Boards", {**BOARD, "position": 1e300}, "position", "int_range"),
    # the app's dates, 0001-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z, as literal epoch milliseconds
    ("Boards", {**BOARD, "createdAt": DatetimeMS(-62_135_596_800_001)}, "createdAt", "timestamp_range"),
    ("Boards", {**BOARD, "createdAt": DatetimeMS(253_402_300_800_000)}, "createdAt", "timestamp_range"),
    ("Boards", {**BOARD, "createdAt": DatetimeMS(-63_198_755_200_000)}, "createdAt", "timestamp_range"),
    ("Boards", {**BOARD, "createdAt": DatetimeMS(569_001_811_200_000)}, "createdAt", "timestamp_range"),
    ("Boards", {**BOARD, "createdAt": DatetimeMS(9_224_318_016_000_000)}, "createdAt", "timestamp_range"),
    ("Boards", {**BOARD, "createdAt": DatetimeMS(-210_866_803_200_001)}, "createdAt", "timestamp_range"),
    ("Boards", {**BOARD, "title": "a\x00b"}, "title", "nul"),
    ("crm_Contacts", {"last_name": "l", "notes": ["ok", "a\x00"]}, "notes", "nul"),
    ("Tasks", {"__v": 0, "position": 1, "priority": "p", "title": "t", "tags": {"k": "a\x00"}}, "tags", "nul"),
    ("Users", {"email": "a@x", "userStatus": "A" * 3000}, "userStatus", "enum"),
    ("Boards", {**BOARD, "visibility": "v" * 2693}, "visibility", "index_size"),  # one byte over
    ("Boards", {**BOARD, "visibility": "\u00e9" * 1346 + "v"}, "visibility", "index_size"),  # 1,347 characters
    ("Boards", {**BOARD, "visibility": "\u20ac" * 897 + "ab"}, "visibility", "index_size"),  # 899 characters
    ("Boards", {**BOARD, "visibility": "\U0001f600" * 673 + "v"}, "visibility", "index_size"),  # 674 characters
    ("Users", {"email": "\u00e9" * 1346 + "@"}, "email", "index_size"),  # unique, so indexed
    ("Boards", {**BOARD, "user": GONE_USER}, "user", "reference"),
    ("Boards", {**BOARD, "user": BAD_USER}, "user", "quarantined_reference"),
]


def shown(value) -> str:
    """A test id's view of a value: dates and numbers in full, long texts cut, and only plain
    characters (a NUL or an accent in a test id trips up tools that pass ids around)."""
    value = value._value if isinstance(value, DatetimeMS) else value
    text = re.sub(r"[^A-Za-z0-9.+-]", "_", str(value))
    return text if len(text) <= 24 else f"{text[:12]}..{len(text)}chars"


@pytest.mark.parametrize(
    "model, document, field, rule",
    QUARANTINED,
    ids=[f"{m}.{f}={shown(d.get(f, 'missing'))}-{r}" for m, d, f, r in QUARANTINED],
)
def test_quarantined(model, document, field, rule):
    row, bad = migrate(model, document)
    assert row is None
    assert (bad["field"], bad["rule"]) == (field, rule)
    assert field in bad["reason"]
    assert json.loads(bad["document"])["_id"] == {"$oid": "6b064c82833346aaba78a500"}


REASONS = [  # one document per rule: the reason a person reads in `m2pg errors`, word for word
    ("Boards", {**BOARD, "title": None}, "title: required field is missing or null"),
    (
        "Users",
        {"email": "a@x", "userLanguage": "EN"},
        "userLanguage: EN is not a value of enum Language (cz, en, de, uk)",
    ),
    (
        "Boards",
        {**BOARD, "position": Int64(-2_147_483_649)},
        "position: -2147483649 is outside the PostgreSQL integer range",
    ),
    (
        "Boards",
        {**BOARD, "createdAt": DatetimeMS(-62_135_596_800_001)},
        "createdAt: 0000-12-31T23:59:59.999Z is outside 0001-01-01 .. 9999-12-31, the dates the app's Prisma "
        "client reads (it would return Invalid Date)",
    ),
    ("Boards", {**BOARD, "title": "a\x00b"}, "title: text holds a NUL character"),
    ("crm_Contacts", {"last_name": "l", "notes": ["ok", "a\x00"]}, "notes: an element holds a NUL character"),
    (
        "Tasks",
        {"__v": 0, "position": 1, "priority": "p", "title": "t", "tags": {"k": "a\x00"}},
        "tags: a JSON string holds a NUL character",
    ),
    (
        "Boards",
        {**BOARD, "visibility": "\u00e9" * 1346 + "v"},
        "visibility: 2693 bytes is too long for its index (at most 2692)",
    ),
    (  # beside date_created in an index: the timestamp takes 8 bytes of the entry
        "Invoices",
        {
            "last_updated": DatetimeMS(1_700_000_000_000),
            "invoice_file_mimeType": "application/pdf",
            "invoice_file_url": "u",
            "status": "s" * 2685,
        },
        "status: 2685 bytes is too long for its index (at most 2684)",
    ),
    ("Boards", {**BOARD, "user": GONE_USER}, "user: Users 6b064c82833346aaba78a440 does not exist"),
    (
        "Boards",
        {**BOARD, "user": BAD_USER},
        "user: Users 6b064c82833346aaba78a441 is quarantined, so this record cannot reference it",
    ),
]


@pytest.mark.parametrize("model, document, reason", REASONS)
def test_the_reason_names_the_field_the_value_and_the_rule(model, document, reason):
    _, bad = migrate(model, document)
    assert bad["reason"] == reason


def test_string_id_is_quarantined_with_its_document():
    spec = SPECS["Boards"]
    raw = pl.from_arrow(decode_chunk(bson.encode({"_id": "b-1", **BOARD}), spec, feeds_of(spec, JUNCTIONS)))
    judged = judge(raw, spec, ENUMS, outcome())
    bad = quarantine_rows(judged, spec).to_dicts()[0]
    assert (bad["field"], bad["rule"], bad["object_id"], bad["source_id"]) == ("_id", "id_type", None, '"b-1"')
    assert bad["reason"] == '_id: "b-1" is not an ObjectId'
    assert '"_id": "b-1"' in bad["document"]


LOADED = [
    ("Boards", {**BOARD, "position": 75.0}, "position", 75),
    ("Boards", {**BOARD, "position": -0.0}, "position", 0),
    ("Boards", {**BOARD, "position": Int64(2_147_483_647)}, "position", 2_147_483_647),  # the maximum
    ("Boards", {**BOARD, "position": Int64(-2_147_483_648)}, "position", -2_147_483_648),  # the minimum
    ("Boards", {**BOARD, "position": 2_147_483_647}, "position", 2_147_483_647),
    ("Boards", {**BOARD, "position": -2_147_483_648}, "position", -2_147_483_648),
    ("Boards", {**BOARD, "position": 2_147_483_647.0}, "position", 2_147_483_647),
    ("Boards", {**BOARD, "position": -2_147_483_648.0}, "position", -2_147_483_648),
    ("Boards", {**BOARD, "description": ""}, "description", ""),
    ("Boards", {**BOARD, "title": "NULL"}, "title", "NULL"),
    ("Boards", {**BOARD, "title": "\\N"}, "title", "\\N"),
    ("Boards", {**BOARD, "title": " e\u0301 "}, "title", " e\u0301 "),
    ("Boards", {**BOARD, "visibility": "v" * 2692}, "visibility", "v" * 2692),  # the most an index entry holds
    ("Boards", {**BOARD, "visibility": "\u00e9" * 1346}, "visibility", "\u00e9" * 1346),  # 2,692 bytes
    ("Boards", {**BOARD, "visibility": "\u20ac" * 897 + "a"}, "visibility", "\u20ac" * 897 + "a"),
    ("Boards", {**BOARD, "visibility": "\U0001f600" * 673}, "visibility", "\U0001f600" * 673),
    ("Boards", {**BOARD, "description": "\u00e9" * 5000}, "description", "\u00e9" * 5000),  # not indexed
    ("Boards", {**BOARD, "createdAt": DatetimeMS(-62_135_596_800_000)}, "createdAt", -62_135_596_800_000),
    ("Boards", {**BOARD, "createdAt": DatetimeMS(253_402_300_799_999)}, "createdAt", 253_402_300_799_999),
    ("Boards", {**BOARD, "createdAt": DatetimeMS(-1)}, "createdAt", -1),
    ("Boards", {**BOARD, "createdAt": DatetimeMS(1_700_000_000_123)}, "createdAt", 1_700_000_000_123),
    ("Boards", BOARD, "createdAt", None),  # optional with a default: a missing value stays NULL
    ("Boards", {**BOARD, "id": "stray", "v": 9}, "__v", 0),
    (
        "Boards",
        {**BOARD, "user": USER, "sharedWith": [USER, USER, GONE_USER]},
        "sharedWith",
        [uuid_for(str(USER)), uuid_for(str(USER)), uuid_for(str(GONE_USER))],
    ),
    ("Boards", {**BOARD, "createdBy": GONE_USER}, "createdBy", uuid_for(str(GONE_USER))),
    ("crm_Contacts", {"last_name": "l"}, "tags", []),
    ("crm_Contacts", {"last_name": "l", "tags": ["", "x", "x"]}, "tags", ["", "x", "x"]),
    ("Users", {"email": "a@x"}, "userStatus", "PENDING"),
    ("Users", {"email": "a@x", "userStatus": "ACTIVE"}, "userStatus", "ACTIVE"),
    ("Users", {"email": "a@x", "userLanguage": "uk"}, "userLanguage", "uk"),
    ("Users", {"email": "a@x", "userLanguage": None}, "userLanguage", "en"),
    ("Users", {"email": "a@x"}, "is_admin", False),
    ("crm_Leads", {"lastName": "l"}, "status", None),
    ("crm_Leads", {"lastName": "l"}, "__v", 0),
    ("crm_Opportunities", {}, "createdAt", 0x6B064C82 * 1000),
    ("crm_Opportunities", {"account": GONE_USER}, "account", None),
    (
        "Tasks",
        {"__v": 0, "position": 1, "priority": "p", "title": "t", "tags": {"a.b": 1, "$x": [Int64(5)]}},
        "tags",
        '{"$x": [5], "a.b": 1}',  # keys sorted: jsonb keeps its own order anyway
    ),
    (
        "Tasks",
        {"__v": 0, "position": 1, "priority": "p", "title": "t", "tags": {"s": "\\u0000"}},
        "tags",
        '{"s": "\\\\u0000"}',
    ),
    (
        "Tasks",
        {"__v": 0, "position": 1, "priority": "p", "title": "t", "tags": [USER, DatetimeMS(0)]},
        "tags",
        f'[{{"$oid": "{USER}"}}, {{"$date": "1970-01-01T00:00:00Z"}}]',
    ),
]


@pytest.mark.parametrize(
    "model, document, column, expected", LOADED, ids=[f"{m}.{c}={shown(d.get(c, 'missing'))}" for m, d, c, _ in LOADED]
)
def test_loaded_value(model, document, column, expected):
    row, bad = migrate(model, document)
    assert bad is None
    assert row[column] == expected


def test_unique_duplicates_after_the_first():
    spec = SPECS["Users"]
    docs = [{"_id": ObjectId(), "email": e} for e in ("a@x", "b@x", "a@x", "A@x")]
    raw = pl.from_arrow(decode_chunk(b"".join(map(bson.encode, docs)), spec, feeds_of(spec, JUNCTIONS)))
    judged = judge(raw, spec, ENUMS, outcome())
    rules = judged["problems"].list.eval(pl.element().struct.field("rule")).to_list()
    assert rules == [[], [], ["unique"], []]


def test_a_repeated_id_from_a_dump_is_quarantined_after_the_first():
    spec = SPECS["Boards"]
    same = ObjectId()
    raw = pl.from_arrow(
        decode_chunk(
            b"".join(bson.encode({"_id": same, **BOARD, "title": t}) for t in "ab"), spec, feeds_of(spec, JUNCTIONS)
        )
    )
    judged = judge(raw, spec, ENUMS, outcome())
    assert judged["problems"].list.eval(pl.element().struct.field("rule")).to_list() == [[], ["unique"]]
    assert judged["problems"].list.eval(pl.element().struct.field("field")).to_list() == [[], ["_id"]]


def test_a_later_copy_of_an_id_holds_no_unique_value():
    """The first copy of an `_id` loads; a later one never does, so its email is free: a document
    repeating it loads (else it would be refused naming an `_id` whose row holds another email)."""
    spec = SPECS["Users"]
    first, other = ObjectId(), ObjectId()
    docs = [{"_id": first, "email": "y@x"}, {"_id": first, "email": "z@x"}, {"_id": other, "email": "z@x"}]
    raw = pl.from_arrow(decode_chunk(b"".join(map(bson.encode, docs)), spec, feeds_of(spec, JUNCTIONS)))
    judged = judge(raw, spec, ENUMS, outcome())
    assert judged["problems"].list.eval(pl.element().struct.field("reason")).to_list() == [
        [],
        [f"_id: {first} repeats the _id of an earlier document"],
        [],
    ]


def test_unknown_fields_are_listed_not_loaded():
    spec = SPECS["Boards"]
    raw = pl.from_arrow(
        decode_chunk(
            bson.encode({"_id": ObjectId(), **BOARD, "id": 1, "v": 2, "extra": {}}), spec, feeds_of(spec, JUNCTIONS)
        )
    )
    assert raw["m2pg_unknown_fields"].to_list() == [["id", "v", "extra"]]


def three_rules() -> list[Rule]:
    return [
        Rule(pl.col("x") > 2, problem("x", "big", pl.lit("x is over 2"))),
        Rule(pl.col("x").is_null(), problem("x", "required", pl.lit("x is missing"))),
        Rule(pl.col("x") > 3, problem("x", "huge", pl.format("x is {}", pl.col("x")))),
    ]


@pytest.mark.parametrize(
    "first, expected",
    [
        (
            0,
            [
                [],
                [("required", "x is missing")],
                [],
                [("big", "x is over 2")],
                [("big", "x is over 2"), ("huge", "x is 4")],
            ],
        ),
        (2, [[], [], [], [], [("huge", "x is 4")]]),
    ],
)
def test_problems_of_lists_each_rows_problems_in_rule_order(first, expected):
    problems = problems_of(pl.DataFrame({"x": [1, None, 2, 3, 4]}), three_rules()[first:])
    assert problems.dtype == pl.List(PROBLEM)
    assert [[(p["rule"], p["reason"]) for p in row] for row in problems.to_list()] == expected


def test_repeats_name_the_value_and_keep_each_rows_problems_in_order():
    a, b, c = "6b064c82833346aaba78a43a", "6b064c82833346aaba78a43b", "6b064c82833346aaba78a43c"
    keys = pl.DataFrame(
        {
            "m2pg_row": pl.Series([0, 1, 2, 3, 4, 5, 6], dtype=pl.UInt32),
            "m2pg_object_id": [a, b, a, c, b, None, None],
            "m2pg_converted": [True, True, True, True, True, True, False],
            "email": ["e1", "e2", "e3", "e1", "e2", "e3", "e1"],
        }
    )
    found = repeats(keys, SPECS["Users"])
    assert found["m2pg_row"].to_list() == [2, 4, 3]  # row 5's e3 was only in a later copy of a
    assert found["repeats"].to_list() == [
        [{"field": "_id", "rule": "unique", "reason": f"_id: {a} repeats the _id of an earlier document"}],
        [{"field": "_id", "rule": "unique", "reason": f"_id: {b} repeats the _id of an earlier document"}],
        [
            {
                "field": "email",
                "rule": "unique",
                "reason": f"email: e1 repeats the value of an earlier document (_id {a})",
            }
        ],
    ]


def test_repeats_come_in_the_order_of_their_first_problem_however_many():
    n = 20_000
    rows = list(range(n))
    random.Random(7).shuffle(rows)  # numbers that are not in order: nothing to keep by sorting
    keys = pl.DataFrame(
        {
            "m2pg_row": pl.Series(rows, dtype=pl.UInt32),
            "m2pg_object_id": [f"{i % (n // 2):024x}" for i in range(n)],
            "m2pg_converted": [True] * n,
            "email": [f"e{i}" for i in range(n)],
        }
    )
    assert repeats(keys, SPECS["Users"])["m2pg_row"].to_list() == rows[n // 2 :]
