"""How a value read from PostgreSQL meets the oracle's: each column read back in the oracle's
spelling, compared type-aware, shown to a reader, and a difference classified.

No database here, and nothing of the transform's: the layers run these, the unit tests check them.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from toolkit.declarations.kinds import KINDS
from toolkit.declarations.spec import LIST_KINDS, Field, Kind, ModelSpec
from toolkit.reports.words import counted
from toolkit.stages.verify.oracle import canonical_json
from toolkit.target.schema import quote

HOUR, QUARTER_HOUR = 3_600_000, 900_000
CONTEXT = 20  # characters shown before the first that differs, in a long value


def pg_value(f: Field) -> str:
    """How PostgreSQL hands a column over: timestamps as epoch ms (years < 1 and > 9999 exist)."""
    return KINDS[f.kind].read.format(quote(f.name))


def pg_select(model: ModelSpec) -> str:
    return ", ".join(f"{pg_value(f)} AS {quote(f.name)}" for f in model.fields) + f" FROM {quote(model.table)}"


def same(kind: Kind, expected, actual) -> bool:
    """Type-aware equality: 1 is not true, '1' is not 1, arrays compare in order."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if kind in LIST_KINDS:
        return (
            isinstance(actual, list) and [type(a) for a in actual] == [type(e) for e in expected] and actual == expected
        )
    return type(expected) is type(actual) and expected == actual


def as_text(kind: Kind, value) -> str | None:
    """A value in the canonical text the full comparison hashes."""
    if value is None:
        return None
    if kind in LIST_KINDS:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if kind is Kind.BOOL:
        return "true" if value else "false"
    return str(value)


def canonical_sql(f: Field, column: str, side: str) -> str:
    """DuckDB: a column as the canonical text both sides share (JSON: the expected side already is)."""
    if f.kind in LIST_KINDS:
        return f"CAST(to_json({column}) AS VARCHAR)"
    if f.kind is Kind.JSON and side == "pg":
        return f"m2pg_canonical_json({column})"
    return f"CAST({column} AS VARCHAR)"


def canonical_arrow(texts: pa.Array) -> pa.Array:
    """`canonical_json` over a column: DuckDB's m2pg_canonical_json, which `canonical_sql` calls."""
    return pa.array([canonical_json(t) for t in texts.to_pylist()], pa.string())


def show(value: str | None, kind: Kind | None = None, width: int = 80, start: int = 0) -> str:
    """A canonical value for a reader: cut when long, timestamps also as a date (any year);
    from its character `start` on, after a `…`, when the beginning is not worth showing."""
    if value is None:
        return "NULL"
    if kind is Kind.DATETIME:
        return f"{value} ms ({np.datetime64(int(value), 'ms')})"
    text = repr(value[start:])
    if len(text) <= width and not start:
        return text
    cut = f"{'…' if start else ''}{text[:width]}{'…' if len(text) > width else ''}"
    return f"{cut} ({counted(len(value), 'character')})"


def difference(kind: Kind, expected: str | None, actual: str | None, width: int = 80) -> str:
    """Two differing values for a reader. Long values that agree on their beginning are both
    shown from a little before the first character where they differ, which is named: cut at
    the same place, they would look alike."""
    start = first = 0
    long = any(value is not None and len(repr(value)) > width for value in (expected, actual))
    if kind is not Kind.DATETIME and long and expected is not None and actual is not None:
        first = next(
            (i for i, (e, a) in enumerate(zip(expected, actual, strict=False)) if e != a),
            min(len(expected), len(actual)),
        )
        start = max(first - CONTEXT, 0) if first > width // 2 else 0
    said = f"expected {show(expected, kind, width, start)}, found {show(actual, kind, width, start)}"
    return f"{said}; they differ from character {first + 1}" if start else said


def json_shape(text: str) -> dict:
    value = json.loads(text)
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    kind = names.get(type(value), "number")
    return {"type": kind, "size": len(value) if kind in ("object", "array") else 0}


def type_issue(kind: Kind, expected: str | None, actual: str | None) -> str | None:
    """What a differing value says about types: a time zone shift, a truncation, a lost element."""
    if expected is None or actual is None:
        return None
    if kind is Kind.DATETIME:
        shift = int(actual) - int(expected)
        if shift % QUARTER_HOUR == 0 and abs(shift) <= 14 * HOUR:
            return f"timestamp shifted by {shift / HOUR:+g} h (a time zone applied?)"
        return f"timestamp {actual} ms instead of {expected} ms"
    if kind in (Kind.TEXT, Kind.ENUM) and len(actual) < len(expected) and expected.startswith(actual):
        return f"text truncated from {len(expected)} to {len(actual)} characters"
    if kind is Kind.INT:
        return f"number {actual} instead of {expected}"
    if kind in LIST_KINDS:
        want, got = json.loads(expected), json.loads(actual)
        if len(want) != len(got):
            return f"array of {counted(len(got), 'element')} instead of {len(want)}"
        if sorted(want, key=str) == sorted(got, key=str):
            return "array order changed"
    if kind is Kind.JSON and json_shape(expected) != json_shape(actual):
        want, got = json_shape(expected), json_shape(actual)
        return f"jsonb {got['type']} of {got['size']} instead of {want['type']} of {want['size']}"
    return None
