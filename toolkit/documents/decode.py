"""One chunk of raw BSON -> one typed Arrow table, with every type problem named.

pymongoarrow does the conversion; the BSON index checks each stored type first, so a value
that pymongoarrow would truncate, blank or choke on is caught and reported instead, and only
the documents at fault leave the vectorised path.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from bson import Binary, Code, decode_all
from bson import decode as bson_decode
from bson.codec_options import CodecOptions, DatetimeConversion, TypeDecoder, TypeRegistry
from bson.errors import InvalidBSON
from bson.json_util import RELAXED_JSON_OPTIONS, dumps
from pymongoarrow.api import Schema
from pymongoarrow.context import PyMongoArrowContext

from toolkit.declarations.kinds import KINDS
from toolkit.declarations.spec import Field, Kind, ModelSpec
from toolkit.documents import index as bt
from toolkit.stages.rules import NO_PROBLEMS, per_row

CODEC: CodecOptions[dict[str, Any]] = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO)


class Script:
    """JavaScript code (BSON types 13 and 15) in a Json value. bson's `Code` is a `str`, which
    the standard library's encoder would write as a plain string, dropping what it is and its
    scope; this is not one, so the value takes the extended JSON encoder."""

    __slots__ = ("code",)

    def __init__(self, code: Code) -> None:
        self.code = code


class _Scripts(TypeDecoder):
    bson_type = Code

    def transform_bson(self, value: Code) -> Script:
        return Script(value)


JSON_CODEC: CodecOptions[dict[str, Any]] = CODEC.with_options(type_registry=TypeRegistry([_Scripts()]))


def _unrepeated(codec: CodecOptions) -> tuple[CodecOptions, list[str]]:
    """`codec` decoding objects that refuse a key they hold already, and the list that names it:
    a plain dict keeps the last of a repeated key's values without a word. The refusal is a
    KeyError, which `decode_all` wraps in InvalidBSON: the list tells a repeat from other failures."""
    repeated: list[str] = []

    class Unrepeated(dict):
        def __setitem__(self, key, value):
            if key in self:
                repeated.append(key)
                raise KeyError(key)
            dict.__setitem__(self, key, value)

    return codec.with_options(document_class=Unrepeated), repeated


_EMPTY = {bt.NULL, bt.UNDEFINED}  # a missing value, allowed in any field
MALFORMED = ("bson", "utf8")  # the rules of bytes that are no well-formed BSON document
KEPT_AS_BYTES = (*MALFORMED, "repeated_key")  # a record holding its document's exact bytes


def columns(model: ModelSpec, feeds: tuple[str, ...] = ()) -> dict[str, Field]:
    """MongoDB key -> declared field, for every key extract converts (not `_id`)."""
    keyed = {f.key: f for f in model.fields if f.key != "_id"}
    keyed.update({key: Field(key, Kind.UUID_LIST) for key in feeds})
    return keyed


def decode_chunk(
    buffer: bytes, model: ModelSpec, feeds: tuple[str, ...] = (), offsets: np.ndarray | None = None
) -> pa.Table:
    """Every document of the chunk becomes one row, in order; none is dropped. A document the
    strict walk refuses keeps only its bytes, its `_id` when readable and the defect, located by
    `offsets` (each document's offset in the file it was read from) when given."""
    fields = columns(model, feeds)
    keys = ["_id", *fields]  # an element's `field` is its key's position here
    ix = bt.index(buffer, keys)
    n = len(ix)
    malformed = np.flatnonzero(ix.defects != bt.WELL_FORMED)
    elements = ix.elements.filter(pl.col("first"))  # a key repeated in a document counts once
    if len(malformed):  # of a malformed document, only its _id is read
        elements = elements.filter(~pl.col("doc").is_in(malformed) | (pl.col("field") == 0))
    object_ids = _object_ids(ix, elements)
    problems = pl.concat(
        [
            _malformed(ix, malformed, offsets),
            _missing_ids(elements, malformed, n),
            _repeated_keys(ix, malformed, ["_id", *(f.name for f in fields.values())]),
            _type_problems(elements, fields),
            _double_problems(ix, elements, fields),
        ]
    )
    good = np.setdiff1d(np.arange(n), problems["doc"].to_numpy())
    typed, failed = _convert(ix, good, fields, feeds)
    kept = np.setdiff1d(good, failed["doc"].to_numpy())
    problems = pl.concat([problems, failed, _null_elements(typed, kept, model)])
    converted = np.full(n, -1, dtype=np.int64)
    converted[kept] = np.arange(len(kept))
    rows = pa.array(np.where(converted >= 0, converted, 0), mask=converted < 0)
    table = typed.take(rows) if typed.num_columns else pa.table({})
    out = {
        "m2pg_object_id": object_ids.to_arrow(),
        "m2pg_source_id": _source_ids(ix, elements, object_ids).to_arrow(),
        "m2pg_document": _documents(ix),
        "m2pg_problems": None,  # once the Json values are read: an object in one may repeat a key
        "m2pg_unknown_fields": _unknown(elements, n).to_arrow(),
    }
    for key, field in fields.items():
        if _as_json(field):
            values, repeats = _json_values(ix, elements, keys.index(key), field.name, exclude=problems["doc"])
            out[key], problems = values.to_arrow(), pl.concat([problems, repeats])
        else:
            out[key] = _plain(table.column(key) if key in table.column_names else None, field, n)
    out["m2pg_problems"] = _per_doc(problems, n, ["field", "rule", "reason"]).to_arrow()
    return pa.table(out)


def _documents(ix: bt.BsonIndex) -> pa.Array:
    """Each original document's bytes, sliced from the chunk without copying per row."""
    offsets = np.append(ix.starts, ix.ends[-1] if len(ix) else 0).astype(np.int64)
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(ix), [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(ix.buffer)]
    )


def _object_ids(ix: bt.BsonIndex, elements: pl.DataFrame) -> pl.Series:
    ids = elements.filter((pl.col("field") == 0) & (pl.col("type") == bt.OBJECT_ID))
    raw = ix.gather(ids["value"].to_numpy(), 12)
    hexes = _series(
        pa.FixedSizeBinaryArray.from_buffers(pa.binary(12), len(raw), [None, pa.py_buffer(raw.tobytes())]).cast(
            pa.binary()
        )
    ).bin.encode("hex")
    found = pl.DataFrame({"doc": ids["doc"], "oid": hexes})
    return per_row(found, "doc", "oid", len(ix)).alias("m2pg_object_id")


def _source_ids(ix: bt.BsonIndex, elements: pl.DataFrame, object_ids: pl.Series) -> pl.Series:
    """The `_id` as relaxed extended JSON; only ids that are not ObjectIds need decoding, and only
    the `_id` value of their document is decoded (null when it has none)."""
    text = pl.select(pl.format('{{"$oid": "{}"}}', pl.lit(object_ids))).to_series()
    odd = elements.filter((pl.col("field") == 0) & pl.col("doc").is_in(object_ids.is_null().arg_true().implode()))
    if odd.height:
        wrapped = bt.values_as_documents(ix.buffer, odd["type"].to_numpy(), odd["value"].to_numpy())
        ids = [dumps(d["v"], json_options=RELAXED_JSON_OPTIONS) for d in decode_all(wrapped, CODEC)]
        text = text.scatter(odd["doc"].to_numpy().astype(np.int64), pl.Series(ids, dtype=pl.String))
    return text.alias("m2pg_source_id")


def _malformed(ix: bt.BsonIndex, malformed: np.ndarray, offsets: np.ndarray | None) -> pl.DataFrame:
    """A problem for each document the strict walk refuses: rule `bson` (`utf8` for text that is
    not UTF-8), the defect and where the document's bytes lie."""
    found = []
    codes = ix.strict_walk()[0]
    for i in malformed.tolist():
        key, defect = bt.describe_defect(ix, i)
        size = int(ix.ends[i] - ix.starts[i])
        where = (
            f"bytes {offsets[i]} to {offsets[i] + size} of the file ({size} bytes)"
            if offsets is not None
            else f"a document of {size} bytes"
        )
        found.append(
            (i, key, bt.defect_rule(int(codes[i])), f"{where}: {defect}" + (f" (in field {key})" if key else ""))
        )
    return _problem_frame(found)


def _missing_ids(elements: pl.DataFrame, malformed: np.ndarray, n: int) -> pl.DataFrame:
    """Well-formed documents with no `_id` at all."""
    with_id = elements.filter(pl.col("field") == 0)["doc"].to_numpy()
    missing = np.setdiff1d(np.arange(n), np.union1d(with_id, malformed))
    return _problem_frame([(i, "_id", "id_type", "document has no _id") for i in missing.tolist()])


def _repeated_keys(ix: bt.BsonIndex, malformed: np.ndarray, names: list[str]) -> pl.DataFrame:
    """Well-formed documents in which a top-level key appears more than once: BSON allows it, but
    which value counts is left undefined (drivers keep one or the other), so none is chosen."""
    elements = ix.elements.filter(~pl.col("doc").is_in(pl.Series(malformed).implode()))
    known = pl.col("field") >= 0  # the index marks the repeats of these; of the others (few), their text tells
    unknown = elements.filter(~known)
    again = pl.concat(
        [elements.filter(known & ~pl.col("first")), unknown.filter(~pl.struct("doc", "key").is_first_distinct())]
    )
    again = again.sort("doc", maintain_order=True).unique(subset=["doc"], keep="first", maintain_order=True)
    found = []
    for doc, key, position in again.select("doc", "key", "field").iter_rows():
        name = names[position] if position >= 0 else key
        found.append((doc, name, "repeated_key", f"{name}: the key appears more than once in the document"))
    return _problem_frame(found)


_HOLDS = {
    Kind.UUID_LIST: "an ObjectId[] field holds ObjectIds only",
    Kind.TEXT_LIST: "a String[] field holds strings only",
}


def _null_elements(typed: pa.Table, kept: np.ndarray, model: ModelSpec) -> pl.DataFrame:
    """A null inside a declared list: a uuid[] or text[] could store it, but the app's client
    reads the column as a list of ids or strings, which cannot hold a null (it fails the whole
    query). A junction's array skips and counts it."""
    found = []
    for f in model.fields:
        if f.kind in _HOLDS and f.key in typed.column_names:
            nulls = _series(_plain(typed.column(f.key), f, typed.num_rows)).list.eval(pl.element().is_null())
            hit = nulls.list.any().fill_null(False)
            rows, places = np.flatnonzero(hit.to_numpy()).tolist(), nulls.filter(hit).list.arg_max().to_list()
            for row, at in zip(rows, places, strict=False):
                found.append(
                    (
                        int(kept[row]),
                        f.name,
                        "type",
                        f"{f.name}: element {at} is null; {_HOLDS[f.kind]}",
                    )
                )
    return _problem_frame(found)


def _allowed(fields: dict[str, Field]) -> np.ndarray:
    """By field position (0 is `_id`, never checked here) and BSON type: whether it may be stored."""
    allowed = np.ones((len(fields) + 1, 256), dtype=bool)
    for position, field in enumerate(fields.values(), start=1):
        allowed[position] = False
        allowed[position, list(KINDS[field.kind].bson | _EMPTY)] = True
    return allowed


def _type_problems(elements: pl.DataFrame, fields: dict[str, Field]) -> pl.DataFrame:
    position, kind = elements["field"].to_numpy(), elements["type"].to_numpy()
    wrong = elements.filter(pl.Series((position > 0) & ~_allowed(fields)[np.maximum(position, 0), kind]))
    declared = list(fields.values())
    names = pl.Series([declared[p - 1].name for p in wrong["field"].to_list()], dtype=pl.String)
    kinds = pl.Series([str(declared[p - 1].kind) for p in wrong["field"].to_list()], dtype=pl.String)
    found = pl.Series([bt.TYPE_NAMES.get(t, f"type {t}") for t in wrong["type"].to_list()], dtype=pl.String)
    return pl.DataFrame(
        {
            "doc": wrong["doc"],
            "field": names,
            "rule": pl.Series(["type"] * wrong.height, dtype=pl.String),
            "reason": pl.select(
                pl.format(
                    "{}: expected {} but the document holds a BSON {}", pl.lit(names), pl.lit(kinds), pl.lit(found)
                )
            ).to_series(),
        }
    )


def _double_problems(ix: bt.BsonIndex, elements: pl.DataFrame, fields: dict[str, Field]) -> pl.DataFrame:
    """Doubles in Int fields: 75.0 and -0.0 convert; 3.5, NaN and 1e300 do not."""
    ints = {position: f.name for position, f in enumerate(fields.values(), start=1) if f.kind is Kind.INT}
    found = elements.filter(pl.col("field").is_in(list(ints)) & (pl.col("type") == bt.DOUBLE))
    values = ix.gather(found["value"].to_numpy(), 8).copy().view("<f8").ravel() if found.height else np.empty(0)
    found = found.with_columns(number=pl.Series(values, dtype=pl.Float64))
    whole = pl.col("number").is_finite() & (pl.col("number") == pl.col("number").floor())
    fits = pl.col("number").abs() < 2.0**63
    name = pl.col("field").replace_strict(ints, return_dtype=pl.String) if ints else pl.lit(None, pl.String)
    return found.filter(~whole | ~fits).select(
        "doc",
        name.alias("field"),
        pl.when(whole).then(pl.lit("int_range")).otherwise(pl.lit("type")).alias("rule"),
        pl.when(whole)
        .then(pl.format("{}: {} is outside the PostgreSQL integer range", name, pl.col("number")))
        .otherwise(pl.format("{}: {} is not a whole number, an Int field needs one", name, pl.col("number")))
        .alias("reason"),
    )


def _as_json(field: Field) -> bool:
    """A kind pymongoarrow does not convert is staged as relaxed extended JSON text."""
    return KINDS[field.kind].arrow is None


def _schema(fields: dict[str, Field]) -> Schema:
    return Schema({k: KINDS[f.kind].arrow for k, f in fields.items() if not _as_json(f)})


def _run(buffer: bytes, schema: Schema) -> pa.Table:
    context = PyMongoArrowContext(schema)
    context.process_bson_stream(buffer)
    return context.finish()


def _convert(
    ix: bt.BsonIndex, rows: np.ndarray, fields: dict[str, Field], feeds: tuple[str, ...] = ()
) -> tuple[pa.Table, pl.DataFrame]:
    """Convert the chosen documents; bisect to isolate any that pymongoarrow still rejects (one
    holding undefined, which it refuses, is converted with nulls there)."""
    failed: list[tuple[int, str, str, str]] = []
    if all(_as_json(f) for f in fields.values()):  # nothing for pymongoarrow to convert
        return pa.table({}), _problem_frame(failed)
    schema = _schema(fields)
    tables, todo = [], [rows]  # a stack, not a recursive closure: that would be a reference
    while todo:  # cycle keeping every chunk's buffers alive until a full GC
        part = todo.pop()
        if not len(part):
            continue
        try:
            tables.append(_run(ix.documents(part), schema))
        except (TypeError, OverflowError, ValueError) as error:
            if len(part) == 1:
                nulled = _undefined_as_null(ix.document(int(part[0])), feeds)
                if nulled is not None:
                    try:
                        tables.append(_run(nulled, schema))
                        continue
                    except (TypeError, OverflowError, ValueError):
                        pass
                name, reason = _diagnose(ix.document(int(part[0])), fields, error)
                failed.append((int(part[0]), name, "type", reason))
                continue
            middle = len(part) // 2
            todo += [part[middle:], part[:middle]]  # the first half is popped first: order kept
    table = pa.concat_tables(tables) if tables else _run(b"", schema)
    return table, _problem_frame(failed)


def _undefined_as_null(document: bytes, feeds: tuple[str, ...]) -> bytes | None:
    """The document with each undefined element (BSON's deprecated null, which pymongoarrow
    refuses) made a null: of a top-level field, a missing value as a null is (`_EMPTY`); of a
    junction array, one that names no pair, so it is skipped and counted as one (`element_null`).
    None when it holds none. Both have no value bytes: only the type byte changes."""
    elements = bt.index(document, feeds).elements
    out = bytearray(document)
    _nulled(out, 0, elements.filter(pl.col("type") == bt.UNDEFINED))
    for start in elements.filter((pl.col("field") >= 0) & (pl.col("type") == bt.ARRAY))["value"].to_list():
        items = bt.index(document[start : start + int.from_bytes(document[start : start + 4], "little")])
        _nulled(out, start, items.elements.filter(pl.col("type") == bt.UNDEFINED))
    return bytes(out) if out != document else None


def _nulled(out: bytearray, start: int, undefined: pl.DataFrame) -> None:
    """Each element's type byte, which precedes its key and the key's terminating zero, set to null."""
    for key, value in undefined.select("key", "value").iter_rows():
        out[start + value - len(key.encode()) - 2] = bt.NULL


def _diagnose(document: bytes, fields: dict[str, Field], error: Exception) -> tuple[str, str]:
    """Name the field of a single document that pymongoarrow rejects."""
    for key, field in fields.items():
        if _as_json(field):
            continue
        try:
            _run(document, Schema({key: KINDS[field.kind].arrow}))
        except (TypeError, OverflowError, ValueError) as cause:
            return field.name, f"{field.name}: {field.kind} field holds a value of another type ({cause})"
    return "", f"the document could not be converted ({error})"


def _problem_frame(found: list[tuple[int, str, str, str]]) -> pl.DataFrame:
    """Problems as rows: (doc, field, rule, reason)."""
    return pl.DataFrame(
        found,
        schema={"doc": pl.UInt32, "field": pl.String, "rule": pl.String, "reason": pl.String},
        orient="row",
    )


def _per_doc(frame: pl.DataFrame, n: int, names: list[str]) -> pl.Series:
    grouped = frame.group_by("doc", maintain_order=True).agg(pl.struct(names).alias("items"))
    return per_row(grouped, "doc", "items", n, NO_PROBLEMS)


def _unknown(elements: pl.DataFrame, n: int) -> pl.Series:
    extra = elements.filter(pl.col("field") < 0).unique(subset=["doc", "key"], keep="first", maintain_order=True)
    grouped = extra.group_by("doc", maintain_order=True).agg(pl.col("key").alias("keys"))
    return per_row(grouped, "doc", "keys", n, pl.lit([], dtype=pl.List(pl.String))).alias("m2pg_unknown_fields")


def _json_values(
    ix: bt.BsonIndex, elements: pl.DataFrame, position: int, name: str, exclude: pl.Series
) -> tuple[pl.Series, pl.DataFrame]:
    """Json values as relaxed extended JSON, keys kept byte for byte (in sorted order); only the values are decoded.
    With them, the documents in whose value an object repeats a key (rule `repeated_key`: jsonb
    would keep one of the values, so m2pg picks none)."""
    present = elements.filter(
        (pl.col("field") == position) & ~pl.col("type").is_in(list(_EMPTY)) & ~pl.col("doc").is_in(exclude.implode())
    )
    wrapped = bt.values_as_documents(ix.buffer, present["type"].to_numpy(), present["value"].to_numpy())
    codec, repeated = _unrepeated(JSON_CODEC)
    refused: dict[int, str] = {}
    try:
        values = [d["v"] for d in decode_all(wrapped, codec)]
    except (InvalidBSON, KeyError):
        if not repeated:
            raise
        values, refused = _one_at_a_time(wrapped, codec, repeated)
    docs = present["doc"].to_list()
    found = [
        (docs[i], name, "repeated_key", f"{name}: the key {key!r} appears more than once in one of its objects")
        for i, key in refused.items()
    ]
    texts = [None if i in refused else json_text(value) for i, value in enumerate(values)]
    out = pl.Series([None] * len(ix), dtype=pl.String)
    if texts:
        out.scatter(np.asarray(docs, dtype=np.int64), pl.Series(texts, dtype=pl.String))
    return out, _problem_frame(found)


def _one_at_a_time(wrapped: bytes, codec: CodecOptions, repeated: list[str]) -> tuple[list, dict[int, str]]:
    """The wrapped values decoded one by one: their values, and position -> the key repeated in
    it, for those in which an object repeats one (their value None)."""
    values: list = []
    refused: dict[int, str] = {}
    for start, end in zip(*bt.document_bounds(wrapped), strict=True):
        repeated.clear()
        try:
            values.append(bson_decode(wrapped[start:end], codec)["v"])
        except (InvalidBSON, KeyError):
            if not repeated:
                raise
            refused[len(values)] = repeated[0]
            values.append(None)
    return values, refused


def malformed_bytes(table: pa.Table) -> int:
    """Bytes of the chunk's documents the strict walk refused (they go to the quarantine whole)."""
    problems = _series(table.column("m2pg_problems"))
    refused = problems.list.eval(pl.element().struct.field("rule").is_in(MALFORMED)).list.any().fill_null(False)
    if not refused.any():
        return 0
    sizes = pc.binary_length(table.column("m2pg_document")).to_numpy(zero_copy_only=False)
    return int(sizes[refused.to_numpy()].sum())


def document_text(raw: bytes) -> str:
    """A quarantined document as text: relaxed extended JSON; bytes the strict walk refuses (they
    do not decode), or a document in which an object repeats a key, at any depth (decoding keeps
    one of its values), as extended JSON binary holding them exactly."""
    bounds = np.zeros(1, np.int64), np.full(1, len(raw), np.int64)
    codes, _, _ = bt.defects(raw, *bounds)
    codec, repeated = _unrepeated(CODEC)
    try:
        decoded = bson_decode(raw, codec) if codes[0] == bt.WELL_FORMED else None
    except (InvalidBSON, KeyError):
        if not repeated:
            raise
        decoded = None  # a key repeated at any depth: decoding would keep one of its values
    if decoded is None:
        return dumps(Binary(raw), json_options=RELAXED_JSON_OPTIONS)
    return dumps(decoded, json_options=RELAXED_JSON_OPTIONS, ensure_ascii=False)


def json_text(value) -> str:
    """Relaxed extended JSON of a value decoded with `JSON_CODEC`, every object's keys sorted:
    jsonb keeps an object's keys in an order of its own, so a document whose objects only
    reorder their keys loads the same value, and must stage the same text (its row's digest
    unchanged, a catch-up writes nothing). Plain JSON values (the common case) take the standard
    library's encoder, which writes the same text; any other BSON type, NaN or infinity takes the
    extended JSON encoder."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True, default=_not_plain)
    except (TypeError, ValueError):
        return dumps(value, json_options=RELAXED_JSON_OPTIONS, ensure_ascii=False, sort_keys=True, default=_script_json)


def _script_json(value):
    if isinstance(value, Script):
        return json.loads(dumps(value.code, json_options=RELAXED_JSON_OPTIONS))
    raise TypeError(type(value).__name__)


def _not_plain(value):
    raise TypeError(type(value).__name__)


def _plain(column, field: Field, n: int) -> pa.Array:
    """Replace pymongoarrow's ObjectId extension type by 24-hex text, the staged form."""
    if column is None:
        return pa.nulls(n, KINDS[field.kind].raw)
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if field.kind is Kind.OBJECT_ID:
        return _series(array.storage.cast(pa.binary())).bin.encode("hex").to_arrow()
    if field.kind is Kind.UUID_LIST:
        values = _series(array.values.storage.cast(pa.binary())).bin.encode("hex").to_arrow()
        return pa.ListArray.from_arrays(array.offsets, values, mask=array.is_null())
    return array


def _series(array: pa.Array | pa.ChunkedArray) -> pl.Series:
    """`pl.from_arrow`, whose result is typed as a frame or a series: of an Arrow array, a series."""
    series = pl.from_arrow(array)
    if not isinstance(series, pl.Series):
        raise TypeError(f"an Arrow array converted to {type(series).__name__}, not a Series")
    return series
