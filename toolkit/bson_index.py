"""A columnar index of the top-level elements of a buffer of BSON documents.

pymongoarrow converts values but hides their BSON types: it truncates 3.5 to 3 in an int
column, turns a string into [] in a list column and true into 1. The index records every
top-level element's key, BSON type and value offset, for all documents at once (one numpy
step per element position), so each stored type can be checked before conversion.
"""
from __future__ import annotations

from dataclasses import dataclass

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
_PREFIXED = np.zeros(256, dtype=bool)  # int32 length, then that many bytes
_PREFIXED[[STRING, CODE, SYMBOL]] = True
_SELF_SIZED = np.zeros(256, dtype=bool)  # the int32 at the start is the whole size
_SELF_SIZED[[DOCUMENT, ARRAY, CODE_W_SCOPE]] = True


class MalformedBSON(ValueError):
    """The bytes are not a sequence of well-formed BSON documents."""


@dataclass(frozen=True)
class BsonIndex:
    """Where each document starts and ends, and one row per top-level element."""

    buffer: bytes
    starts: np.ndarray  # int64, per document
    ends: np.ndarray  # int64, exclusive
    elements: pl.DataFrame  # doc (u32), key (str), type (u8), value (i64 offset)

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


def document_bounds(buffer: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each document; the only sequential walk, one step per document."""
    starts, pos, size = [], 0, len(buffer)
    while pos < size:
        if pos + 5 > size:
            raise MalformedBSON(f"truncated document at byte {pos}")
        length = int.from_bytes(buffer[pos:pos + 4], "little", signed=True)
        if length < 5 or pos + length > size:
            raise MalformedBSON(f"bad document length {length} at byte {pos}")
        starts.append(pos)
        pos += length
    starts_arr = np.asarray(starts, dtype=np.int64)
    ends = np.append(starts_arr[1:], size) if len(starts) else starts_arr
    return starts_arr, ends.astype(np.int64)


def int32_at(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    raw = data[offsets[:, None] + np.arange(4)].astype(np.int64)
    value = raw[:, 0] | raw[:, 1] << 8 | raw[:, 2] << 16 | raw[:, 3] << 24
    return np.where(value >= 1 << 31, value - (1 << 32), value)


def byte_ranges(data: np.ndarray, begin: np.ndarray, end: np.ndarray) -> pa.Array:
    """Byte ranges of `data` as one Arrow string array, gathered without a row loop."""
    lengths = end - begin
    offsets = np.zeros(len(begin) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    positions = np.repeat(begin - offsets[:-1], lengths) + np.arange(offsets[-1])
    return pa.LargeStringArray.from_buffers(
        len(begin), pa.py_buffer(offsets.tobytes()), pa.py_buffer(data[positions].tobytes()))


def index(buffer: bytes) -> BsonIndex:
    """Index every top-level element of every document in `buffer`."""
    starts, ends = document_bounds(buffer)
    data = np.frombuffer(buffer, dtype=np.uint8)
    cursor = starts + 4
    doc = np.arange(len(starts), dtype=np.int64)
    found: list[tuple[np.ndarray, ...]] = []
    while len(doc):
        kind = data[cursor]
        live = kind != 0
        doc, cursor, kind = doc[live], cursor[live], kind[live]
        if not len(doc):
            break
        key_end = _next_zero(data, cursor + 1)
        value = key_end + 1
        size = _FIXED[kind].copy()
        prefixed, self_sized = _PREFIXED[kind], _SELF_SIZED[kind]
        if prefixed.any():
            size[prefixed] = 4 + int32_at(data, value[prefixed])
        if self_sized.any():
            size[self_sized] = int32_at(data, value[self_sized])
        size = _variable_sizes(data, kind, value, size)
        if (size < 0).any() or (value + size > ends[doc]).any():
            bad = doc[(size < 0) | (value + size > ends[doc])][0]
            raise MalformedBSON(f"document {bad} holds an element of unknown type or size")
        found.append((doc, cursor + 1, key_end, kind, value))
        cursor = value + size
    if found:
        doc, key_begin, key_end, kind, value = (np.concatenate(c) for c in zip(*found))
    else:
        doc = key_begin = key_end = value = np.empty(0, np.int64)
        kind = np.empty(0, np.uint8)
    elements = pl.DataFrame({
        "doc": pl.Series(doc, dtype=pl.UInt32),
        "key": pl.from_arrow(byte_ranges(data, key_begin, key_end)).cast(pl.String),
        "type": pl.Series(kind, dtype=pl.UInt8),
        "value": pl.Series(value, dtype=pl.Int64),
    })
    return BsonIndex(buffer, starts, ends, elements)


def _next_zero(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Where the C string starting at each offset ends: all strings step a byte at a time
    together, so the work is the strings' length, whatever the buffer's size."""
    end = offsets.copy()
    try:
        active = np.flatnonzero(data[end] != 0)
        while len(active):
            end[active] += 1
            active = active[data[end[active]] != 0]
    except IndexError:
        raise MalformedBSON("a key or string runs past the end of the documents") from None
    return end


def _variable_sizes(data, kind, value, size):
    """Sizes of the rare types whose width needs more than one read."""
    regex = kind == REGEX
    if regex.any():
        first = _next_zero(data, value[regex])
        second = _next_zero(data, first + 1)
        size[regex] = second + 1 - value[regex]
    binary = kind == BINARY
    if binary.any():
        size[binary] = 5 + int32_at(data, value[binary])
    pointer = kind == DBPOINTER
    if pointer.any():
        size[pointer] = 4 + int32_at(data, value[pointer]) + 12
    return size
