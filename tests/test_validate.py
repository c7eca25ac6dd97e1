"""Validate: schemas derived from the declarations report every value PostgreSQL would refuse,
with its table, column, check and source `_id`, and pass what PostgreSQL accepts."""

import uuid

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from toolkit.declarations.limits import APP_DATETIME_MS
from toolkit.declarations.spec import Kind
from toolkit.stages import validate as validate_module
from toolkit.stages.validate import is_jsonb, validate
from toolkit.staging.layout import Staging, read_json, write_parquet
from transforms import APP, ENUMS, JUNCTIONS, MODELS, boards, documents, open_ai_keys, users

# The clean layout of /tmp/interfaces.md, stated independently of toolkit.stages.validate.
ARROW = {
    Kind.OBJECT_ID: pa.string(),
    Kind.TEXT: pa.string(),
    Kind.ENUM: pa.string(),
    Kind.JSON: pa.string(),
    Kind.INT: pa.int32(),
    Kind.BOOL: pa.bool_(),
    Kind.DATETIME: pa.timestamp("ms"),
    Kind.TEXT_LIST: pa.list_(pa.string()),
    Kind.UUID_LIST: pa.list_(pa.string()),
}


def epoch_ms(date: str) -> int:
    """numpy's datetime64 is proleptic Gregorian over any year, unlike Python's datetime."""
    return int(np.datetime64(date, "ms").astype(np.int64))


FIRST_READABLE = epoch_ms("0001-01-01T00:00:00.000")
LAST_READABLE = epoch_ms("9999-12-31T23:59:59.999")
YEAR_300000 = epoch_ms("300000-01-01")
JSON_TEXTS = ['["a", {"b": [1, null]}]', '{"k": null, "n": 1e400}', r'"\\u0000 is text"']
ROWS = 3


def uuid_text(n: int) -> str:
    return str(uuid.UUID(int=n))


def object_id(row: int) -> str:
    return f"{row + 1:024x}"


def valid(field, row: int):
    """A value PostgreSQL accepts, derived from the field's kind; the last row leaves every
    nullable scalar column null."""
    if field.nullable and row == ROWS - 1 and field.kind not in (Kind.TEXT_LIST, Kind.UUID_LIST):
        return None
    match field.kind:
        case Kind.OBJECT_ID:
            return uuid_text((1 << 64) * (field.name == "id") + row + 1)
        case Kind.TEXT:
            return f"{field.name} {row} ✓"
        case Kind.INT:
            return -(2**31) if row == 0 else 2**31 - 1
        case Kind.BOOL:
            return row % 2 == 0
        case Kind.DATETIME:
            return (FIRST_READABLE, LAST_READABLE, 0)[row]
        case Kind.JSON:
            return JSON_TEXTS[row]
        case Kind.ENUM:
            labels = ENUMS[field.enum]
            return labels[row % len(labels)]
        case Kind.TEXT_LIST:
            return [f"t{row}", "", None]
        case Kind.UUID_LIST:
            return [uuid_text(row + 1), uuid_text(row + 1)]


def clean_table(model, column=None, value=None, arrow_type=None) -> pa.Table:
    """ROWS valid rows of `model`, with `column` of row 1 set to `value` when given."""
    columns, types = {}, {}
    for f in model.fields:
        columns[f.name] = [valid(f, row) for row in range(ROWS)]
        types[f.name] = ARROW[f.kind]
    columns["_object_id"], types["_object_id"] = [object_id(r) for r in range(ROWS)], pa.string()
    if column is not None:
        columns[column][1] = value
        types[column] = arrow_type or types[column]
    return pa.table({c: pa.array(v, type=types[c]) for c, v in columns.items()})


def run(tmp_path, tables: dict[str, pa.Table]) -> tuple[dict, pl.DataFrame]:
    staging = Staging(tmp_path)
    for name, table in tables.items():
        write_parquet(table, staging.clean(name) / "part-00000.parquet")
    summary = validate(APP, tmp_path)
    assert read_json(staging.report("validate.json")) == summary
    return summary, pl.read_parquet(staging.report("validate_failures.parquet"))


def value_of(model, column: str, row: int):
    return valid(model.field(column), row)


BREAKAGES = [
    # model, column, value of row 1, arrow type, check
    (users.SPEC, "userStatus", "active", None, "enum ActiveStatus"),
    (users.SPEC, "userLanguage", "EN", None, "enum Language"),
    (users.SPEC, "__v", 2**31, pa.int64(), "int32_range"),
    (users.SPEC, "__v", -(2**31) - 1, pa.int64(), "int32_range"),
    (users.SPEC, "name", "Ada\x00Lovelace", None, "no_nul"),
    (users.SPEC, "email", None, None, "not_nullable"),
    (open_ai_keys.SPEC, "api_key", None, None, "not_nullable"),
    (open_ai_keys.SPEC, "user", "not-a-uuid", None, "canonical_uuid"),
    (open_ai_keys.SPEC, "user", uuid_text(0xABCDEF).upper(), None, "canonical_uuid"),
    (open_ai_keys.SPEC, "id", uuid_text(7).replace("-", ""), None, "canonical_uuid"),
    (users.SPEC, "created_on", YEAR_300000, None, "app_date_range"),
    (users.SPEC, "lastLoginAt", -62_135_596_800_001, None, "app_date_range"),  # 0000-12-31T23:59:59.999
    (users.SPEC, "lastLoginAt", 253_402_300_800_000, None, "app_date_range"),  # 10000-01-01T00:00:00.000
    (users.SPEC, "id", value_of(users.SPEC, "id", 0), None, "unique"),
    (users.SPEC, "email", value_of(users.SPEC, "email", 0), None, "unique"),
    (users.SPEC, "_object_id", "5F0000000000000000000001", None, "object_id_hex"),
    (documents.SPEC, "tags", "NaN", None, "jsonb"),
    (documents.SPEC, "tags", '{"a": 1,}', None, "jsonb"),
    (documents.SPEC, "tags", r'["\u0000"]', None, "jsonb"),
    (documents.SPEC, "tags", '"unterminated', None, "jsonb"),
    (documents.SPEC, "connected_documents", ["ok", "a\x00"], None, "no_nul_elements"),
    (boards.SPEC, "sharedWith", [uuid_text(1), "nope"], None, "canonical_uuid_elements"),
    (boards.SPEC, "sharedWith", [uuid_text(1), None], None, "canonical_uuid_elements"),
]


@pytest.mark.parametrize(
    "model, column, value, arrow_type, check",
    BREAKAGES,
    ids=[f"{b[0].name}.{b[1]}-{b[4]}-{i}" for i, b in enumerate(BREAKAGES)],
)
def test_a_breakage_is_reported_with_its_column_and_object_id(tmp_path, model, column, value, arrow_type, check):
    summary, failures = run(tmp_path, {model.table: clean_table(model, column, value, arrow_type)})

    mine = failures.filter(pl.col("schema") == model.table)
    row_level = mine.filter(pl.col("object_id").is_not_null())
    broken_id = value if column == "_object_id" else object_id(1)
    assert {"column": column, "check": check, "object_id": broken_id} in row_level.select(
        "column", "check", "object_id"
    ).to_dicts()
    assert set(mine["column"]) == {column}, "only the broken column fails"
    assert summary["tables"][model.table]["ok"] is False
    assert summary["tables"][model.table]["failures"] == mine.height


def test_a_duplicate_names_both_rows(tmp_path):
    duplicate = value_of(users.SPEC, "email", 0)
    _, failures = run(tmp_path, {"Users": clean_table(users.SPEC, "email", duplicate)})

    assert sorted(failures.filter(check="unique")["object_id"]) == [object_id(0), object_id(1)]


def test_failure_cases_are_text(tmp_path):
    _, failures = run(tmp_path, {"Users": clean_table(users.SPEC, "created_on", YEAR_300000)})

    assert failures.schema == pl.Schema(
        {
            "schema": pl.String,
            "column": pl.String,
            "check": pl.String,
            "failure_case": pl.String,
            "object_id": pl.String,
        }
    )
    assert failures.filter(column="created_on")["failure_case"].to_list() == [str(YEAR_300000)]


def test_valid_frames_pass_including_the_first_and_last_readable_instants(tmp_path):
    junction = JUNCTIONS[0]
    pairs = pa.table(
        {junction.left.column: [uuid_text(1), uuid_text(1)], junction.right.column: [uuid_text(1), uuid_text(2)]}
    )
    models = (users.SPEC, open_ai_keys.SPEC, documents.SPEC, boards.SPEC)
    summary, failures = run(tmp_path, {m.table: clean_table(m) for m in models} | {junction.table: pairs})

    written = [m.table for m in models] + [junction.table]
    assert failures.filter(pl.col("schema").is_in(written)).is_empty()
    assert all(summary["tables"][t]["ok"] for t in written)
    assert summary["tables"]["Users"]["rows"] == ROWS
    years = pl.read_parquet(tmp_path / "clean" / "Users" / "part-00000.parquet")["created_on"].dt.year()
    assert years.to_list()[:2] == [1, 9999]


def test_missing_clean_files_are_failures(tmp_path):
    summary, failures = run(tmp_path, {"Users": clean_table(users.SPEC)})

    assert summary["ok"] is False
    assert summary["tables"]["Users"]["ok"] is True
    assert summary["tables"]["Tasks"] == {"rows": None, "failures": 1, "ok": False, "missing": True}
    expected = {m.table for m in MODELS} - {"Users"} | {j.table for j in JUNCTIONS}
    assert set(failures.filter(check="clean_file_exists")["schema"]) == expected


@pytest.mark.parametrize(
    "pairs, check",
    [
        ({"left": [uuid_text(1), uuid_text(1)], "right": [uuid_text(2), uuid_text(2)]}, "multiple_fields_uniqueness"),
        ({"left": [uuid_text(1), None], "right": [uuid_text(2), uuid_text(3)]}, "not_nullable"),
        ({"left": [uuid_text(1), "x"], "right": [uuid_text(2), uuid_text(3)]}, "canonical_uuid"),
    ],
)
def test_junction_breakages(tmp_path, pairs, check):
    junction = JUNCTIONS[1]
    table = pa.table(
        {
            junction.left.column: pa.array(pairs["left"], pa.string()),
            junction.right.column: pa.array(pairs["right"], pa.string()),
        }
    )
    summary, failures = run(tmp_path, {junction.table: table})

    assert check in failures.filter(schema=junction.table)["check"].to_list()
    assert summary["tables"][junction.table]["ok"] is False


def test_a_part_with_its_rows_digests_passes_and_one_without_too(tmp_path):
    """transform stages each row's digest; a part staged without has it taken by the load."""
    digested = clean_table(users.SPEC).append_column("m2pg_digest", pa.array([1, 2, 3], pa.int64()))
    summary, failures = run(tmp_path, {"Users": digested, "Boards": clean_table(boards.SPEC)})
    assert summary["tables"]["Users"]["ok"] and summary["tables"]["Boards"]["ok"], failures
    summary, failures = run(
        tmp_path,
        {"Users": digested.set_column(digested.num_columns - 1, "m2pg_digest", pa.array([1, None, 3], pa.int64()))},
    )
    assert failures.filter(schema="Users").select("column", "check").rows() == [("m2pg_digest", "not_nullable")]


DATETIME_MS = "dtype('Datetime(time_unit='ms', time_zone=None)')"


@pytest.mark.parametrize(
    "change, column, check, failure_case",
    [
        (lambda t: t.drop_columns(["avatar"]), "avatar", "column_in_dataframe", "avatar"),
        (lambda t: t.append_column("extra", pa.array([1, 2, 3])), "extra", "column_in_schema", "extra"),
        (
            lambda t: t.append_column("m2pg_digest", pa.array(["1", "2", "3"])),
            "m2pg_digest",
            "dtype('Int64')",
            "String",
        ),
        (
            lambda t: t.set_column(t.schema.get_field_index("is_admin"), "is_admin", pa.array(["no"] * ROWS)),
            "is_admin",
            "dtype('Boolean')",
            "String",
        ),
        (
            lambda t: t.set_column(
                t.schema.get_field_index("created_on"), "created_on", t["created_on"].cast(pa.timestamp("us"))
            ),
            "created_on",
            DATETIME_MS,
            "Datetime(time_unit='us', time_zone=None)",
        ),
        (
            lambda t: t.set_column(
                t.schema.get_field_index("created_on"), "created_on", t["created_on"].cast(pa.timestamp("ms", tz="UTC"))
            ),
            "created_on",
            DATETIME_MS,
            "Datetime(time_unit='ms', time_zone='UTC')",
        ),
    ],
)
def test_a_wrong_column_set_or_type_is_a_table_level_failure(tmp_path, change, column, check, failure_case):
    _, failures = run(tmp_path, {"Users": change(clean_table(users.SPEC))})

    found = failures.filter(schema="Users", check=check)
    assert found.to_dicts() == [
        {"schema": "Users", "column": column, "check": check, "failure_case": failure_case, "object_id": None}
    ]


@pytest.mark.parametrize(
    "text, accepted",
    [
        # what PostgreSQL 18's ::jsonb accepted or refused, checked on the embedded server
        ('{"a": 1}', True),
        ('[1, "x", {"b": [null]}]', True),
        ('"s"', True),
        ("null", True),
        ("1e400", True),
        ("-0", True),
        (" [1] ", True),
        ("\t1\n", True),
        ('{"a": 1, "a": 2}', True),
        (r'"\ud83d\ude00"', True),
        (r'"\\u0000"', True),
        ("NaN", False),
        ("Infinity", False),
        ("-Infinity", False),
        ("[1, 2,]", False),
        ('{"a": 1,}', False),
        ("{a: 1}", False),
        (r'"\ud800"', False),
        (r'"\udc00"', False),
        (r'"\u0000"', False),
        (r'"\\\u0000"', False),
        (r'{"\u0000": 1}', False),
        ('"tab\there"', False),
        ("1.", False),
        ("\u00a01", False),
        ("", False),
        ("'a'", False),
    ],
)
def test_jsonb_text_is_judged_as_postgresql_does(text, accepted):
    assert is_jsonb(text) is accepted


def test_date_range_is_what_the_apps_client_reads():
    assert APP_DATETIME_MS == (epoch_ms("0001-01-01"), epoch_ms("9999-12-31") + 86_400_000 - 1)


def test_a_table_in_many_parts_is_checked_a_batch_at_a_time_and_unique_across_them(tmp_path, monkeypatch):
    """Batches of one row each: a duplicate split over two parts is still found, a row failure
    keeps its own part's `_id`, and a wrong column type is reported once, not once a batch."""
    monkeypatch.setattr("toolkit.stages.validate.BATCH_ROWS", 1)
    first = clean_table(users.SPEC)
    second = clean_table(users.SPEC, "userStatus", "active")
    replaced = {
        "_object_id": [object_id(row + ROWS) for row in range(ROWS)],
        "id": [uuid_text(100 + row) for row in range(ROWS)],
        "email": [first["email"][0].as_py(), "second@example.com", "third@example.com"],
    }
    for name, values in replaced.items():  # only the first email repeats the first part's
        second = second.set_column(second.schema.get_field_index(name), name, pa.array(values, pa.string()))
    wrong = clean_table(open_ai_keys.SPEC)
    wrong = wrong.set_column(wrong.schema.get_field_index("api_key"), "api_key", pa.array([1] * ROWS))
    staging = Staging(tmp_path)
    write_parquet(first, staging.clean("Users") / "part-00000.parquet")
    write_parquet(second, staging.clean("Users") / "part-00001.parquet")
    for number in range(3):
        ids = {
            "_object_id": [object_id(10 * number + row) for row in range(ROWS)],
            "id": [uuid_text(10 * number + row) for row in range(ROWS)],
        }
        part = wrong
        for name, values in ids.items():
            part = part.set_column(part.schema.get_field_index(name), name, pa.array(values, pa.string()))
        write_parquet(part, staging.clean(open_ai_keys.SPEC.table) / f"part-{number:05d}.parquet")

    summary = validate(APP, tmp_path)
    failures = pl.read_parquet(staging.report("validate_failures.parquet"))

    users_failed = failures.filter(schema="Users")
    assert summary["tables"]["Users"]["rows"] == 2 * ROWS
    assert sorted(users_failed.filter(check="unique")["object_id"]) == [object_id(0), object_id(ROWS)]
    assert users_failed.filter(check="enum ActiveStatus")["object_id"].to_list() == [object_id(ROWS + 1)]
    assert users_failed.height == summary["tables"]["Users"]["failures"] == 3
    keys_failed = failures.filter(schema=open_ai_keys.SPEC.table)
    assert keys_failed.filter(check="dtype('String')")["column"].to_list() == ["api_key"]
    assert keys_failed.filter(check="unique").is_empty()
    assert summary["tables"][open_ai_keys.SPEC.table]["rows"] == 3 * ROWS


def test_pandera_is_shown_only_the_rows_that_break_a_rule(tmp_path, monkeypatch):
    """A broken row among valid ones: pandera's value checks see that row alone and still name
    it; a table whose rows all pass is never shown to them, nor are its column types when they
    are the declared ones."""
    shown = []
    real = validate_module.failure_cases

    def spy(frame, schema, depth):
        shown.append((schema.name, depth.name, frame.height))
        return real(frame, schema, depth)

    monkeypatch.setattr(validate_module, "failure_cases", spy)
    summary, failures = run(
        tmp_path,
        {users.SPEC.table: clean_table(users.SPEC, "email", None), boards.SPEC.table: clean_table(boards.SPEC)},
    )

    assert failures.filter(schema=users.SPEC.table).select("column", "check", "object_id").rows() == [
        ("email", "not_nullable", object_id(1))
    ]
    assert [s for s in shown if s[0] == users.SPEC.table] == [(users.SPEC.table, "DATA_ONLY", 1)]
    assert not [s for s in shown if s[0] == boards.SPEC.table]
    assert summary["tables"][boards.SPEC.table]["ok"] is True


def test_values_are_read_a_batch_at_a_time_in_order_across_parts(tmp_path, monkeypatch):
    """Parts of 3 rows in batches of at most 7: two parts share a batch, a part of another
    column layout starts its own, and every row comes once, in order."""
    monkeypatch.setattr(validate_module, "BATCH_ROWS", 7)
    staging = Staging(tmp_path)
    tables = [clean_table(users.SPEC) for _ in range(3)] + [clean_table(users.SPEC).drop_columns(["name"])]
    paths = []
    for number, table in enumerate(tables):
        table = table.set_column(
            table.schema.get_field_index("_object_id"),
            "_object_id",
            pa.array([object_id(ROWS * number + row) for row in range(ROWS)]),
        )
        paths.append(staging.clean(users.SPEC.table) / f"part-{number:05d}.parquet")
        write_parquet(table, paths[-1])

    batches = list(validate_module._row_batches(paths))

    assert [b.height for b in batches] == [6, 3, 3]
    assert "name" not in batches[-1].columns
    assert pl.concat([b.select("_object_id") for b in batches])["_object_id"].to_list() == [
        object_id(row) for row in range(4 * ROWS)
    ]


def test_a_table_whose_rows_were_all_refused_passes_with_no_rows(tmp_path):
    """Transform stages an empty part when every document of a collection went to the quarantine."""
    summary, failures = run(tmp_path, {users.SPEC.table: clean_table(users.SPEC).slice(0, 0)})

    assert summary["tables"][users.SPEC.table] == {**summary["tables"][users.SPEC.table], "rows": 0, "ok": True}
    assert failures.filter(schema=users.SPEC.table).is_empty()
