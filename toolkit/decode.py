"""One chunk of raw BSON -> one typed Arrow table, with every type problem named.

pymongoarrow does the conversion; the BSON index checks each stored type first, so a value
that pymongoarrow would truncate, blank or choke on is caught and reported instead, and only
the documents at fault leave the vectorised path.
"""
from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
from bson import decode as bson_decode
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.json_util import RELAXED_JSON_OPTIONS, dumps
from pymongoarrow.api import Schema
from pymongoarrow.context import PyMongoArrowContext
from pymongoarrow.types import ObjectIdType

from toolkit import bson_index as bt
from toolkit.spec import Field, Kind, ModelSpec

CODEC = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO)
PROBLEM = pl.Struct({"field": pl.String, "rule": pl.String, "reason": pl.String})

_ARROW = {
    Kind.OBJECT_ID: ObjectIdType(), Kind.TEXT: pa.string(), Kind.ENUM: pa.string(),
    Kind.INT: pa.int64(), Kind.BOOL: pa.bool_(), Kind.DATETIME: pa.timestamp("ms"),
    Kind.TEXT_LIST: pa.list_(pa.string()), Kind.UUID_LIST: pa.list_(ObjectIdType()),
}
_ALLOWED = {
    Kind.OBJECT_ID: {bt.OBJECT_ID}, Kind.TEXT: {bt.STRING}, Kind.ENUM: {bt.STRING},
    Kind.INT: {bt.INT32, bt.INT64, bt.DOUBLE}, Kind.BOOL: {bt.BOOL}, Kind.DATETIME: {bt.DATETIME},
    Kind.TEXT_LIST: {bt.ARRAY}, Kind.UUID_LIST: {bt.ARRAY}, Kind.JSON: set(bt.TYPE_NAMES),
}
_EMPTY = {bt.NULL, bt.UNDEFINED}


def columns(model: ModelSpec, feeds: tuple[str, ...] = ()) -> dict[str, Field]:
    """MongoDB key -> declared field, for every key extract converts (not `_id`)."""
    keyed = {f.key: f for f in model.fields if f.key != "_id"}
    keyed.update({key: Field(key, Kind.UUID_LIST) for key in feeds})
    return keyed


def decode_chunk(buffer: bytes, model: ModelSpec, feeds: tuple[str, ...] = ()) -> pa.Table:
    """Every document of the chunk becomes one row, in order; none is dropped."""
    fields = columns(model, feeds)
    ix = bt.index(buffer)
    n = len(ix)
    elements = _first_of_each_key(ix.elements)
    object_ids = _object_ids(ix, elements)
    problems = pl.concat([_type_problems(elements, fields), _double_problems(ix, elements, fields)])
    good = np.setdiff1d(np.arange(n), problems["doc"].to_numpy())
    typed, failed = _convert(ix, good, fields)
    problems = pl.concat([problems, failed])
    converted = np.full(n, -1, dtype=np.int64)
    kept = np.setdiff1d(good, failed["doc"].to_numpy())
    converted[kept] = np.arange(len(kept))
    rows = pa.array(np.where(converted >= 0, converted, 0), mask=converted < 0)
    table = typed.take(rows) if typed.num_columns else pa.table({})
    out = {
        "m2pg_object_id": object_ids.to_arrow(),
        "m2pg_source_id": _source_ids(ix, object_ids).to_arrow(),
        "m2pg_document": _documents(ix),
        "m2pg_problems": _per_doc(problems, n, ["field", "rule", "reason"]).to_arrow(),
        "m2pg_unknown_fields": _unknown(elements, fields, n).to_arrow(),
    }
    for key, field in fields.items():
        if field.kind is Kind.JSON:
            out[key] = _json_values(ix, elements, key, exclude=problems["doc"]).to_arrow()
        else:
            out[key] = _plain(table.column(key) if key in table.column_names else None, field, n)
    return pa.table(out)


def _first_of_each_key(elements: pl.DataFrame) -> pl.DataFrame:
    """A key repeated within a document counts once, its first value. Repeats are rare, so a count
    of hashes decides whether the exact pass is needed (a collision only triggers that pass)."""
    mixed = pl.col("key").hash() ^ (pl.col("doc").cast(pl.UInt64) * 0x9E3779B97F4A7C15)
    if elements.select(mixed.n_unique()).item() == elements.height:
        return elements
    return elements.unique(subset=["doc", "key"], keep="first", maintain_order=True)


def _documents(ix: bt.BsonIndex) -> pa.Array:
    """Each original document's bytes, sliced from the chunk without copying per row."""
    offsets = np.append(ix.starts, ix.ends[-1] if len(ix) else 0).astype(np.int64)
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(ix),
                                            [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(ix.buffer)])


def _object_ids(ix: bt.BsonIndex, elements: pl.DataFrame) -> pl.Series:
    ids = elements.filter((pl.col("key") == "_id") & (pl.col("type") == bt.OBJECT_ID))
    raw = ix.gather(ids["value"].to_numpy(), 12)
    hexes = pl.from_arrow(pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(12), len(raw), [None, pa.py_buffer(raw.tobytes())]).cast(pa.binary())).bin.encode("hex")
    found = pl.DataFrame({"doc": ids["doc"], "oid": hexes})
    every = pl.DataFrame({"doc": pl.Series(range(len(ix)), dtype=pl.UInt32)})
    return every.join(found, on="doc", how="left", maintain_order="left")["oid"].alias("m2pg_object_id")


def _source_ids(ix: bt.BsonIndex, object_ids: pl.Series) -> pl.Series:
    """The `_id` as relaxed extended JSON; only ids that are not ObjectIds need decoding."""
    text = pl.select(pl.format('{{"$oid": "{}"}}', pl.lit(object_ids))).to_series()
    odd = object_ids.is_null().to_numpy().nonzero()[0]
    if len(odd):
        values = text.to_list()
        for i in odd:
            doc = bson_decode(ix.document(i), CODEC)
            values[i] = dumps(doc["_id"], json_options=RELAXED_JSON_OPTIONS) if "_id" in doc else None
        text = pl.Series(values, dtype=pl.String)
    return text.alias("m2pg_source_id")


def _allowed(fields: dict[str, Field]) -> pl.DataFrame:
    pairs = [(key, t) for key, f in fields.items() for t in _ALLOWED[f.kind] | _EMPTY]
    return pl.DataFrame(pairs, schema={"key": pl.String, "type": pl.UInt8}, orient="row")


def _type_problems(elements: pl.DataFrame, fields: dict[str, Field]) -> pl.DataFrame:
    declared = pl.DataFrame({"key": list(fields), "name": [f.name for f in fields.values()],
                             "kind": [str(f.kind) for f in fields.values()]},
                            schema={"key": pl.String, "name": pl.String, "kind": pl.String})
    names = pl.DataFrame({"type": list(bt.TYPE_NAMES), "found": list(bt.TYPE_NAMES.values())},
                         schema={"type": pl.UInt8, "found": pl.String})
    wrong = (elements.join(declared, on="key").join(_allowed(fields), on=["key", "type"], how="anti")
             .join(names, on="type", how="left"))
    return wrong.select(
        "doc",
        pl.col("name").alias("field"),
        pl.lit("type").alias("rule"),
        pl.format("{}: expected {} but the document holds a BSON {}", "name", "kind", "found").alias("reason"),
    )


def _double_problems(ix: bt.BsonIndex, elements: pl.DataFrame, fields: dict[str, Field]) -> pl.DataFrame:
    """Doubles in Int fields: 75.0 and -0.0 convert; 3.5, NaN and 1e300 do not."""
    ints = [k for k, f in fields.items() if f.kind is Kind.INT]
    found = elements.filter(pl.col("key").is_in(ints) & (pl.col("type") == bt.DOUBLE))
    values = ix.gather(found["value"].to_numpy(), 8).copy().view("<f8").ravel() if found.height else np.empty(0)
    found = found.with_columns(number=pl.Series(values, dtype=pl.Float64))
    whole = pl.col("number").is_finite() & (pl.col("number") == pl.col("number").floor())
    fits = pl.col("number").abs() < 2.0**63
    name = pl.col("key").replace_strict({k: fields[k].name for k in ints}, default=pl.col("key"))
    return found.filter(~whole | ~fits).select(
        "doc",
        name.alias("field"),
        pl.when(whole).then(pl.lit("int_range")).otherwise(pl.lit("type")).alias("rule"),
        pl.when(whole)
        .then(pl.format("{}: {} is outside the PostgreSQL integer range", name, pl.col("number")))
        .otherwise(pl.format("{}: {} is not a whole number, an Int field needs one", name, pl.col("number")))
        .alias("reason"),
    )


def _schema(fields: dict[str, Field]) -> Schema:
    return Schema({k: _ARROW[f.kind] for k, f in fields.items() if f.kind is not Kind.JSON})


def _run(buffer: bytes, schema: Schema) -> pa.Table:
    context = PyMongoArrowContext(schema)
    context.process_bson_stream(buffer)
    return context.finish()


def _convert(ix: bt.BsonIndex, rows: np.ndarray, fields: dict[str, Field]) -> tuple[pa.Table, pl.DataFrame]:
    """Convert the chosen documents; bisect to isolate any that pymongoarrow still rejects."""
    failed: list[tuple[int, str, str]] = []
    if all(f.kind is Kind.JSON for f in fields.values()):  # nothing for pymongoarrow to convert
        return pa.table({}), _problem_frame(failed)
    schema = _schema(fields)
    tables, todo = [], [rows]  # a stack, not a recursive closure: that would be a reference
    while todo:                # cycle keeping every chunk's buffers alive until a full GC
        part = todo.pop()
        if not len(part):
            continue
        try:
            tables.append(_run(ix.documents(part), schema))
        except (TypeError, OverflowError, ValueError) as error:
            if len(part) == 1:
                failed.append((int(part[0]), *_diagnose(ix.document(int(part[0])), fields, error)))
                continue
            middle = len(part) // 2
            todo += [part[middle:], part[:middle]]  # the first half is popped first: order kept
    table = pa.concat_tables(tables) if tables else _run(b"", schema)
    return table, _problem_frame(failed)


def _diagnose(document: bytes, fields: dict[str, Field], error: Exception) -> tuple[str, str]:
    """Name the field of a single document that pymongoarrow rejects."""
    for key, field in fields.items():
        if field.kind is Kind.JSON:
            continue
        try:
            _run(document, Schema({key: _ARROW[field.kind]}))
        except (TypeError, OverflowError, ValueError) as cause:
            return field.name, f"{field.name}: {field.kind} field holds a value of another type ({cause})"
    return "", f"the document could not be converted ({error})"


def _problem_frame(failed: list[tuple[int, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(d, f, "type", r) for d, f, r in failed],
        schema={"doc": pl.UInt32, "field": pl.String, "rule": pl.String, "reason": pl.String},
        orient="row",
    )


def _per_doc(frame: pl.DataFrame, n: int, names: list[str]) -> pl.Series:
    grouped = frame.group_by("doc", maintain_order=True).agg(pl.struct(names).alias("items"))
    every = pl.DataFrame({"doc": pl.Series(range(n), dtype=pl.UInt32)})
    joined = every.join(grouped, on="doc", how="left", maintain_order="left")
    return joined["items"].fill_null(pl.lit([], dtype=pl.List(PROBLEM)))


def _unknown(elements: pl.DataFrame, fields: dict[str, Field], n: int) -> pl.Series:
    extra = elements.filter(~pl.col("key").is_in([*fields, "_id"]))
    grouped = extra.group_by("doc", maintain_order=True).agg(pl.col("key").alias("keys"))
    every = pl.DataFrame({"doc": pl.Series(range(n), dtype=pl.UInt32)})
    joined = every.join(grouped, on="doc", how="left", maintain_order="left")
    return joined["keys"].fill_null(pl.lit([], dtype=pl.List(pl.String))).alias("m2pg_unknown_fields")


def _json_values(ix: bt.BsonIndex, elements: pl.DataFrame, key: str, exclude: pl.Series) -> pl.Series:
    """Json values as relaxed extended JSON, keys kept byte for byte; decoded per document."""
    present = elements.filter((pl.col("key") == key) & ~pl.col("type").is_in(list(_EMPTY))
                              & ~pl.col("doc").is_in(exclude.implode()))
    values: list[str | None] = [None] * len(ix)
    for i in present["doc"].to_list():
        document = bson_decode(ix.document(i), CODEC)
        values[i] = dumps(document[key], json_options=RELAXED_JSON_OPTIONS, ensure_ascii=False)
    return pl.Series(key, values, dtype=pl.String)


def _plain(column, field: Field, n: int) -> pa.Array:
    """Replace pymongoarrow's ObjectId extension type by 24-hex text, the staged form."""
    if column is None:
        return pa.nulls(n, _staged_type(field))
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if field.kind is Kind.OBJECT_ID:
        return pl.from_arrow(array.storage.cast(pa.binary())).bin.encode("hex").to_arrow()
    if field.kind is Kind.UUID_LIST:
        values = pl.from_arrow(array.values.storage.cast(pa.binary())).bin.encode("hex").to_arrow()
        return pa.ListArray.from_arrays(array.offsets, values, mask=array.is_null())
    return array


def _staged_type(field: Field) -> pa.DataType:
    if field.kind is Kind.OBJECT_ID:
        return pa.large_string()
    if field.kind is Kind.UUID_LIST:
        return pa.list_(pa.large_string())
    return _ARROW[field.kind]
