"""MongoDB's order of `_id` values, across BSON types, for paging and resuming.

MongoDB compares values of different types by type bracket (numbers < strings < objects <
... < ObjectIds < booleans < dates ...) and a range query never leaves its bracket: a `$gt`
on an ObjectId skips string and integer ids. Paging one bracket at a time, in this order,
visits every document exactly once whatever its `_id` type.
"""
from __future__ import annotations

import datetime

import numpy as np
import polars as pl
import pyarrow as pa
from bson import Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.datetime_ms import DatetimeMS

from toolkit import bson_index as bt

BRACKETS: tuple[tuple[str, ...], ...] = (
    ("minKey",), ("null", "undefined"), ("int", "long", "double", "decimal"), ("string", "symbol"),
    ("object",), ("array",), ("binData",), ("objectId",), ("bool",), ("date",), ("timestamp",),
    ("regex",), ("maxKey",),
)
_RANK = {name: rank for rank, names in enumerate(BRACKETS) for name in names}
TYPE_RANK = np.full(256, len(BRACKETS), dtype=np.int16)
for _code, _name in bt.TYPE_NAMES.items():
    TYPE_RANK[_code] = _RANK.get(_name, len(BRACKETS))


def bracket_of(value) -> int:
    """The bracket of a decoded `_id` value (for resuming after it)."""
    checks = ((MinKey, "minKey"), (type(None), "null"), (bool, "bool"), ((int, float, Int64, Decimal128), "int"),
              (str, "string"), (dict, "object"), (list, "array"), (bytes, "binData"), (ObjectId, "objectId"),
              ((datetime.datetime, DatetimeMS), "date"), (Timestamp, "timestamp"), (Regex, "regex"),
              (MaxKey, "maxKey"))
    for kinds, name in checks:
        if isinstance(value, kinds):
            return _RANK[name]
    return _RANK["binData"]


def sort_keys(ix: bt.BsonIndex, file_offset: int) -> pl.DataFrame:
    """Per document: where it lies in the file and its `_id` sort key (rank, number, bytes)."""
    ids = ix.elements.filter(pl.col("key") == "_id")
    every = pl.DataFrame({"doc": pl.Series(range(len(ix)), dtype=pl.UInt32)})
    ids = every.join(ids, on="doc", how="left", maintain_order="left")
    kind = ids["type"].fill_null(bt.NULL).to_numpy().astype(np.uint8)
    value = ids["value"].fill_null(0).to_numpy()
    number = np.zeros(len(ix))
    for code, dtype in ((bt.INT32, "<i4"), (bt.INT64, "<i8"), (bt.DOUBLE, "<f8"), (bt.DATETIME, "<i8")):
        rows = kind == code
        if rows.any():
            width = np.dtype(dtype).itemsize
            number[rows] = ix.gather(value[rows], width).copy().view(dtype).ravel()
    data = np.frombuffer(ix.buffer, dtype=np.uint8)
    oids = np.flatnonzero(kind == bt.OBJECT_ID)
    texts = np.flatnonzero((kind == bt.STRING) | (kind == bt.SYMBOL))
    begin = np.concatenate([value[oids], value[texts] + 4])
    end = np.concatenate([value[oids] + 12, value[texts] + 4 + bt.int32_at(data, value[texts]) - 1])
    keyed = pl.DataFrame({"doc": pl.Series(np.concatenate([oids, texts]), dtype=pl.UInt32),
                          "key": pl.from_arrow(bt.byte_ranges(data, begin, end).view(pa.large_binary()))})
    key = every.join(keyed, on="doc", how="left", maintain_order="left")["key"].fill_null(b"")
    return pl.DataFrame({
        "offset": pl.Series(ix.starts + file_offset, dtype=pl.Int64),
        "length": pl.Series(ix.ends - ix.starts, dtype=pl.Int64),
        "rank": pl.Series(TYPE_RANK[kind], dtype=pl.Int16),
        "number": pl.Series(number, dtype=pl.Float64),
        "key": key,
    })
