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
from bson import Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.codec_options import DatetimeConversion
from bson.datetime_ms import DatetimeMS
from bson.json_util import CANONICAL_JSON_OPTIONS, loads

from toolkit.documents import index as bt

_ANY_DATE = CANONICAL_JSON_OPTIONS.with_options(datetime_conversion=DatetimeConversion.DATETIME_AUTO)


def id_from_json(text: str):
    """An `_id` from its canonical extended JSON (as checkpoints keep it); a date outside years
    1-9999, which a server stores, as a DatetimeMS (a datetime cannot hold it)."""
    return loads(text, json_options=_ANY_DATE)


BRACKETS: tuple[tuple[str, ...], ...] = (
    ("minKey",),
    ("null", "undefined"),
    ("int", "long", "double", "decimal"),
    ("string", "symbol"),
    ("object",),
    ("array",),
    ("binData",),
    ("objectId",),
    ("bool",),
    ("date",),
    ("timestamp",),
    ("regex",),
    ("dbPointer",),
    ("javascript",),
    ("javascriptWithScope",),
    ("maxKey",),
)
_RANK = {name: rank for rank, names in enumerate(BRACKETS) for name in names}
TYPE_RANK = np.full(256, len(BRACKETS), dtype=np.int16)
for _code, _name in bt.TYPE_NAMES.items():
    TYPE_RANK[_code] = _RANK.get(_name, len(BRACKETS))


def bracket_of(value) -> int:
    """The bracket of a decoded `_id` value (for resuming after it)."""
    checks = (
        (MinKey, "minKey"),
        (type(None), "null"),
        (bool, "bool"),
        (Code, "javascript"),  # a str: before str (with a scope: javascriptWithScope, below)
        ((int, float, Int64, Decimal128), "int"),
        (str, "string"),
        (dict, "object"),
        (list, "array"),
        (bytes, "binData"),
        (ObjectId, "objectId"),
        ((datetime.datetime, DatetimeMS), "date"),
        (Timestamp, "timestamp"),
        (Regex, "regex"),
        (MaxKey, "maxKey"),
    )
    for kinds, name in checks:
        if isinstance(value, kinds):
            return _RANK["javascriptWithScope" if isinstance(value, Code) and value.scope is not None else name]
    return _RANK["binData"]


def id_elements(buffer: bytes) -> tuple[bt.BsonIndex, np.ndarray, np.ndarray]:
    """Each document's `_id` type and value offset. MongoDB stores `_id` first, so that one
    element is read directly; only documents where it is not first are indexed in full."""
    starts, ends = bt.document_bounds(buffer)
    data = np.frombuffer(buffer, dtype=np.uint8)
    kind = np.full(len(starts), bt.NULL, dtype=np.uint8)
    value = np.zeros(len(starts), dtype=np.int64)
    if len(starts):
        head = data[(starts + 5)[:, None] + np.arange(4)] if (ends - starts >= 9).all() else None
        first = (
            (head == np.frombuffer(b"_id\0", dtype=np.uint8)).all(axis=1)
            if head is not None
            else np.zeros(len(starts), bool)
        )
        # an ObjectId first in a span its length field covers is read as is; any other document is
        # checked by the strict walk, and a malformed one's _id is read only before its defect
        # (none readable: type 0, which sorts last)
        sizes, plain = ends - starts, first.copy()
        plain[first] = (
            (data[starts[first] + 4] == bt.OBJECT_ID)
            & (sizes[first] >= 21)
            & (bt.int32_at(data, starts[first]) == sizes[first])
        )
        check = np.flatnonzero(~plain)
        malformed = np.zeros(len(starts), dtype=bool)
        if len(check):
            malformed[check] = bt.defects(buffer, starts[check], ends[check])[0] != bt.WELL_FORMED
        kind[malformed] = 0
        first &= ~malformed
        kind[first], value[first] = data[starts[first] + 4], starts[first] + 9
        others = np.flatnonzero(~first)
        if len(others):
            ix = bt.index(b"".join(buffer[starts[i] : ends[i]] for i in others))
            ids = ix.elements.filter(pl.col("key") == "_id")
            rows = ids["doc"].to_numpy()
            kind[others[rows]] = ids["type"].to_numpy()
            value[others[rows]] = ids["value"].to_numpy() - ix.starts[rows] + starts[others[rows]]
    return bt.BsonIndex(buffer, starts, ends, pl.DataFrame()), kind, value


def sort_keys(buffer: bytes, file_offset: int) -> pl.DataFrame:
    """Per document: where it lies in the file and its `_id` sort key (rank, number, bytes)."""
    ix, kind, value = id_elements(buffer)
    every = pl.DataFrame({"doc": pl.Series(range(len(ix)), dtype=pl.UInt32)})
    number = np.zeros(len(ix))
    for code, dtype in ((bt.INT32, "<i4"), (bt.INT64, "<i8"), (bt.DOUBLE, "<f8"), (bt.DATETIME, "<i8")):
        rows = kind == code
        if rows.any():
            width = np.dtype(dtype).itemsize
            number[rows] = ix.gather(value[rows], width).copy().view(dtype).ravel()
    data = np.frombuffer(ix.buffer, dtype=np.uint8)
    number[kind == bt.BOOL] = data[value[kind == bt.BOOL]]  # false before true
    oids = np.flatnonzero(kind == bt.OBJECT_ID)
    texts = np.flatnonzero((kind == bt.STRING) | (kind == bt.SYMBOL) | (kind == bt.CODE))  # code: stored as a string
    begin = np.concatenate([value[oids], value[texts] + 4])
    end = np.concatenate([value[oids] + 12, value[texts] + 4 + bt.int32_at(data, value[texts]) - 1])
    keyed = pl.DataFrame(
        {
            "doc": pl.Series(np.concatenate([oids, texts]), dtype=pl.UInt32),
            "key": pl.from_arrow(bt.byte_ranges(data, begin, end).view(pa.large_binary())),
        }
    )
    keyed = pl.concat([keyed, _rare_keys(ix.buffer, kind, value)])
    key = every.join(keyed, on="doc", how="left", maintain_order="left")["key"].fill_null(b"")
    return pl.DataFrame(
        {
            "offset": pl.Series(ix.starts + file_offset, dtype=pl.Int64),
            "length": pl.Series(ix.ends - ix.starts, dtype=pl.Int64),
            "rank": pl.Series(TYPE_RANK[kind], dtype=pl.Int16),
            "number": pl.Series(number, dtype=pl.Float64),
            "key": key,
        }
    )


def _rare_keys(buffer: bytes, kind: np.ndarray, value: np.ndarray) -> pl.DataFrame:
    """Sort keys of `_id`s a server compares by more than their bytes as stored: a timestamp as
    one unsigned 64-bit number (seconds, then increment), binary data by length, then subtype,
    then bytes. Rare as `_id`s, so built one by one. (Embedded documents keep their file order.)"""
    docs, keys = [], []
    for doc in np.flatnonzero((kind == bt.TIMESTAMP) | (kind == bt.BINARY)).tolist():
        at = int(value[doc])
        if kind[doc] == bt.TIMESTAMP:
            keys.append(buffer[at : at + 8][::-1])  # little-endian increment, seconds: big-endian whole
        else:
            size = int.from_bytes(buffer[at : at + 4], "little")
            keys.append(size.to_bytes(4, "big") + buffer[at + 4 : at + 5 + size])
        docs.append(doc)
    return pl.DataFrame({"doc": pl.Series(docs, dtype=pl.UInt32), "key": pl.Series(keys, dtype=pl.Binary)})
