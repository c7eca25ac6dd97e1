"""Verify's own judgement, apart from any database: the oracle that says what row a source
document must have become, and the comparisons that say whether PostgreSQL holds it."""

import duckdb
import polars as pl
import pytest
from bson import Int64, ObjectId
from bson.datetime_ms import DatetimeMS

from toolkit.declarations.spec import Kind
from toolkit.documents.ids import uuid_for
from toolkit.stages.verify.compare import as_text, canonical_sql, json_shape, same, show, type_issue
from toolkit.stages.verify.failures import LIMIT, Failures
from toolkit.stages.verify.integrity import one_sided
from toolkit.stages.verify.oracle import Unloadable, canonical_json, expected_value, row_reader
from toolkit.stages.verify.records import _differences
from transforms import JUNCTIONS, MODELS

SPECS = {m.name: m for m in MODELS}
OID = "6b064c82833346aaba78a43f"  # created 0x6b064c82 seconds after 1970
USER = ObjectId("6b064c82833346aaba78a440")


def field(path: str):
    model, name = path.split(".")
    return SPECS[model].field(name)


EXPECTED = [  # field, the document's value (absent: no key), the value the row must hold
    ("Boards.id", "absent", uuid_for(OID)),
    ("Boards.position", 75.0, 75),
    ("Boards.position", -0.0, 0),
    ("Boards.position", Int64(5), 5),
    ("Boards.position", 2_147_483_647, 2_147_483_647),
    ("Boards.position", -2_147_483_648, -2_147_483_648),
    ("Boards.position", "absent", None),
    ("Boards.position", None, None),
    ("Boards.createdAt", DatetimeMS(-62_135_596_800_000), -62_135_596_800_000),
    ("Boards.createdAt", DatetimeMS(253_402_300_799_999), 253_402_300_799_999),
    ("Boards.createdAt", "absent", None),  # optional with a default: stays NULL
    ("crm_Opportunities.createdAt", "absent", 0x6B064C82 * 1000),  # required with now(): the ObjectId's time
    ("Users.userStatus", "absent", "PENDING"),
    ("Users.userStatus", "ACTIVE", "ACTIVE"),
    ("Users.is_admin", "absent", False),
    ("Boards.favourite", True, True),
    ("Boards.title", "NULL", "NULL"),
    ("Boards.title", "", ""),
    ("Boards.user", USER, str(USER)),
    ("Boards.sharedWith", [USER, USER], [uuid_for(str(USER)), uuid_for(str(USER))]),
    ("Boards.sharedWith", "absent", []),
    ("Boards.sharedWith", None, []),
    ("crm_Contacts.tags", ["", None, "x"], ["", None, "x"]),
    ("Tasks.tags", {"b": 1, "a": Int64(2)}, '{"a":2,"b":1}'),
]


ORACLES = {  # a value read alone, and the same value read as part of a whole row
    "field": expected_value,
    "row": lambda f, document, object_id: row_reader([f])(document, object_id)[0],
}


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("path, value, expected", EXPECTED)
def test_the_oracle_gives_the_row_value(path, value, expected, oracle):
    document = {} if value == "absent" else {field(path).key: value}
    got = ORACLES[oracle](field(path), document, OID)
    assert got == expected and type(got) is type(expected)


UNLOADABLE = [  # field, value, why: a document holding it should have been quarantined
    ("Boards.position", 3.5, "position: Int field holds the fraction 3.5"),
    ("Boards.position", 2_147_483_648, "position: Int field holds 2147483648, outside integer"),
    ("Boards.position", -2_147_483_649, "position: Int field holds -2147483649, outside integer"),
    ("Boards.position", Int64(2_147_483_648), "position: Int field holds 2147483648, outside integer"),
    ("Boards.position", True, "position: Int field holds a BSON bool"),
    ("Boards.position", float("nan"), "position: Int field holds a BSON float"),
    ("Boards.position", float("inf"), "position: Int field holds a BSON float"),
    ("Boards.position", "3", "position: Int field holds a BSON str"),
    (
        "Boards.createdAt",
        DatetimeMS(-62_135_596_800_001),
        "createdAt: DateTime field holds 0000-12-31T23:59:59.999Z, outside the dates the app's client reads",
    ),
    (
        "Boards.createdAt",
        DatetimeMS(253_402_300_800_000),
        "createdAt: DateTime field holds 10000-01-01T00:00:00.000Z, outside the dates the app's client reads",
    ),
    ("Boards.createdAt", 1_700_000_000_000, "createdAt: DateTime field holds a BSON int"),
    ("Boards.favourite", 1, "favourite: Boolean field holds a BSON int"),
    ("Boards.title", 5, "title: String field holds a BSON int"),
    ("Users.userStatus", 1, "userStatus: Enum field holds a BSON int"),
    ("Boards.user", str(USER), "user: ObjectId field holds a BSON str"),
    ("Boards.sharedWith", [USER, "x"], "sharedWith: ObjectId[] field holds a BSON list"),
    ("Boards.sharedWith", USER, "sharedWith: ObjectId[] field holds a BSON ObjectId"),
    ("crm_Contacts.tags", ["a", 1], "tags: String[] field holds a BSON list"),
]


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("path, value, why", UNLOADABLE)
def test_the_oracle_refuses_what_no_row_can_hold(path, value, why, oracle):
    with pytest.raises(Unloadable) as refused:
        ORACLES[oracle](field(path), {field(path).key: value}, OID)
    assert str(refused.value) == why


def test_a_row_is_its_fields_read_one_by_one_and_names_the_first_that_cannot_load():
    board = SPECS["Boards"]
    document = {"_id": ObjectId(OID), "title": "t", "position": 2.0, "sharedWith": [USER], "favourite": None}
    read = row_reader(board.fields)
    assert read(document, OID) == [expected_value(f, document, OID) for f in board.fields]
    with pytest.raises(Unloadable, match="^favourite: Boolean field holds a BSON int$"):
        read(document | {"title": 5, "favourite": 1}, OID)  # favourite is declared before title


def test_merged_failures_keep_exact_counts_and_at_most_the_limit_of_details():
    first, second = Failures(), Failures()
    for n in range(LIMIT - 1):
        first.add("records", "T", "wrong", object_id=f"a{n}")
    for n in range(3):
        second.add("records", "T", "wrong", object_id=f"b{n}")
    second.add("counts", "U", "short")
    first.merge(second)
    assert first.of("records", "T")["failure_count"] == LIMIT + 2
    kept = first.of("records", "T")["failures"]
    assert len(kept) == LIMIT and kept[-1]["object_id"] == "b0"
    assert first.of("counts", "U") == {"status": "fail", "failure_count": 1, "failures": [{"problem": "short"}]}


@pytest.mark.parametrize(
    "text, canonical",
    [
        (None, None),
        ('{"b": 1, "a": [1.0, 2.50, 0.0, -0, 1e400, -1E-2]}', '{"a":[1,2.5,0,0,1E+400,-0.01],"b":1}'),
        ('{"k": {"z": null, "a": true}}', '{"k":{"a":true,"z":null}}'),
        ('"\\u00e9t\\u00e9"', '"\u00e9t\u00e9"'),
        ('{"\\u00e9": ["\\u00e9"]}', '{"\u00e9":["\u00e9"]}'),  # keys and strings as they read
        ('[false, "x"]', '[false,"x"]'),
        ("1.10", "1.1"),
        ("-0.0", "0"),
        ("100", "1E+2"),
    ],
)
def test_canonical_json_spells_each_value_one_way(text, canonical):
    assert canonical_json(text) == canonical


@pytest.mark.parametrize(
    "left, right",
    [
        ('{"a": 1, "b": 2}', '{"b":2,"a":1}'),
        ("[1.0, 100]", "[1, 1e2]"),
        ('{"a": 0.5}', '{"a": 5E-1}'),
    ],
)
def test_canonical_json_equates_what_jsonb_equates(left, right):
    assert canonical_json(left) == canonical_json(right)


@pytest.mark.parametrize(
    "left, right",
    [
        ("[1, 2]", "[2, 1]"),
        ('{"a": 1}', '{"a": "1"}'),
        ("true", "1"),
        ("null", "0"),
        ('{"a": []}', '{"a": {}}'),
        ("1.5", "1.50001"),
    ],
)
def test_canonical_json_tells_apart_what_jsonb_tells_apart(left, right):
    assert canonical_json(left) != canonical_json(right)


@pytest.mark.parametrize(
    "kind, expected, actual, equal",
    [
        (Kind.INT, 5, 5, True),
        (Kind.INT, 1, True, False),
        (Kind.BOOL, True, 1, False),
        (Kind.TEXT, "1", 1, False),
        (Kind.INT, None, None, True),
        (Kind.INT, None, 0, False),
        (Kind.INT, 0, None, False),
        (Kind.TEXT, "", None, False),
        (Kind.TEXT_LIST, None, [], False),
        (Kind.TEXT_LIST, [], None, False),
        (Kind.TEXT_LIST, ["a", "b"], ["a", "b"], True),
        (Kind.TEXT_LIST, ["a", "b"], ["b", "a"], False),
        (Kind.TEXT_LIST, ["a"], ["a", "a"], False),
        (Kind.TEXT_LIST, ["a", "a"], ["a"], False),
        (Kind.TEXT_LIST, ["a"], "a", False),
        (Kind.TEXT_LIST, [None], [None], True),
        (Kind.TEXT_LIST, [None], [""], False),
        (Kind.UUID_LIST, [], [], True),
        (Kind.TEXT_LIST, ["1"], [1], False),
    ],
)
def test_same_compares_type_and_value(kind, expected, actual, equal):
    assert same(kind, expected, actual) is equal


@pytest.mark.parametrize(
    "kind, value, text",
    [
        (Kind.INT, None, None),
        (Kind.INT, -5, "-5"),
        (Kind.BOOL, True, "true"),
        (Kind.BOOL, False, "false"),
        (Kind.TEXT, "\u00e9", "\u00e9"),
        (Kind.TEXT_LIST, ["\u00e9", None], '["\u00e9",null]'),
        (Kind.UUID_LIST, [], "[]"),
    ],
)
def test_as_text_is_the_canonical_text_compared(kind, value, text):
    assert as_text(kind, value) == text


def canonical_in_duckdb(f, value, side: str) -> str | None:
    """`canonical_sql` run by DuckDB over one value of the column's staged type."""
    con = duckdb.connect()
    con.create_function("m2pg_canonical_json", canonical_json, ["VARCHAR"], "VARCHAR")
    con.register(
        "t",
        pl.DataFrame(
            {"v": [value]},
            schema={
                "v": {
                    Kind.INT: pl.Int64,
                    Kind.BOOL: pl.Boolean,
                    Kind.TEXT: pl.String,
                    Kind.JSON: pl.String,
                    Kind.TEXT_LIST: pl.List(pl.String),
                    Kind.UUID_LIST: pl.List(pl.String),
                }[f.kind]
            },
        ).to_arrow(),
    )
    return con.execute(f"SELECT {canonical_sql(f, 'v', side)} FROM t").fetchone()[0]


@pytest.mark.parametrize(
    "path, value, text",
    [
        ("Boards.position", -5, "-5"),
        ("Boards.favourite", True, "true"),
        ("Boards.title", "\u00e9 x", "\u00e9 x"),
        ("crm_Contacts.tags", ["\u00e9", None, ""], '["\u00e9",null,""]'),
    ],
)
def test_both_sides_of_the_full_comparison_write_the_same_text(path, value, text):
    f = field(path)
    assert canonical_in_duckdb(f, value, "expected") == canonical_in_duckdb(f, value, "pg") == text


def test_the_full_comparison_canonicalises_json_only_on_postgresqls_side():
    f = field("Tasks.tags")
    assert canonical_in_duckdb(f, '{"b": 1, "a": 1.0}', "pg") == '{"a":1,"b":1}'
    assert canonical_in_duckdb(f, '{"a":1,"b":1}', "expected") == '{"a":1,"b":1}'


@pytest.mark.parametrize(
    "kind, expected, actual, issue",
    [
        (Kind.DATETIME, "0", "3600000", "timestamp shifted by +1 h (a time zone applied?)"),
        (Kind.DATETIME, "0", "-50400000", "timestamp shifted by -14 h (a time zone applied?)"),
        (Kind.DATETIME, "0", "50400000", "timestamp shifted by +14 h (a time zone applied?)"),
        (Kind.DATETIME, "0", "19800000", "timestamp shifted by +5.5 h (a time zone applied?)"),
        (Kind.DATETIME, "0", "51300000", "timestamp 51300000 ms instead of 0 ms"),  # 14 h 15 min: no time zone
        (Kind.DATETIME, "0", "-51300000", "timestamp -51300000 ms instead of 0 ms"),
        (Kind.DATETIME, "0", "420000", "timestamp 420000 ms instead of 0 ms"),  # 7 minutes
        (Kind.DATETIME, "1000", "1001", "timestamp 1001 ms instead of 1000 ms"),
        (Kind.DATETIME, "1700000000000", "1700003600000", "timestamp shifted by +1 h (a time zone applied?)"),
        (Kind.DATETIME, "1700003600000", "1700000000000", "timestamp shifted by -1 h (a time zone applied?)"),
        (Kind.TEXT, "abcdef", "abc", "text truncated from 6 to 3 characters"),
        (Kind.ENUM, "ACTIVE", "ACT", "text truncated from 6 to 3 characters"),
        (Kind.TEXT, "abcdef", "abd", None),
        (Kind.TEXT, "abc", "abcdef", None),
        (Kind.TEXT, "abc", "abc", None),
        (Kind.INT, "6", "5", "number 5 instead of 6"),
        (Kind.TEXT_LIST, '["a","b"]', '["a"]', "array of 1 element instead of 2"),
        (Kind.UUID_LIST, '["a","b"]', '["b","a"]', "array order changed"),
        (Kind.TEXT_LIST, '["a",null]', '[null,"a"]', "array order changed"),
        (Kind.TEXT_LIST, '["a","b"]', '["a","c"]', None),
        (Kind.JSON, '{"a":1}', "[1,2]", "jsonb array of 2 instead of object of 1"),
        (Kind.JSON, '{"a":1}', '{"a":2}', None),
        (Kind.INT, None, "5", None),
        (Kind.INT, "5", None, None),
    ],
)
def test_type_issue_names_what_a_difference_says(kind, expected, actual, issue):
    assert type_issue(kind, expected, actual) == issue


@pytest.mark.parametrize(
    "text, shape",
    [
        ('{"a": 1, "b": [2]}', {"type": "object", "size": 2}),
        ("[1, 2, 3]", {"type": "array", "size": 3}),
        ('"abc"', {"type": "string", "size": 0}),
        ("1.5", {"type": "number", "size": 0}),
        ("true", {"type": "boolean", "size": 0}),
        ("null", {"type": "null", "size": 0}),
    ],
)
def test_json_shape_is_jsonb_typeof_and_its_size(text, shape):
    assert json_shape(text) == shape


@pytest.mark.parametrize(
    "value, kind, shown",
    [
        (None, None, "NULL"),
        ("abc", Kind.TEXT, "'abc'"),
        ("x" * 78, Kind.TEXT, repr("x" * 78)),  # 80 characters with its quotes
        ("x" * 79, Kind.TEXT, repr("x" * 79)[:80] + "\u2026 (79 characters)"),
        ("1700000000123", Kind.DATETIME, "1700000000123 ms (2023-11-14T22:13:20.123)"),
        ("-62135596800001", Kind.DATETIME, "-62135596800001 ms (0000-12-31T23:59:59.999)"),
    ],
)
def test_show_gives_a_reader_the_value(value, kind, shown):
    assert show(value, kind) == shown


@pytest.mark.parametrize(
    "expected, actual, said_expected, said_found, at",
    [
        ("a" * 150 + "b" + "c" * 100, "a" * 150 + "X" + "c" * 100, "ab" + "c" * 10, "aX" + "c" * 10, 151),
        ("a" * 150, "a" * 150 + " ", "…'" + "a" * 20 + "' (150", "…'" + "a" * 20 + " ' (151", 151),
        ('[{"k":"' + "v" * 99 + '"},1]', '[{"k":"' + "v" * 99 + '"},2]', "},1]", "},2]", 110),
    ],
)
def test_a_long_value_is_shown_where_it_differs(expected, actual, said_expected, said_found, at):
    """Long values alike in their first 80 characters: both are shown from a little before the
    first character that differs, which is named. Cut at their beginning, they read the same."""
    fails = Failures()
    _differences(SPECS["crm_Accounts"], [(OID, uuid_for(OID), "name", expected, actual)], fails)
    (failure,) = fails.kept["records", "crm_Accounts"]
    shown_expected, shown_found = failure["problem"].removeprefix("expected ").split("; ")[0].split(", found ")
    assert said_expected in shown_expected and said_found in shown_found, failure
    assert failure["problem"].endswith(f"they differ from character {at}")


def test_a_short_value_is_shown_whole():
    fails = Failures()
    _differences(SPECS["crm_Accounts"], [(OID, uuid_for(OID), "name", "Acme", "Acme ")], fails)
    assert fails.kept["records", "crm_Accounts"][0]["problem"] == "expected 'Acme', found 'Acme '"


def test_one_sided_pairs_are_those_only_one_feed_knew():
    junction = next(j for j in JUNCTIONS if len(j.feeds) == 2)
    left, right = junction.left.column, junction.right.column
    first = pl.DataFrame({left: [b"\x0a", b"\x0a", b"\x0b"], right: [b"\xf1", b"\xf2", b"\xf1"]})  # ids' bytes
    second = pl.DataFrame({left: [b"\x0a", b"\x0c"], right: [b"\xf1", b"\xf3"]})
    keys = [f"{feed.model}.{feed.key}" for feed in junction.feeds]
    found = one_sided(junction, dict(zip(keys, (first, second), strict=False)))
    assert found["count"] == 3
    assert found["by_feed"] == {keys[0]: 2, keys[1]: 1}
    assert found["samples"] == [
        {"known_to": keys[0], "pair": {left: "0a", right: "f2"}},  # named in hex, as a report shows ids
        {"known_to": keys[0], "pair": {left: "0b", right: "f1"}},
        {"known_to": keys[1], "pair": {left: "0c", right: "f3"}},
    ]
    assert one_sided(junction, {keys[0]: first}) is None


def test_one_sided_samples_are_sorted_by_both_ends():
    """Pairs sharing a left end come in the order of their right ends, whatever order the feed
    listed them in: the same samples on every run."""
    junction = next(j for j in JUNCTIONS if len(j.feeds) == 2)
    left, right = junction.left.column, junction.right.column
    first = pl.DataFrame({left: [b"\x0a", b"\x0a", b"\x0a"], right: [b"\xf9", b"\xf2", b"\xf5"]})
    second = pl.DataFrame({left: [b"\x0c"], right: [b"\xf3"]})
    keys = [f"{feed.model}.{feed.key}" for feed in junction.feeds]
    found = one_sided(junction, dict(zip(keys, (first, second), strict=False)))
    assert [s["pair"][right] for s in found["samples"] if s["known_to"] == keys[0]] == ["f2", "f5", "f9"]


def test_nulled_references_counts_references_to_documents_not_loaded(tmp_path):
    """Each reference column's ids that name no loaded document, nulls aside, and no other."""
    from toolkit.stages.verify.source import Loaded, nulled_references, rows_file

    users, industries = [f"{n:024x}" for n in range(1, 4)], [f"{n:024x}" for n in range(10, 12)]
    pl.DataFrame({"_object_id": users[:2]}).write_parquet(rows_file(tmp_path, "Users"))
    pl.DataFrame({"_object_id": industries}).write_parquet(rows_file(tmp_path, "crm_Industry_Type"))
    accounts = {
        "assigned_to": [users[0], users[2], None, users[2], users[1]],  # users[2] is not loaded
        "industry": industries[:2] + [None] * 3,  # every industry is loaded
    }
    frame = pl.DataFrame({name: accounts.get(name, [None] * 5) for name in _reference_names("crm_Accounts")})
    frame.write_parquet(rows_file(tmp_path, "crm_Accounts"))
    assert nulled_references(tmp_path, SPECS["crm_Accounts"], Loaded(tmp_path)) == {"assigned_to": 2}


def _reference_names(model: str) -> list[str]:
    return [f.name for f in SPECS[model].fields if f.kind is Kind.OBJECT_ID and f.key != "_id" and f.references]
