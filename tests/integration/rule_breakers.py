"""Documents that break the quarantine rules, built from an app's declarations alone: for every
model a few valid documents, on the edges the rules must let through, and for every (model,
field, rule) that can apply one document that breaks exactly that rule, with the field and rule
the quarantine must name. A rule no declaration of the app lets a document break comes back with
why, so that a test says so instead of passing on nothing."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import bson
from bson import DatetimeMS, Int64, ObjectId
from bson.json_util import RELAXED_JSON_OPTIONS, dumps

from toolkit.declarations.app import App
from toolkit.declarations.kinds import KINDS
from toolkit.declarations.spec import Field, Kind, ModelSpec

# The limits, written here apart from toolkit.declarations.limits so that a wrong limit there shows.
INT_RANGE = (-(2**31), 2**31 - 1)
DATE_RANGE_MS = (-62_135_596_800_000, 253_402_300_799_999)  # 0001-01-01 .. 9999-12-31T23:59:59.999Z
INDEX_BYTES = 2_692  # 2,704 bytes an entry, less its 8-byte header and 4-byte length
CYRILLIC = [chr(c) for c in range(0x410, 0x450)]  # two bytes each in UTF-8

VALID = 5
"""Valid documents per model: every field set, upper edges, lower edges, required fields only,
optional fields null (optional references pointing nowhere)."""

NOWHERE = ObjectId("65535fff" + "ff" * 8)
"""An id no document has."""

NUL_KINDS = frozenset({Kind.TEXT, Kind.TEXT_LIST, Kind.JSON})
"""Kinds whose NUL only `nul` names: an Enum label holding NUL is no label, so `enum` names it first."""

TEXT_KINDS = frozenset({Kind.TEXT, Kind.ENUM, Kind.TEXT_LIST, Kind.JSON})
"""Kinds that hold strings, where bytes that are not UTF-8 can hide."""

WRONG_TYPES = ((2, "a string"), (16, 7), (8, True), (3, {"an": "object"}))
"""(BSON type, a value of it): a field gets the first its kind refuses."""

NEEDS = {
    "id_type": "model",
    "type": "field of a kind that refuses some BSON type",
    "required": "required field without a default",
    "enum": "Enum field",
    "int_range": "Int field",
    "timestamp_range": "DateTime field",
    "nul": "String, String[] or Json field",
    "index_size": "indexed String field",
    "unique": "model",
    "reference": "required reference to another model",
    "quarantined_reference": "required reference to another model",
    "bson": "field",
    "utf8": "String, Enum, String[] or Json field",
    "repeated_key": "field",
}
"""Every rule, by what a document needs in order to break it."""


@dataclass(frozen=True)
class Planted:
    """A document that breaks one rule, and how the quarantine must show it."""

    model: str
    field: str
    rule: str
    record: str  # the record's object_id, or its source_id when its _id is no ObjectId
    raw: bytes = field(repr=False)


@dataclass(repr=False)
class Breakers:
    """An app's dump, as the bytes of each collection's file, and what it holds."""

    files: dict[str, bytes] = field(default_factory=dict)  # collection -> its .bson file, valid documents first
    valid: dict[str, list[str]] = field(default_factory=dict)  # collection -> the valid documents' ObjectIds
    planted: list[Planted] = field(default_factory=list)

    def unbroken(self, app: App) -> dict[str, str]:
        """rule -> why no document of this app breaks it."""
        broken = {p.rule for p in self.planted}
        return {rule: f"{app.name} declares no {need}" for rule, need in NEEDS.items() if rule not in broken}


def breakers(app: App) -> Breakers:
    ids = {m.name: [oid(i, n) for n in range(VALID)] for i, m in enumerate(app.models)}
    out, refused = Breakers(), {}
    for i, model in enumerate(app.models):  # in load order: a parent's refused document is known first
        feeds = tuple(f.key for j in app.junctions for f in j.feeds if f.model == model.name)
        valid = [bson.encode(document(app, model, n, ids, feeds)) for n in range(VALID)]
        planted = list(_planted(app, model, i, feeds, ids, refused, valid[0]))
        refused[model.name] = next((p.record for p in planted if p.rule == "type"), None)
        out.files[model.source] = b"".join(valid) + b"".join(p.raw for p in planted)
        out.valid[model.source] = [str(x) for x in ids[model.name]]
        out.planted += planted
    return out


def oid(model: int, n: int) -> ObjectId:
    return ObjectId(f"{1_700_000_000:08x}{model:08x}{n:08x}")


def document(app: App, model: ModelSpec, n: int, ids: dict, feeds: tuple[str, ...]) -> dict:
    """Valid document `n`; its references and junction arrays point at the other models' valid
    document `n % VALID`, and its unique values are its own."""
    doc: dict = {"_id": ids[model.name][n]}
    indexed = _indexed(model)
    for f in model.fields:
        if f.key != "_id":
            doc[f.key] = value(app, f, n, ids)
    for key in feeds:
        other = next(j.side_of(model.name)[1].model for j in app.junctions for fd in j.feeds if fd.key == key)
        doc[key] = [ids[other][n % VALID]]
    for f in model.fields:
        if f.key == "_id":
            continue
        if n == 1:  # upper edges
            doc[f.key] = _upper(f, indexed.get(f.name), n, doc[f.key], app)
        elif n == 2:  # lower edges
            doc[f.key] = {Kind.INT: Int64(INT_RANGE[0]), Kind.DATETIME: DatetimeMS(DATE_RANGE_MS[0])}.get(
                f.kind, doc[f.key]
            )
        elif n == 3 and not f.required:  # required fields only
            del doc[f.key]
        elif n == 4 and not f.required:  # optional ones null, optional references dangling
            doc[f.key] = NOWHERE if f.references else None
    if n == 3:
        for key in feeds:
            del doc[key]
    return doc


def value(app: App, f: Field, n: int, ids: dict) -> object:
    target = f.references.model if f.references else f.points_to
    if f.kind is Kind.OBJECT_ID:
        return ids[target][n % VALID] if target else oid(0xFFFF, n)
    if f.kind is Kind.UUID_LIST:
        return [ids[target][n % VALID]] if target else []
    if f.kind is Kind.ENUM:
        labels = app.enums[f.enum_name]
        return labels[n % len(labels)]
    return {
        Kind.TEXT: f"{f.name} {n}",
        Kind.INT: n,
        Kind.BOOL: n % 2 == 0,
        Kind.DATETIME: datetime(2024, 5, 6, 7, 8, 9, 123000) + timedelta(minutes=n),
        Kind.JSON: {"n": n, "nested": [1, "two", {"three": None}]},
        Kind.TEXT_LIST: [f"{f.name} {n}", "é"],
    }[f.kind]


def _upper(f: Field, longest: int | None, n: int, current: object, app: App) -> object:
    if f.kind is Kind.INT:
        return Int64(INT_RANGE[1])
    if f.kind is Kind.DATETIME:
        return DatetimeMS(DATE_RANGE_MS[1])
    if f.kind is Kind.ENUM:
        return app.enums[f.enum_name][-1]
    if f.kind is Kind.TEXT:  # indexed: as long as an index entry holds; else far longer
        return _text(n, longest or 4 * INDEX_BYTES)
    return current


def _text(n: int, size: int) -> str:
    """A text of exactly `size` bytes and about half as many characters, unique by `n`, that
    does not compress (PostgreSQL would fit a compressible one into an index entry)."""
    head = f"{n:04d}"
    letters = random.Random(n).choices(CYRILLIC, k=(size - len(head)) // 2)
    return head + "".join(letters) + "x" * ((size - len(head)) % 2)


BESIDE = {Kind.OBJECT_ID: 16, Kind.INT: 4 + 3, Kind.BOOL: 1, Kind.DATETIME: 8 + 7, Kind.ENUM: 4 + 3}
"""The most bytes of an index entry a value of another column takes, its alignment included."""


def _indexed(model: ModelSpec) -> dict[str, int]:
    """Each indexed column -> the longest text sure to fit its index entries: INDEX_BYTES in an
    index of its own; beside other columns, less their widest values and a NULL bitmap's 8 bytes
    (a bound on the safe side: the upper edges load, whatever the exact layout)."""
    kinds = {f.name: f.kind for f in model.fields}
    indexes = [*model.indexes, *((f.name,) for f in model.fields if f.unique)]
    longest: dict[str, int] = {}
    for index in indexes:
        for column in index:
            beside = sum(BESIDE.get(kinds[c], 0) for c in index if c != column)
            fits = INDEX_BYTES - (8 + beside if len(index) > 1 else 0)
            longest[column] = min(longest.get(column, fits), fits)
    return longest


def _planted(
    app: App, model: ModelSpec, number: int, feeds: tuple[str, ...], ids: dict, refused: dict, first: bytes
) -> Iterator[Planted]:
    """Every document of model `number` that breaks one rule: valid document 0 with one change,
    its own ObjectId and unique values; `refused` holds a refused document of each earlier model,
    `first` is the bytes of the model's valid document 0. Junction arrays (`feeds`) count as fields."""
    serials = itertools.count(VALID)
    indexed = _indexed(model)
    fields = [f for f in model.fields if f.key != "_id"] + [Field(key, Kind.UUID_LIST) for key in feeds]

    def base() -> dict:
        n = next(serials)
        doc = document(app, model, 0, ids, feeds) | {"_id": oid(number, n)}
        for f in model.fields:  # unique values of its own
            if f.unique and f.key != "_id":
                doc[f.key] = value(app, f, n, ids)
        return doc

    def plant(name: str, rule: str, doc: dict, element: bytes = b"") -> Planted:
        raw = _appended(bson.encode(doc), element) if element else bson.encode(doc)
        record = (
            str(doc["_id"])
            if isinstance(doc["_id"], ObjectId)
            else dumps(doc["_id"], json_options=RELAXED_JSON_OPTIONS)
        )
        return Planted(model.name, name, rule, record, raw)

    yield plant("_id", "id_type", base() | {"_id": f"no ObjectId in {model.name}"})
    yield plant("_id", "unique", base() | {"_id": ids[model.name][0]})  # its unique values its own
    for f in fields:
        wrong = next((v for t, v in WRONG_TYPES if t not in KINDS[f.kind].bson), None)
        if wrong is not None:
            yield plant(f.name, "type", base() | {f.key: wrong})
        if f.required:
            doc = base()
            del doc[f.key]
            yield plant(f.name, "required", doc)
        if f.kind is Kind.ENUM:
            yield plant(f.name, "enum", base() | {f.key: "NOT_A_LABEL"})
        if f.kind is Kind.INT:
            for beyond in (INT_RANGE[0] - 1, INT_RANGE[1] + 1):
                yield plant(f.name, "int_range", base() | {f.key: Int64(beyond)})
        if f.kind is Kind.DATETIME:
            for beyond in (DATE_RANGE_MS[0] - 1, DATE_RANGE_MS[1] + 1):
                yield plant(f.name, "timestamp_range", base() | {f.key: DatetimeMS(beyond)})
        if f.kind in NUL_KINDS:
            nul = {Kind.TEXT: "a\x00b", Kind.TEXT_LIST: ["ok", "a\x00b"], Kind.JSON: {"k": ["a\x00b"]}}[f.kind]
            yield plant(f.name, "nul", base() | {f.key: nul})
        if f.kind is Kind.TEXT and f.name in indexed:  # 2,694 bytes in 1,347 characters
            yield plant(f.name, "index_size", base() | {f.key: "é" * (INDEX_BYTES // 2 + 1)})
        if f.unique:
            yield plant(f.name, "unique", base() | {f.key: bson.decode(first)[f.key]})
        if f.references and f.required and f.references.model != model.name:
            yield plant(f.name, "reference", base() | {f.key: NOWHERE})
            parent = refused.get(f.references.model)
            if parent:
                yield plant(f.name, "quarantined_reference", base() | {f.key: ObjectId(parent)})
        doc = base()
        present = doc.pop(f.key, None)
        element = bson.encode({f.key: present})[4:-1]
        yield plant(f.key, "bson", doc, b"\x42" + element[1:])  # 0x42: no BSON type
        doc = base()
        yield plant(f.name, "repeated_key", doc, bson.encode({f.key: doc.get(f.key)})[4:-1])  # the key again
        if f.kind in TEXT_KINDS:
            marked = {Kind.TEXT_LIST: ["UTF8MARK"], Kind.JSON: {"k": "UTF8MARK"}}.get(f.kind, "UTF8MARK")
            doc = base()
            doc.pop(f.key, None)
            element = bson.encode({f.key: marked})[4:-1].replace(b"UTF8MARK", b"UTF8MAR\xff")
            yield plant(f.key, "utf8", doc, element)


def _appended(raw: bytes, element: bytes) -> bytes:
    """The document with one more element at its end, its length fixed."""
    body = raw[4:-1] + element
    return (len(body) + 5).to_bytes(4, "little") + body + b"\x00"
