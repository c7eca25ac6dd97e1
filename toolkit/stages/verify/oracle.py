"""The oracle: the value a source document's field must have become, from the declarations alone.

Deliberately apart from the transform's code (toolkit/stages/transform*): each kind is converted
again here, one plain Python value at a time, so a mistake there is not repeated here.
"""

from __future__ import annotations

import json
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
    Kind.OBJECT_ID: _checked(lambda v: isinstance(v, ObjectId), str),  # hex; a UUID once resolved
    Kind.TEXT: _checked(lambda v: isinstance(v, str), str),
    Kind.ENUM: _checked(lambda v: isinstance(v, str), str),
    Kind.INT: _checked(_is_int, _int),
    Kind.BOOL: _checked(lambda v: isinstance(v, bool), bool),
    Kind.DATETIME: _checked(lambda v: isinstance(v, DatetimeMS), _millis),
    Kind.JSON: lambda v: canonical_json(dumps(v, json_options=RELAXED_JSON_OPTIONS)),
    Kind.TEXT_LIST: _checked(_all(str), list),
    Kind.UUID_LIST: _checked(
        lambda v: isinstance(v, list) and all(isinstance(x, ObjectId) for x in v),
        lambda v: [uuid_for(str(x)) for x in v],
    ),  # a null element: the app reads ids only
}


def expected_value(f: Field, document: dict, object_id: str):
    """The declared field's value as loaded: defaults, NULLs and empty lists as the README says."""
    if f.key == "_id":
        return uuid_for(object_id)
    value = document.get(f.key)
    if value is None:
        if f.kind in LIST_KINDS:
            return []
        if f.optional or f.default is None:
            return None
        return int(object_id[:8], 16) * 1000 if f.default == NOW else f.default
    try:
        return CONVERT[f.kind](value)
    except Unloadable as why:
        raise Unloadable(f"{f.name}: {f.kind} field holds {why}") from None
