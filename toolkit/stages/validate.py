"""Validate: pandera schemas derived from the declarations, run over every clean table.

A schema states what PostgreSQL would accept for a column (type, NULL, enum label, uuid text,
integer range, the app's date range, jsonb text), so a row that would break the load is reported here
with its table, column, check and source `_id`, before any row is written.
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

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
from toolkit.runtime.sizes import PART_BYTES
from toolkit.stages.changes import DIGEST
from toolkit.stages.reports import ValidateReport
from toolkit.staging.layout import Staging, checked_digest, read_json, write_json, write_parquet

OBJECT_ID = "_object_id"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
OBJECT_ID_PATTERN = r"^[0-9a-f]{24}$"

BATCH_ROWS = 25_000
"""Rows whose values are checked at once: a table's checks hold as much memory as a small table's,
and pandera's cost per call is paid once per 25,000 rows."""
KEY_SEED = 20_261_202  # the hashes that find repeated keys: any fixed seed
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


Rule = Callable[[pl.LazyFrame, str], pl.LazyFrame]
"""A frame and a column's name -> one boolean per row: whether the value passes (null passes)."""


def row_rule(passes: Callable[[pl.Expr], pl.Expr]) -> Rule:
    """A vectorised rule: `passes` maps the column to one boolean per row."""
    return lambda frame, key: frame.select(passes(pl.col(key)))


def as_check(name: str, rule: Rule) -> pa.Check:
    return pa.Check(lambda data: rule(data.lazyframe, data.key), name=name)


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


def jsonb_rule(frame: pl.LazyFrame, key: str) -> pl.LazyFrame:
    """Python's parser, not polars' `str.json_decode` (which wants one shape per column and
    misjudges 1e400 and lone surrogates), run once per distinct text."""
    col = pl.col(key)
    texts = frame.select(col.drop_nulls().unique()).collect().to_series()
    bad = texts.filter(~texts.map_elements(is_jsonb, return_dtype=pl.Boolean))
    return frame.select(~col.is_in(bad.implode()))


def field_rules(field: Field, enums: dict[str, tuple[str, ...]]) -> list[tuple[str, Rule]]:
    """What each value must be on its own, by name; uniqueness, which spans the table, is
    `TableSchemas.keys`."""
    kind = field.kind
    rules: list[tuple[str, Rule]] = []
    if kind is Kind.OBJECT_ID:
        rules.append(("canonical_uuid", row_rule(is_uuid)))
    if kind is Kind.UUID_LIST:
        rules.append(("canonical_uuid_elements", row_rule(each(is_uuid, null_element_passes=False))))
    if kind is Kind.TEXT:
        rules.append(("no_nul", row_rule(no_nul)))
    if kind is Kind.TEXT_LIST:
        rules.append(("no_nul_elements", row_rule(each(no_nul, null_element_passes=True))))
    if kind is Kind.ENUM:
        labels = enums[field.enum_name]
        rules.append((f"enum {field.enum}", row_rule(lambda col: col.is_in(labels))))
    if kind is Kind.INT:
        rules.append(("int32_range", row_rule(lambda col: col.is_between(*INT32))))
    if kind is Kind.DATETIME:
        rules.append(("app_date_range", row_rule(in_app_date_range)))
    if kind is Kind.JSON:
        rules.append(("jsonb", jsonb_rule))
    return rules


# --- schemas ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnRules:
    """One column's type, whether it may hold NULL, the rules its values must pass, and whether
    a part must have it."""

    name: str
    dtype: Any
    nullable: bool
    rules: tuple[tuple[str, Rule], ...]
    required: bool = True

    def column(self) -> pa.Column:
        checks = [as_check(name, rule) for name, rule in self.rules]
        return pa.Column(self.dtype, checks=checks, nullable=self.nullable, name=self.name, required=self.required)


@dataclass(frozen=True)
class TableSchemas:
    """A clean table's checks in two parts: `rows` judges any slice of the table on its own
    (built from `columns`, which also find the rows worth showing it); `keys` judges uniqueness
    over the whole table, reading only the columns it names."""

    name: str
    rows: pa.DataFrameSchema
    keys: pa.DataFrameSchema
    columns: tuple[ColumnRules, ...]


STAGED_DIGEST = ColumnRules(DIGEST, pl.Int64, False, (), required=False)
"""The row's digest, which the load compares; a part staged without one has it taken by the load."""


def _table(name: str, columns: list[ColumnRules], keys: pa.DataFrameSchema) -> TableSchemas:
    rows = pa.DataFrameSchema({c.name: c.column() for c in columns}, strict=True, name=name)
    return TableSchemas(name, rows, keys, tuple(columns))


def _unique_columns(names: list[str], name: str) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {c: pa.Column(None, checks=[as_check("unique", row_rule(unique))], name=c, nullable=True) for c in names},
        name=name,
    )


def schema_for(model: ModelSpec, enums: dict[str, tuple[str, ...]]) -> TableSchemas:
    """The clean frame of `model`: its declared columns plus the source `_object_id` and the
    row's digest."""
    columns = [ColumnRules(f.name, KINDS[f.kind].clean, f.nullable, tuple(field_rules(f, enums))) for f in model.fields]
    object_id_hex = row_rule(lambda col: col.str.contains(OBJECT_ID_PATTERN))
    columns.append(ColumnRules(OBJECT_ID, pl.String, False, (("object_id_hex", object_id_hex),)))
    columns.append(STAGED_DIGEST)
    keyed = [f.name for f in model.fields if f.unique or f.key == "_id"] + [OBJECT_ID]
    return _table(model.table, columns, _unique_columns(keyed, model.table))


def junction_schema(junction: Junction) -> TableSchemas:
    """Two non-null uuid columns and the row's digest; a pair appears once (it is the primary key)."""
    sides = [junction.left.column, junction.right.column]
    columns = [ColumnRules(c, pl.String, False, (("canonical_uuid", row_rule(is_uuid)),)) for c in sides]
    columns.append(STAGED_DIGEST)
    keys = pa.DataFrameSchema(
        {c: pa.Column(None, name=c, nullable=True) for c in sides}, unique=sides, name=junction.table
    )
    return _table(junction.table, columns, keys)


# --- the stage --------------------------------------------------------------------------------


def failures(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """Every failing check of `frame`, one row per failing value, with the row's `_object_id`:
    the schema's column set and types, then its checks of the values."""
    return pl.concat([type_failures(frame, schema), value_failures(frame, schema)]).unique(
        maintain_order=True  # column-set failures come from both passes
    )


def type_failures(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """The failures of the column set and types, which an empty frame of the same columns shows."""
    return _located(failure_cases(frame, schema, ValidationDepth.SCHEMA_ONLY), frame, schema)


def value_failures(
    frame: pl.DataFrame, schema: pa.DataFrameSchema, columns: tuple[ColumnRules, ...] | None = None
) -> pl.DataFrame:
    """The failures of the values; with the `columns` the schema was built from, pandera sees
    only the rows that fail one of their rules (it reports the same failures, at a fraction of
    its cost per check). Timestamps are seen as epoch milliseconds: pandera turns failing values
    into Python objects, and a Python datetime cannot hold the year 300000 that the range check
    exists to catch."""
    as_epoch_ms = frame.with_columns(cs.datetime().dt.epoch("ms"))
    suspect = None if columns is None else _suspects(as_epoch_ms, columns)
    if suspect is not None:
        if not suspect.any():
            return pl.DataFrame(schema=FAILURES_SCHEMA)
        frame, as_epoch_ms = frame.filter(suspect), as_epoch_ms.filter(suspect)
    return _located(failure_cases(as_epoch_ms, schema, ValidationDepth.DATA_ONLY), frame, schema)


def _suspects(frame: pl.DataFrame, columns: tuple[ColumnRules, ...]) -> pl.Series | None:
    """Per row, whether it fails a rule or holds NULL (or NaN, as pandera counts it) where none
    may be; None when a rule cannot run on the frame (a column missing or of another type), and
    pandera is to see every row, as it reports what broke."""
    lazy, judged = frame.lazy(), []
    try:
        for c in columns:
            if not c.required and c.name not in frame.schema:
                continue
            if not c.nullable:
                missing = pl.col(c.name).is_null()
                if frame.schema[c.name].is_float():
                    missing = missing | pl.col(c.name).is_nan()
                judged.append(lazy.select(missing))
            judged += [rule(lazy, c.name).select(~pl.first().fill_null(True)) for _, rule in c.rules]
        flags = pl.collect_all(judged)
    except Exception:  # noqa: BLE001 - whatever stops a rule, pandera reports it as that rule's failure
        return None
    return functools.reduce(operator.or_, (f.to_series() for f in flags), pl.repeat(False, frame.height, eager=True))


def _located(cases: pl.DataFrame, frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """pandera's failure cases as failure rows, each with its row's `_object_id`."""
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


def _row_batches(parts: list[Path]) -> Iterator[pl.DataFrame]:
    """The rows of consecutive parts, up to BATCH_ROWS and about PART_BYTES at a time (a part of
    another column layout starts a batch of its own)."""
    pending: list[pl.DataFrame] = []
    rows = size = 0
    for part in parts:
        whole = pl.read_parquet(part)
        row_bytes = max(int(whole.estimated_size()), 1) / max(whole.height, 1)  # measured once a part
        step = max(1, min(BATCH_ROWS, int(PART_BYTES / row_bytes)))
        for offset in range(0, whole.height, step):
            frame = whole.slice(offset, step)
            bytes_ = int(frame.height * row_bytes)
            if pending and (
                rows + frame.height > BATCH_ROWS or size + bytes_ > PART_BYTES or frame.schema != pending[0].schema
            ):
                yield pl.concat(pending)
                pending, rows, size = [], 0, 0
            pending.append(frame)
            rows, size = rows + frame.height, size + bytes_
        del whole
    if pending:
        yield pl.concat(pending)


def _keys_present(keys: pa.DataFrameSchema, present: set[str]) -> pa.DataFrameSchema | None:
    """The uniqueness checks on the key columns the parts have (a missing one is a rows failure)."""
    names = [c for c in keys.columns if c in present]
    if not names or not set(keys.unique or ()) <= set(names):
        return None
    return keys.select_columns(names)


def _declared(columns: tuple[ColumnRules, ...], present: list[str]) -> pl.Schema:
    """The columns and types a clean part with the `present` columns must have, as polars states
    a frame's schema."""
    return pl.Schema({c.name: c.dtype for c in columns if c.required or c.name in present})


def _maybe_repeated(parts: list[Path], keys: pa.DataFrameSchema) -> pl.DataFrame:
    """The key columns of the rows that may break a uniqueness rule (a value of a unique column,
    or a set of columns unique together, whose hash another row shares), in table order: every
    row of a repeated value is among them, so pandera finds over them what it finds over the
    whole table, while memory holds eight bytes a row and a key, not every key."""
    columns = list(keys.columns)
    alone = [name for name, column in keys.columns.items() if column.checks]
    together = [pl.struct(list(keys.unique)).hash(KEY_SEED).alias("m2pg_together")] if keys.unique else []
    hashed = pl.concat(
        [
            pl.read_parquet(part, columns=columns).select(
                *(pl.when(pl.col(c).is_not_null()).then(pl.col(c).hash(KEY_SEED)).alias(c) for c in alone),
                *together,
            )
            for part in parts
        ]
    )
    repeated = hashed.select(
        pl.any_horizontal(pl.lit(False), *(pl.col(c).is_not_null() & pl.col(c).is_duplicated() for c in hashed.columns))
    ).to_series()
    del hashed
    if not repeated.any():
        return pl.DataFrame()
    found, offset = [], 0
    for part in parts:
        frame = pl.read_parquet(part, columns=columns)
        found.append(frame.filter(repeated.slice(offset, frame.height)))
        offset += frame.height
    return pl.concat(found)


def check_table(parts: list[Path], schemas: TableSchemas) -> tuple[int, pl.DataFrame]:
    """Rows and failures of a clean table: each part's column types (from its schema alone),
    the values BATCH_ROWS rows at a time, then uniqueness over the key columns of every part,
    so memory holds a batch and the keys, however large the table."""
    found, rows = [pl.DataFrame(schema=FAILURES_SCHEMA)], 0
    for layout in dict.fromkeys(pq.read_schema(part) for part in parts):  # parts written alike: once
        empty = cast(pl.DataFrame, pl.from_arrow(layout.empty_table()))
        if empty.schema != _declared(schemas.columns, empty.columns):  # pandera says how they differ
            found.append(type_failures(empty, schemas.rows))
    for frame in _row_batches(parts):
        rows += frame.height
        found.append(value_failures(frame, schemas.rows, schemas.columns))
        del frame
    keys = _keys_present(schemas.keys, set(pq.read_schema(parts[0]).names))
    if keys is not None:
        repeated = _maybe_repeated(parts, keys)
        if repeated.height:
            found.append(failures(repeated, keys))
    return rows, pl.concat(found).unique(maintain_order=True)  # table-level ones repeat per batch


def validate(app: App, staging_root: Path | str) -> ValidateReport:
    """Check every clean table; write reports/validate.json and validate_failures.parquet."""
    staging = Staging(Path(staging_root))
    schemas = [schema_for(m, app.enums) for m in app.models] + [junction_schema(j) for j in app.junctions]
    declared = {m.table: m.declared(app.enums) for m in app.models} | {j.table: repr(j) for j in app.junctions}
    earlier, earlier_rows = _previous(staging)
    tables, found = {}, []
    for table in tracked(schemas, "validate", lambda t: t.name):
        path = staging.clean(table.name)
        parts = staging.clean_parts(table.name)
        if parts:
            made_from = [bytes.fromhex(checked_digest(p)) for p in parts] + [declared[table.name].encode()]
            fingerprint = hashlib.sha256(b"".join(made_from)).hexdigest()  # a changed declaration: checked again
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
