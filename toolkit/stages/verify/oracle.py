"""The oracle: the value a source document's field must have become, from the declarations alone.

Deliberately apart from the transform's code (toolkit/stages/transform*): each kind is converted
again here, one plain Python value at a time, so a mistake there is not repeated here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from decimal import Decimal

from bson import ObjectId
from bson.datetime_ms import DatetimeMS
from bson.json_util import RELAXED_JSON_OPTIONS, dumps

from toolkit.declarations.limits import APP_DATETIME_MS, INT32
from toolkit.declarations.spec import LIST_KINDS, NOW, Field, Kind
from toolkit.documents.dates import iso_date
from toolkit.documents.ids import uuid_for


class Unloadable(Exception):
    """A value no row can hold: its document should have been quarantined."""


def canonical_json(text: str | None) -> str | None:
    """One spelling per JSON value: keys sorted, no spaces, numbers by value (jsonb's equality)."""
    if text is None:
        return None
    return _canonical(json.loads(text, parse_float=Decimal, parse_int=Decimal))


def _canonical(value) -> str:
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_canonical(v)}" for k, v in sorted(value.items()))
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(map(_canonical, value)) + "]"
    if isinstance(value, Decimal):
        return "0" if value == 0 else str(value.normalize())
    return json.dumps(value, ensure_ascii=False)


def _checked(ok, convert):
    def apply(value):
        if not ok(value):
            raise Unloadable(f"a BSON {type(value).__name__}")
        return convert(value)

    return apply


def _instance(kind: type, convert=None):
    """`_checked` for a check that is one isinstance, done inline (most values are of these
    kinds); without `convert` the value is its own (a str or a bool)."""

    def apply(value):
        if not isinstance(value, kind):
            raise Unloadable(f"a BSON {type(value).__name__}")
        return convert(value) if convert else value

    return apply


def _int(value) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise Unloadable(f"the fraction {value}")
    number = int(value)
    if not INT32[0] <= number <= INT32[1]:
        raise Unloadable(f"{number}, outside integer")
    return number


def _millis(value: DatetimeMS) -> int:
    ms = int(value)
    if not APP_DATETIME_MS[0] <= ms <= APP_DATETIME_MS[1]:
        raise Unloadable(f"{iso_date(ms)}, outside the dates the app's client reads")
    return ms


def _is_int(value) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value == value and abs(value) != float("inf")
    )


def _all(kind: type):
    return lambda v: isinstance(v, list) and all(x is None or isinstance(x, kind) for x in v)


CONVERT = {
    Kind.OBJECT_ID: _instance(ObjectId, str),  # hex; a UUID once resolved
    Kind.TEXT: _instance(str),
    Kind.ENUM: _instance(str),
    Kind.INT: _checked(_is_int, _int),
    Kind.BOOL: _instance(bool),
    Kind.DATETIME: _instance(DatetimeMS, _millis),
    Kind.JSON: lambda v: canonical_json(dumps(v, json_options=RELAXED_JSON_OPTIONS)),
    Kind.TEXT_LIST: _checked(_all(str), list),
    Kind.UUID_LIST: _checked(
        lambda v: isinstance(v, list) and all(isinstance(x, ObjectId) for x in v),
        lambda v: [uuid_for(str(x)) for x in v],
    ),  # a null element: the app reads ids only
}


def expected_value(f: Field, document: dict, object_id: str):
    """The declared field's value as loaded: defaults, NULLs and empty lists as the README says."""
    return field_reader(f)(document, object_id)


def field_reader(f: Field) -> Callable[[dict, str], object]:
    """`expected_value` for one field, its declaration read once: a collection reads each field of
    every document, and asking the declaration each time costs more than the value."""
    key, convert, absent = _reading(f)
    label = f"{f.name}: {f.kind} field holds"

    def read(document: dict, object_id: str):
        value = document.get(key)
        if value is None:
            return absent(object_id)
        try:
            return convert(value)
        except Unloadable as why:
            raise Unloadable(f"{label} {why}") from None

    return read


def row_reader(fields: Sequence[Field]) -> Callable[[dict, str], list]:
    """`expected_value` of every field, for one document at a time: one comprehension per row
    (the collection's hot loop); a value no row can hold is named by reading field by field."""
    readings = [_reading(f) for f in fields]

    def read(document: dict, object_id: str) -> list:
        get = document.get
        try:
            return [absent(object_id) if (v := get(key)) is None else convert(v) for key, convert, absent in readings]
        except Unloadable:
            return [field_reader(f)(document, object_id) for f in fields]  # raises, naming the field

    return read


def _reading(f: Field) -> tuple[str | None, Callable, Callable[[str], object]]:
    """(the key to read, how its value converts, the value when it is missing or null). The row's
    id is read under the key None, which no document holds: it is always made from the ObjectId."""
    return (None, str, uuid_for) if f.key == "_id" else (f.key, CONVERT[f.kind], _absent(f))


def _absent(f: Field) -> Callable[[str], object]:
    """The value of a missing or null field: an empty list, NULL, the creation time or the default."""
    if f.kind in LIST_KINDS:
        return lambda object_id: []
    if f.optional or f.default is None:
        return lambda object_id: None
    if f.default == NOW:
        return lambda object_id: int(object_id[:8], 16) * 1000
    default = f.default
    return lambda object_id: default
