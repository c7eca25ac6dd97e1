"""A columnar index of the top-level elements of a buffer of BSON documents.

pymongoarrow converts values but hides their BSON types: it truncates 3.5 to 3 in an int
column, turns a string into [] in a list column and true into 1. The index records every
top-level element's key, BSON type and value offset, for all documents at once (a compiled
walk over the bytes), so each stored type can be checked before conversion.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl
import pyarrow as pa

DOUBLE, STRING, DOCUMENT, ARRAY, BINARY, UNDEFINED, OBJECT_ID, BOOL, DATETIME, NULL = range(1, 11)
REGEX, DBPOINTER, CODE, SYMBOL, CODE_W_SCOPE, INT32, TIMESTAMP, INT64, DECIMAL128 = range(11, 20)
MINKEY, MAXKEY = 0xFF, 0x7F

TYPE_NAMES = {
    DOUBLE: "double", STRING: "string", DOCUMENT: "object", ARRAY: "array", BINARY: "binData",
    UNDEFINED: "undefined", OBJECT_ID: "objectId", BOOL: "bool", DATETIME: "date", NULL: "null",
    REGEX: "regex", DBPOINTER: "dbPointer", CODE: "javascript", SYMBOL: "symbol",
    CODE_W_SCOPE: "javascriptWithScope", INT32: "int", TIMESTAMP: "timestamp", INT64: "long",
    DECIMAL128: "decimal", MINKEY: "minKey", MAXKEY: "maxKey",
}

_FIXED = np.full(256, -1, dtype=np.int64)  # value size of fixed-width types
for _t, _n in ((DOUBLE, 8), (UNDEFINED, 0), (OBJECT_ID, 12), (BOOL, 1), (DATETIME, 8), (NULL, 0),
               (INT32, 4), (TIMESTAMP, 8), (INT64, 8), (DECIMAL128, 16), (MINKEY, 0), (MAXKEY, 0)):
    _FIXED[_t] = _n


class MalformedBSON(ValueError):
    """The bytes are not a sequence of well-formed BSON documents."""


@dataclass(frozen=True)
class BsonIndex:
    """Where each document starts and ends, and one row per top-level element."""

    buffer: bytes
    starts: np.ndarray  # int64, per document
    ends: np.ndarray  # int64, exclusive
    elements: pl.DataFrame  # doc (u32), key (str), type (u8), value (i64 offset), field (i16), first (bool)

    def __len__(self) -> int:
        return len(self.starts)

    def document(self, i: int) -> bytes:
        return self.buffer[self.starts[i]:self.ends[i]]

    def documents(self, rows: np.ndarray) -> bytes:
        """The concatenated bytes of the chosen documents, in order."""
        if len(rows) == len(self.starts) and (len(rows) == 0 or rows[-1] == len(rows) - 1):
            return self.buffer  # every document, as rows are ascending and distinct
        view = memoryview(self.buffer)
        return b"".join(view[self.starts[i]:self.ends[i]] for i in rows)

    def gather(self, offsets: np.ndarray, width: int) -> np.ndarray:
        """(n, width) bytes starting at each offset."""
        data = np.frombuffer(self.buffer, dtype=np.uint8)
        return data[offsets[:, None] + np.arange(width)]


def _walk():
    from toolkit import bson_walk  # numba loads on first use, not with every command
    return bson_walk


def document_bounds(buffer: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each document; the buffer must hold whole documents only."""
    data = np.frombuffer(buffer, dtype=np.uint8)
    starts, ends, stop = _walk().bounds(data)
    if stop < len(data):
        if stop + 5 > len(data):
            raise MalformedBSON(f"truncated document at byte {stop}")
        raise MalformedBSON(f"bad document length {_walk().int32(data, stop)} at byte {stop}")
    return starts, ends


def whole_length(buffer: bytes) -> int:
    """How many leading bytes of `buffer` are whole documents (a read may end mid-document)."""
    data = np.frombuffer(buffer, dtype=np.uint8)
    stop = int(_walk().bounds(data)[2])
    if stop + 4 <= len(data) and _walk().int32(data, stop) < 5:
        raise MalformedBSON(f"bad document length {_walk().int32(data, stop)} at byte {stop}")
    return stop


def int32_at(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    raw = data[offsets[:, None] + np.arange(4)].astype(np.int64)
    value = raw[:, 0] | raw[:, 1] << 8 | raw[:, 2] << 16 | raw[:, 3] << 24
    return np.where(value >= 1 << 31, value - (1 << 32), value)


def byte_ranges(data: np.ndarray, begin: np.ndarray, end: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Byte ranges of `data` as one Arrow string array, gathered without a row loop; where
    `valid` is false the string is null (give it an empty range)."""
    lengths = end - begin
    offsets = np.zeros(len(begin) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    nulls = 0 if valid is None else int((~valid).sum())
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    text = np.empty(offsets[-1], np.uint8)
    scatter(text, offsets[:-1], data, begin, lengths)
    return pa.LargeStringArray.from_buffers(
        len(begin), pa.py_buffer(offsets.tobytes()), pa.py_buffer(text), bitmap, nulls)


def scatter(out: np.ndarray, at: np.ndarray, data: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> None:
    """Copy byte range i of `data` (`starts[i]`, `sizes[i]` bytes) to `out[at[i]:]`, compiled."""
    _walk().scatter(out, np.ascontiguousarray(at, np.int64), data, np.ascontiguousarray(starts, np.int64),
                    np.ascontiguousarray(sizes, np.int64))


def index(buffer: bytes, keys: Sequence[str] = ()) -> BsonIndex:
    """Index every top-level element of every document in `buffer`.

    With `keys`, an element whose key is one of them gets its position in `field` (else -1)
    and no `key` text (null): building text for every element costs more than the rest of
    the index. `first` tells whether it is its document's first element of that key.
    """
    starts, ends = document_bounds(buffer)
    data = np.frombuffer(buffer, dtype=np.uint8)
    walk = _walk()
    count, bad = walk.count_elements(data, starts, ends, _FIXED)
    if bad >= 0:
        raise MalformedBSON(f"document {bad} holds an element of unknown type or size, or a key with no end")
    doc, key_begin, key_end = np.empty(count, np.uint32), np.empty(count, np.int64), np.empty(count, np.int64)
    kind, value = np.empty(count, np.uint8), np.empty(count, np.int64)
    walk.fill_elements(data, starts, ends, _FIXED, doc, key_begin, key_end, kind, value)
    names, offsets, slots = _key_table(tuple(keys))
    field, first = walk.match_keys(data, doc, key_begin, key_end, names, offsets, slots)
    known = field >= 0
    text = byte_ranges(data, key_begin, np.where(known, key_begin, key_end), valid=~known)
    elements = pl.DataFrame({
        "doc": pl.Series(doc, dtype=pl.UInt32),
        "key": pl.from_arrow(text).cast(pl.String),
        "type": pl.Series(kind, dtype=pl.UInt8),
        "value": pl.Series(value, dtype=pl.Int64),
        "field": pl.Series(field, dtype=pl.Int16),
        "first": pl.Series(first, dtype=pl.Boolean),
    })
    return BsonIndex(buffer, starts, ends, elements)


@lru_cache(maxsize=64)
def _key_table(keys: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The names' bytes, their offsets, and an open-addressing table of their hashes."""
    encoded = [k.encode() for k in keys]
    names = np.frombuffer(b"".join(encoded), dtype=np.uint8) if encoded else np.zeros(0, np.uint8)
    offsets = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    slots = np.full(max(8, 1 << (4 * len(keys)).bit_length()), -1, dtype=np.int64)
    for position, key in enumerate(encoded):
        slot = int(_walk().key_hash(np.frombuffer(key, dtype=np.uint8), 0, len(key))) & (len(slots) - 1)
        while slots[slot] >= 0:
            slot = (slot + 1) & (len(slots) - 1)
        slots[slot] = position
    return names, offsets, slots


def in_id_order(buffer, after: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray, tuple[int, int]] | None:
    """Starts and ends of the documents, and the last id, when the buffer is in `_id` order from
    the ObjectId `after` (its 4-byte seconds and 8-byte tail) with ObjectId ids first in each
    document (what a collection of ObjectId ids holds); else None."""
    high, low = np.uint64(after[0]), np.uint64(after[1])
    starts, ends, ordered, high, low = _walk().ascending_object_ids(np.frombuffer(buffer, dtype=np.uint8), high, low)
    return (starts, ends, (int(high), int(low))) if ordered else None


def values_as_documents(buffer: bytes, kinds: np.ndarray, offsets: np.ndarray) -> bytes:
    """Each chosen value wrapped as a one-element document `{"v": value}`, all concatenated,
    so one `bson.decode_all` call decodes just those values."""
    data = np.frombuffer(buffer, dtype=np.uint8)
    return _walk().wrap_values(data, kinds.astype(np.uint8), offsets.astype(np.int64), _FIXED).tobytes()
