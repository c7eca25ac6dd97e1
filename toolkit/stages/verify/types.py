"""Layer 4, types: declared column types and enum labels, dates the app can read, each differing
value classified (a time zone shift, a truncation), and in sample mode whole-column profiles on
both sides, standing in for the rows the sample did not reach."""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from toolkit.declarations.limits import APP_DATETIME_MS
from toolkit.declarations.spec import LIST_KINDS, Field, Junction, Kind, ModelSpec
from toolkit.documents.dates import iso_date
from toolkit.reports.words import counted
from toolkit.stages.verify.compare import json_shape, pg_value, type_issue
from toolkit.stages.verify.failures import Failures
from toolkit.target.schema import COLUMNS_SQL, catalog_precision, catalog_type, literal, quote


def with_precision(type_: str, precision: str | None) -> str:
    return type_ if precision is None else f"{type_} ({precision})"


def declared_type(f: Field) -> str:
    return with_precision(catalog_type(f), catalog_precision(f))


def live_columns(conn) -> dict[str, dict[str, str]]:
    columns: dict[str, dict[str, str]] = {}
    for table, column, type_, _array, _default, _nullable, precision in conn.execute(COLUMNS_SQL).fetchall():
        columns.setdefault(table, {})[column] = with_precision(type_, precision)
    return columns


JSON_TYPES = ("object", "array", "string", "number", "boolean", "null")


def measures(f: Field, enums: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, pl.Expr]]:
    """Whole-column profile: measure -> (PostgreSQL aggregate, the same over the expected rows)."""
    c, e = quote(f.name), pl.col(f.name)
    out = {"nulls": (f"count(*) - count({c})", e.null_count())}
    if f.kind is Kind.TEXT:
        out |= {
            "sum_length": (f"sum(length({c}))", e.str.len_chars().sum()),
            "max_length": (f"max(length({c}))", e.str.len_chars().max()),
        }
    elif f.kind is Kind.ENUM:
        out |= {
            f"count_{label}": (f"count(*) FILTER (WHERE {c}::text = {literal(label)})", (e == label).sum())
            for label in enums[f.enum_name]
        }
    elif f.kind is Kind.INT:
        out |= {"sum": (f"sum({c})", e.sum()), "min": (f"min({c})", e.min()), "max": (f"max({c})", e.max())}
    elif f.kind is Kind.BOOL:
        out |= {"true": (f"count(*) FILTER (WHERE {c})", e.sum())}
    elif f.kind is Kind.DATETIME:
        ms = pg_value(f)
        out |= {
            "min_ms": (f"min({ms})", e.min()),
            "max_ms": (f"max({ms})", e.max()),
            "sum_ms": (f"sum({ms})", e.cast(pl.Int128).sum()),
        }
    elif f.kind in LIST_KINDS:
        out |= {"elements": (f"sum(cardinality({c}))", e.list.len().sum())}
    elif f.kind is Kind.JSON:
        shape = e.map_elements(json_shape, return_dtype=pl.Struct({"type": pl.String, "size": pl.Int64}))
        out |= {
            f"count_{t}": (
                f"count(*) FILTER (WHERE jsonb_typeof({c}) = '{t}')",
                (shape.struct.field("type") == t).sum(),
            )
            for t in JSON_TYPES
        }
        out["sum_size"] = (
            f"sum(CASE jsonb_typeof({c}) WHEN 'array' THEN jsonb_array_length({c}) "
            f"WHEN 'object' THEN (SELECT count(*) FROM jsonb_object_keys({c})) ELSE 0 END)",
            shape.struct.field("size").sum(),
        )
    return out


def _number(value) -> int | None:
    return None if value is None else int(value)


def profile(
    conn,
    model: ModelSpec,
    rows: pl.LazyFrame,
    enums: dict[str, tuple[str, ...]],
    fails: Failures,
    only_expected: bool = False,
) -> dict:
    """Column profiles of the whole table on both sides; a truncation or shift changes them.
    Returns the source's profile; each measure PostgreSQL does not match is a failure. A table
    that also holds rows the app wrote is profiled over the expected rows' ids only."""
    plan = [
        (f, name, sql, expr) for f in model.fields if f.key != "_id" for name, (sql, expr) in measures(f, enums).items()
    ]
    if not plan:
        return {}
    where, params = (
        (" WHERE id = ANY(%s::uuid[])", [rows.select("id").collect()["id"].to_list()]) if only_expected else ("", None)
    )
    loaded = conn.execute(
        "SELECT " + ", ".join(p[2] for p in plan) + f" FROM {quote(model.table)}{where}", params
    ).fetchone()
    source = rows.select([p[3].alias(str(i)) for i, p in enumerate(plan)]).collect(engine="streaming").row(0)
    out: dict[str, dict] = {}
    sums = ("sum", "sum_length", "sum_ms", "sum_size", "elements")
    for (f, name, _, _), want, got in zip(plan, source, loaded, strict=False):
        want, got = _number(want), _number(got)
        if name in sums or name.startswith(("count_", "nulls", "true")):
            want, got = want or 0, got or 0
        out.setdefault(f.name, {})[name] = want
        if want != got:
            fails.add("types", model.table, f"column profile {name}: source {want}, loaded {got}", field=f.name)
    return out


def column_types(model: ModelSpec, live: dict[str, str] | None, fails: Failures) -> None:
    if live is None:
        fails.add("types", model.table, "table missing in PostgreSQL")
        return
    for f in model.fields:
        found = live.get(f.name)
        if found != declared_type(f):
            fails.add(
                "types",
                model.table,
                f"column has type {found or 'none (missing)'}, declared {declared_type(f)}",
                field=f.name,
            )


def enum_values(conn, model: ModelSpec, enums: dict[str, tuple[str, ...]], fails: Failures) -> None:
    for f in model.fields:
        if f.kind is Kind.ENUM:
            bad = conn.execute(
                f"SELECT {quote(f.name)}::text, count(*) FROM {quote(model.table)} "
                f"WHERE {quote(f.name)}::text <> ALL(%s) GROUP BY 1 ORDER BY 1",
                [list(enums[f.enum_name])],
            ).fetchall()
            for value, count in bad:
                fails.add(
                    "types", model.table, f"{counted(count, 'value')} {value!r} outside enum {f.enum}", field=f.name
                )


def date_values(conn, model: ModelSpec, fails: Failures) -> None:
    """DateTimes the app's client would read as Invalid Date, whatever wrote them."""
    for f in model.fields:
        if f.kind is Kind.DATETIME:
            ms = pg_value(f)
            outside, low, high = conn.execute(
                f"SELECT count(*), min({ms}), max({ms}) FROM {quote(model.table)} WHERE {ms} NOT BETWEEN %s AND %s",
                list(APP_DATETIME_MS),
            ).fetchone()
            if outside:
                fails.add(
                    "types",
                    model.table,
                    f"{counted(outside, 'date')} outside the app's range (from {iso_date(low)} to {iso_date(high)})",
                    field=f.name,
                )


def row_types(model: ModelSpec, differences: pl.DataFrame, fails: Failures) -> None:
    kinds = {f.name: f.kind for f in model.fields}
    for object_id, _, name, expected, actual in differences.iter_rows():
        issue = type_issue(kinds[name], expected, actual)
        if issue:
            fails.add("types", model.table, issue, object_id=object_id, field=name)


def model_types(
    conn,
    model: ModelSpec,
    enums: dict[str, tuple[str, ...]],
    rows: pl.LazyFrame | None,  # the expected rows, scanned; None where every row was compared
    expected: int,  # how many rows are expected
    live: dict[str, str] | None,
    differences: pl.DataFrame | None,
    full: bool,
    loaded: int | None,
    other_rows: int | None,
    fails: Failures,
) -> dict:
    """Declared column types and enum labels; each differing value classified; in sample mode,
    whole-column profiles of the migration's rows stand in for the rows the sample did not reach."""
    column_types(model, live, fails)
    if differences is not None:
        row_types(model, differences, fails)
    if live is None:
        return {}
    model = replace(model, fields=tuple(f for f in model.fields if live.get(f.name) == declared_type(f)))
    enum_values(conn, model, enums, fails)
    date_values(conn, model, fails)
    if full or rows is None:
        return {"profile": "not needed: every value was compared"}
    if loaded != expected:
        return {
            "profile": f"not compared: PostgreSQL holds {loaded} of the migration's rows, {expected} "
            "expected (see counts)"
        }
    return {"profile": profile(conn, model, rows, enums, fails, only_expected=bool(other_rows))}


def junction_types(j: Junction, live: dict[str, str] | None, fails: Failures) -> None:
    if live is None:
        fails.add("types", j.table, "table missing in PostgreSQL")
        return
    for side in (j.left, j.right):
        found = live.get(side.column)
        if found != "uuid":
            fails.add(
                "types", j.table, f"column has type {found or 'none (missing)'}, declared uuid", field=side.column
            )
