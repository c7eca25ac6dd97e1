"""Validate: pandera schemas derived from the declarations, run over every clean table.

A schema states what PostgreSQL would accept for a column (type, NULL, enum label, uuid text,
integer range, the app's date range, jsonb text), so a row that would break the load is reported here
with its table, column, check and source `_id`, before any row is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandera.polars as pa
import polars as pl
import polars.selectors as cs
import pyarrow.parquet as pq
from pandera.config import ValidationDepth, config_context
from pandera.errors import SchemaErrors

from toolkit.declarations.app import App
from toolkit.declarations.kinds import KINDS
from toolkit.declarations.limits import APP_DATETIME_MS, INT32
from toolkit.declarations.spec import Field, Junction, Kind, ModelSpec
from toolkit.runtime.progress import tracked
from toolkit.stages.reports import ValidateReport
from toolkit.staging.layout import Staging, checked_digest, read_json, write_json, write_parquet

OBJECT_ID = "_object_id"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
OBJECT_ID_PATTERN = r"^[0-9a-f]{24}$"

GROUP_ROWS = 100_000
"""Rows checked at once: memory stays bounded, and pandera's cost per call is paid a few times a table."""
FAILURES_SCHEMA = pl.Schema(
    {
        "schema": pl.String,
        "column": pl.String,
        "check": pl.String,
        "failure_case": pl.String,
        "object_id": pl.String,
    }
)


# --- checks -----------------------------------------------------------------------------------


def row_check(name: str, passes: Callable[[pl.Expr], pl.Expr]) -> pa.Check:
    """A vectorised check: `passes` maps the column to one boolean per row (null values pass)."""
    return pa.Check(lambda data: data.lazyframe.select(passes(pl.col(data.key))), name=name)


def each(passes: Callable[[pl.Expr], pl.Expr], null_element_passes: bool) -> Callable[[pl.Expr], pl.Expr]:
    """Lift an element predicate to list columns: every element must pass."""
    return lambda col: col.list.eval(passes(pl.element()).fill_null(null_element_passes)).list.all()


def is_uuid(col: pl.Expr) -> pl.Expr:
    return col.str.contains(UUID_PATTERN)


def no_nul(col: pl.Expr) -> pl.Expr:
    """PostgreSQL text cannot hold U+0000."""
    return ~col.str.contains("\x00", literal=True)


def unique(col: pl.Expr) -> pl.Expr:
    """PostgreSQL's UNIQUE: NULLs never collide."""
    return col.is_null() | ~col.is_duplicated()


def in_app_date_range(col: pl.Expr) -> pl.Expr:
    """Compared as int64 epoch milliseconds (the physical value of timestamp[ms]), never as Python
    datetimes: the dates the app's client reads, both ends included."""
    return col.to_physical().is_between(*APP_DATETIME_MS)


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def is_jsonb(text: str) -> bool:
    """What `::jsonb` accepts: strict JSON (no NaN/Infinity, no trailing comma), no lone
    surrogate escape, and no \\u0000 (jsonb cannot store it; JSON forbids a raw control
    character in a string, so a NUL in the parsed value can only come from that escape)."""
    try:
        value = json.loads(text, parse_constant=_refuse)
        if "\\u" not in text:  # only a \u escape can make a NUL or a lone surrogate
            return True
        dumped = json.dumps(value, ensure_ascii=False)
        dumped.encode("utf-8")  # a lone surrogate cannot be encoded
    except (ValueError, UnicodeEncodeError, RecursionError):
        return False
    return "\\u0000" not in dumped.replace("\\\\", "")  # dumps escapes NUL, and \ as \\


def jsonb_check() -> pa.Check:
    """Python's parser, not polars' `str.json_decode` (which wants one shape per column and
    misjudges 1e400 and lone surrogates), run once per distinct text."""

    def check(data) -> pl.LazyFrame:
        col = pl.col(data.key)
        texts = data.lazyframe.select(col.drop_nulls().unique()).collect().to_series()
        bad = texts.filter(~texts.map_elements(is_jsonb, return_dtype=pl.Boolean))
        return data.lazyframe.select(~col.is_in(bad.implode()))

    return pa.Check(check, name="jsonb")


def field_checks(field: Field, enums: dict[str, tuple[str, ...]]) -> list[pa.Check]:
    """What each value must be on its own; uniqueness, which spans the table, is `TableSchemas.keys`."""
    kind = field.kind
    checks = []
    if kind is Kind.OBJECT_ID:
        checks.append(row_check("canonical_uuid", is_uuid))
    if kind is Kind.UUID_LIST:
        checks.append(row_check("canonical_uuid_elements", each(is_uuid, null_element_passes=False)))
    if kind is Kind.TEXT:
        checks.append(row_check("no_nul", no_nul))
    if kind is Kind.TEXT_LIST:
        checks.append(row_check("no_nul_elements", each(no_nul, null_element_passes=True)))
    if kind is Kind.ENUM:
        labels = enums[field.enum_name]
        checks.append(row_check(f"enum {field.enum}", lambda col: col.is_in(labels)))
    if kind is Kind.INT:
        checks.append(row_check("int32_range", lambda col: col.is_between(*INT32)))
    if kind is Kind.DATETIME:
        checks.append(row_check("app_date_range", in_app_date_range))
    if kind is Kind.JSON:
        checks.append(jsonb_check())
    return checks


# --- schemas ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableSchemas:
    """A clean table's checks in two parts: `rows` judges any slice of the table on its own;
    `keys` judges uniqueness over the whole table, reading only the columns it names."""

    name: str
    rows: pa.DataFrameSchema
    keys: pa.DataFrameSchema


def _unique_columns(names: list[str], name: str) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {c: pa.Column(None, checks=[row_check("unique", unique)], name=c, nullable=True) for c in names}, name=name
    )


def schema_for(model: ModelSpec, enums: dict[str, tuple[str, ...]]) -> TableSchemas:
    """The clean frame of `model`: its declared columns plus the source `_object_id`."""
    columns = {
        f.name: pa.Column(KINDS[f.kind].clean, checks=field_checks(f, enums), nullable=f.nullable, name=f.name)
        for f in model.fields
    }
    columns[OBJECT_ID] = pa.Column(
        pl.String,
        nullable=False,
        name=OBJECT_ID,
        checks=[row_check("object_id_hex", lambda col: col.str.contains(OBJECT_ID_PATTERN))],
    )
    keyed = [f.name for f in model.fields if f.unique or f.key == "_id"] + [OBJECT_ID]
    return TableSchemas(
        model.table, pa.DataFrameSchema(columns, strict=True, name=model.table), _unique_columns(keyed, model.table)
    )


def junction_schema(junction: Junction) -> TableSchemas:
    """Two non-null uuid columns; a pair appears once (it is the primary key)."""
    sides = [junction.left.column, junction.right.column]
    columns = {
        c: pa.Column(pl.String, nullable=False, name=c, checks=[row_check("canonical_uuid", is_uuid)]) for c in sides
    }
    return TableSchemas(
        junction.table,
        pa.DataFrameSchema(columns, strict=True, name=junction.table),
        pa.DataFrameSchema(
            {c: pa.Column(None, name=c, nullable=True) for c in sides}, unique=sides, name=junction.table
        ),
    )


# --- the stage --------------------------------------------------------------------------------


def failures(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """Every failing check of `frame`, one row per failing value, with the row's `_object_id`.

    Two passes: the schema pass sees the frame as it is; the data pass sees timestamps as epoch
    milliseconds, because pandera turns failing values into Python objects, and a Python
    datetime cannot hold the year 300000 that the range check exists to catch.
    """
    as_epoch_ms = frame.with_columns(cs.datetime().dt.epoch("ms"))
    cases = pl.concat(
        [
            failure_cases(frame, schema, ValidationDepth.SCHEMA_ONLY),
            failure_cases(as_epoch_ms, schema, ValidationDepth.DATA_ONLY),
        ]
    ).unique(maintain_order=True)  # column-set failures come from both passes
    if OBJECT_ID in frame.columns:
        ids = frame.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("index"), pl.col(OBJECT_ID))
    else:
        ids = pl.DataFrame(schema={"index": pl.Int64, OBJECT_ID: pl.String})
    table_level = pl.col("schema_context") == "DataFrameSchema"
    names_column = pl.col("check").is_in(["column_in_dataframe", "column_in_schema"])
    column = (
        pl.when(~table_level)
        .then("column")  # pandera puts the table's name there
        .when(names_column)
        .then("failure_case")
    )
    return (
        cases.join(ids, on="index", how="left", maintain_order="left")
        .select(
            pl.lit(schema.name).alias("schema"),
            column.alias("column"),
            pl.col("check"),
            pl.col("failure_case"),
            pl.col(OBJECT_ID).alias("object_id"),
        )
        .cast(FAILURES_SCHEMA)
    )


def failure_cases(frame: pl.DataFrame, schema: pa.DataFrameSchema, depth: ValidationDepth) -> pl.DataFrame:
    """pandera's failure cases (lazy: all of them), `index` being the row number or null."""
    try:
        with config_context(validation_depth=depth):
            schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        return errors.failure_cases.select(
            "schema_context", "column", "check", pl.col("failure_case").cast(pl.String), pl.col("index").cast(pl.Int64)
        )
    return pl.DataFrame(
        schema={
            "schema_context": pl.String,
            "column": pl.String,
            "check": pl.String,
            "failure_case": pl.String,
            "index": pl.Int64,
        }
    )


def missing(table: str, path: Path) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "schema": [table],
            "column": [None],
            "check": ["clean_file_exists"],
            "failure_case": [str(path)],
            "object_id": [None],
        },
        schema=FAILURES_SCHEMA,
    )


def _previous(staging: Staging) -> tuple[dict, pl.DataFrame]:
    """The last run's results, so tables whose clean parts have not changed are not checked again."""
    report, rows = staging.report("validate.json"), staging.report("validate_failures.parquet")
    if not (report.exists() and rows.exists()):
        return {}, pl.DataFrame(schema=FAILURES_SCHEMA)
    return read_json(report).get("tables", {}), pl.read_parquet(rows)


def _groups(parts: list[Path]) -> Iterator[list[Path]]:
    """Consecutive parts of up to GROUP_ROWS rows together (a larger part alone)."""
    group: list[Path] = []
    rows = 0
    for part in parts:
        height = pq.read_metadata(part).num_rows
        if group and rows + height > GROUP_ROWS:
            yield group
            group, rows = [], 0
        group.append(part)
        rows += height
    if group:
        yield group


def _keys_present(keys: pa.DataFrameSchema, present: set[str]) -> pa.DataFrameSchema | None:
    """The uniqueness checks on the key columns the parts have (a missing one is a rows failure)."""
    names = [c for c in keys.columns if c in present]
    if not names or not set(keys.unique or ()) <= set(names):
        return None
    return keys.select_columns(names)


def check_table(parts: list[Path], schemas: TableSchemas) -> tuple[int, pl.DataFrame]:
    """Rows and failures of a clean table: the per-row checks a group of parts at a time, then
    uniqueness over the key columns of every part, so memory does not grow with the table."""
    found, rows = [], 0
    for group in _groups(parts):
        frame = pl.read_parquet(group)
        rows += frame.height
        found.append(failures(frame, schemas.rows))
        del frame
    keys = _keys_present(schemas.keys, set(pq.read_schema(parts[0]).names))
    if keys is not None:
        found.append(failures(pl.read_parquet(parts, columns=list(keys.columns)), keys))
    return rows, pl.concat(found).unique(maintain_order=True)  # table-level ones repeat per group


def validate(app: App, staging_root: Path | str) -> ValidateReport:
    """Check every clean table; write reports/validate.json and validate_failures.parquet."""
    staging = Staging(Path(staging_root))
    schemas = [schema_for(m, app.enums) for m in app.models] + [junction_schema(j) for j in app.junctions]
    earlier, earlier_rows = _previous(staging)
    tables, found = {}, []
    for table in tracked(schemas, "validate", lambda t: t.name):
        path = staging.clean(table.name)
        parts = staging.clean_parts(table.name)
        if parts:
            fingerprint = hashlib.sha256(b"".join(bytes.fromhex(checked_digest(p)) for p in parts)).hexdigest()
            if earlier.get(table.name, {}).get("fingerprint") == fingerprint:
                tables[table.name] = {**earlier[table.name], "skipped": True}
                found.append(earlier_rows.filter(pl.col("schema") == table.name))
                continue
            rows, failed = check_table(parts, table)
            tables[table.name] = {
                "rows": rows,
                "failures": failed.height,
                "ok": failed.is_empty(),
                "fingerprint": fingerprint,
            }
        else:
            failed = missing(table.name, path)
            tables[table.name] = {"rows": None, "failures": 1, "ok": False, "missing": True}
        found.append(failed)
    failures_frame = pl.concat(found)
    write_parquet(failures_frame.to_arrow(), staging.report("validate_failures.parquet"))
    summary: ValidateReport = {
        "ok": all(t["ok"] for t in tables.values()),
        "failures": failures_frame.height,
        "tables": tables,
        "skipped": sum(1 for t in tables.values() if t.get("skipped")),
    }
    write_json(summary, staging.report("validate.json"))
    return summary
