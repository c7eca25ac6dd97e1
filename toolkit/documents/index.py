"""A columnar index of the top-level elements of a buffer of BSON documents.

pymongoarrow converts values but hides their BSON types: it truncates 3.5 to 3 in an int
column, turns a string into [] in a list column and true into 1. The index records every
top-level element's key, BSON type and value offset, for all documents at once (a compiled
walk over the bytes), so each stored type can be checked before conversion.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

DOUBLE, STRING, DOCUMENT, ARRAY, BINARY, UNDEFINED, OBJECT_ID, BOOL, DATETIME, NULL = range(1, 11)
REGEX, DBPOINTER, CODE, SYMBOL, CODE_W_SCOPE, INT32, TIMESTAMP, INT64, DECIMAL128 = range(11, 20)
MINKEY, MAXKEY = 0xFF, 0x7F

# What the strict walk (bson_walk.check_document) finds wrong in a document; WELL_FORMED: nothing.
(
    WELL_FORMED,
    LENGTH_TOO_SMALL,
    LENGTH_PAST_END,
    ELEMENTS_END_EARLY,
    KEY_WITHOUT_END,
    PAST_END,
    BAD_TYPE,
    BAD_STRING,
    BAD_UTF8,
    BAD_DOCUMENT_LENGTH,
    BAD_BINARY,
    BAD_BOOL,
    TOO_DEEP,
) = range(13)
MAX_DEPTH = 100  # levels of embedded documents and arrays: MongoDB's own limit, far below any recursion limit

TYPE_NAMES = {
    DOUBLE: "double",
    STRING: "string",
    DOCUMENT: "object",
    ARRAY: "array",
    BINARY: "binData",
    UNDEFINED: "undefined",
    OBJECT_ID: "objectId",
    BOOL: "bool",
    DATETIME: "date",
    NULL: "null",
    REGEX: "regex",
    DBPOINTER: "dbPointer",
    CODE: "javascript",
    SYMBOL: "symbol",
    CODE_W_SCOPE: "javascriptWithScope",
    INT32: "int",
    TIMESTAMP: "timestamp",
    INT64: "long",
    DECIMAL128: "decimal",
    MINKEY: "minKey",
    MAXKEY: "maxKey",
}

_FIXED = np.full(256, -1, dtype=np.int64)  # value size of fixed-width types
for _t, _n in (
    (DOUBLE, 8),
    (UNDEFINED, 0),
    (OBJECT_ID, 12),
    (BOOL, 1),
    (DATETIME, 8),
    (NULL, 0),
    (INT32, 4),
    (TIMESTAMP, 8),
    (INT64, 8),
    (DECIMAL128, 16),
    (MINKEY, 0),
    (MAXKEY, 0),
):
    _FIXED[_t] = _n


@dataclass(frozen=True)
class BsonIndex:
    """Where each document starts and ends, what is wrong with it, and one row per top-level
    element (of a malformed document, only the elements before its defect)."""

    buffer: bytes
    starts: np.ndarray  # int64, per document
    ends: np.ndarray  # int64, exclusive
    elements: pl.DataFrame  # doc (u32), key (str), type (u8), value (i64 offset), field (i16), first (bool)
    defects: np.ndarray | None = None  # uint8 per document: WELL_FORMED or what the strict walk found
    defect_at: np.ndarray | None = None  # int64: the byte it was found at
    defect_numbers: np.ndarray | None = None  # int64: what the reason quotes (well formed: elements)

    def __len__(self) -> int:
        return len(self.starts)

    def strict_walk(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(defect code, byte, number) per document: only `index` runs the strict walk, an index
        built elsewhere (for the order of ids alone) has nothing to describe a defect with."""
        if self.defects is None or self.defect_at is None or self.defect_numbers is None:
            raise ValueError("this BSON index was built without the strict walk; build it with `index`")
        return self.defects, self.defect_at, self.defect_numbers

    def document(self, i: int) -> bytes:
        return self.buffer[self.starts[i] : self.ends[i]]

    def documents(self, rows: np.ndarray) -> bytes:
        """The concatenated bytes of the chosen documents, in order."""
        if len(rows) == len(self.starts) and (len(rows) == 0 or rows[-1] == len(rows) - 1):
            return self.buffer  # every document, as rows are ascending and distinct
        view = memoryview(self.buffer)
        return b"".join(view[self.starts[i] : self.ends[i]] for i in rows)

    def gather(self, offsets: np.ndarray, width: int) -> np.ndarray:
        """(n, width) bytes starting at each offset."""
        data = np.frombuffer(self.buffer, dtype=np.uint8)
        return data[offsets[:, None] + np.arange(width)]


class Located(bytes):
    """Documents read from a file, with the file offset of each (`offsets`): where a malformed
    one lies is part of its quarantine reason."""

    offsets: np.ndarray


def located(buffer: bytes, offsets: np.ndarray) -> Located:
    out = Located(buffer)
    out.offsets = np.asarray(offsets, dtype=np.int64)
    return out


def _walk():
    from toolkit.documents import walk as bson_walk  # numba loads on first use, not with every command

    return bson_walk


def document_bounds(buffer: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each document, as their length fields say. Bytes after the
    last document a length field accounts for (a length below 5, or one running past the end)
    are one more span, which the strict walk then refuses: nothing is left out unrecorded."""
    data = np.frombuffer(buffer, dtype=np.uint8)
    starts, ends, stop = _walk().bounds(data)
    if stop < len(data):
        starts, ends = np.append(starts, stop), np.append(ends, len(data))
    return starts, ends


def whole_length(buffer: bytes) -> int:
    """How many leading bytes of `buffer` are whole documents (a read may end mid-document)."""
    return int(_walk().bounds(np.frombuffer(buffer, dtype=np.uint8))[2])


def untrusted_length(buffer: bytes) -> bool:
    """Whether `buffer` starts with a length field below 5, which cannot say where the next
    document starts: what follows can only be kept as one span."""
    return len(buffer) >= 4 and _walk().int32(np.frombuffer(buffer[:4], dtype=np.uint8), 0) < 5


def defects(buffer: bytes, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The strict walk of each document: (defect code, byte, number), WELL_FORMED where none."""
    return _walk().check_documents(np.frombuffer(buffer, dtype=np.uint8), starts, ends, _FIXED)


_DEFECTS = {
    LENGTH_TOO_SMALL: "its length field says {number} bytes (5 at least), so where the next document starts "
    "is unknown: these bytes, to the end, are kept as one record",
    LENGTH_PAST_END: "its length field says {number} bytes but only {size} remain: a truncated document, "
    "kept as one record",
    ELEMENTS_END_EARLY: "its elements end at byte {at}, {number} bytes before the end its length field "
    "declares (the length covers bytes that follow, such as the next document)",
    KEY_WITHOUT_END: "the key of the element at byte {at} has no terminating 0 inside its document",
    PAST_END: "the {type} element at byte {at} runs past the end of its document",
    BAD_TYPE: "byte {at} holds element type {number:#04x}, which BSON does not define",
    BAD_STRING: "the {type} at byte {at} declares a length that does not fit its document or lacks its terminating 0",
    BAD_UTF8: "byte {at} is not valid UTF-8, in a key or a string",
    BAD_DOCUMENT_LENGTH: "the embedded document or array at byte {at} declares {number} bytes, which do not fit "
    "inside its parent",
    BAD_BINARY: "the binary value at byte {at} declares {number} bytes, which do not fit inside its document",
    BAD_BOOL: "the boolean at byte {at} holds {number}, neither 0 nor 1",
    TOO_DEEP: "embedded documents or arrays are nested more than {number} levels deep at byte {at}",
}


def defect_rule(code: int) -> str:
    """The quarantine rule of a defect: `utf8` for text that is not UTF-8, else `bson`."""
    return "utf8" if code == BAD_UTF8 else "bson"


def describe_defect(ix: BsonIndex, i: int) -> tuple[str, str]:
    """(field, reason) for malformed document i: the top-level key the defect lies under (empty
    when none can be read) and the defect, with bytes counted from the document's start."""
    codes, ats, numbers = ix.strict_walk()
    code, at, number = int(codes[i]), int(ats[i]), int(numbers[i])
    start, end = int(ix.starts[i]), int(ix.ends[i])
    if code == ELEMENTS_END_EARLY and number < 0:
        reason = f"its last byte ({end - 1 - start}) is not the 0 that ends a document"
    elif code == LENGTH_PAST_END and number < 0:
        reason = f"only {end - start} bytes remain, too few for a document: a truncated document, kept as one record"
    else:
        reason = _DEFECTS[code].format(
            at=at - start, number=number, size=end - start, type=TYPE_NAMES.get(number, "string")
        )
    return _key_around(ix, i, at), reason


def _key_around(ix: BsonIndex, i: int, at: int) -> str:
    """The top-level key of the element holding byte `at`, when its key is readable."""
    data, walk = np.frombuffer(ix.buffer, dtype=np.uint8), _walk()
    start, end = int(ix.starts[i]), int(ix.ends[i])
    if end - start < 5 or walk.int32(data, start) != end - start:
        return ""
    cursor = start + 4
    while cursor < at:
        after = walk.next_element(data, cursor, end, _FIXED)
        if after < 0 or after > at:
            break
        cursor = after
    if cursor > at or cursor >= end - 1 or data[cursor] == 0:
        return ""
    key_end = walk.string_end(data, cursor + 1, end)
    return ix.buffer[cursor + 1 : key_end].decode("utf-8", errors="replace") if key_end < end else ""


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
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if valid is not None and nulls else None
    text = np.empty(offsets[-1], np.uint8)
    scatter(text, offsets[:-1], data, begin, lengths)
    return pa.LargeStringArray.from_buffers(
        len(begin), pa.py_buffer(offsets.tobytes()), pa.py_buffer(text), bitmap, nulls
    )


def scatter(out: np.ndarray, at: np.ndarray, data: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> None:
    """Copy byte range i of `data` (`starts[i]`, `sizes[i]` bytes) to `out[at[i]:]`, compiled."""
    _copy(_walk().scatter, out, at, data, starts, sizes)


def join_rows(out: np.ndarray, at: np.ndarray, data: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> None:
    """Row i of `out`, from `at[i]`, is its pieces one after the other: piece j is `sizes[i, j]`
    bytes of `data` from `starts[i, j]`. Compiled; each row is written straight through, so the
    writes run in order where one range copy per piece would jump from row to row."""
    _copy(_walk().join_rows, out, at, data, starts, sizes)


def _copy(kernel, out: np.ndarray, at: np.ndarray, data: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> None:
    """A compiled copy of byte ranges, given its positions as the contiguous int64 it is compiled for."""
    kernel(
        out,
        np.ascontiguousarray(at, np.int64),
        data,
        np.ascontiguousarray(starts, np.int64),
        np.ascontiguousarray(sizes, np.int64),
    )


def index(buffer: bytes, keys: Sequence[str] = ()) -> BsonIndex:
    """Index every top-level element of every document in `buffer`.

    With `keys`, an element whose key is one of them gets its position in `field` (else -1)
    and no `key` text (null): building text for every element costs more than the rest of
    the index. `first` tells whether it is its document's first element of that key.
    Every document is first checked by the strict walk (`defects`); of a malformed one, only
    the elements before its defect are indexed.
    """
    starts, ends = document_bounds(buffer)
    data = np.frombuffer(buffer, dtype=np.uint8)
    walk = _walk()
    codes, at, numbers = walk.check_documents(data, starts, ends, _FIXED)
    malformed = codes != WELL_FORMED
    walked = np.where(malformed, np.minimum(at, ends), ends)
    count = int(numbers[~malformed].sum())  # the walk counted the top-level elements of the rest
    if malformed.any():
        count += walk.count_elements(data, starts[malformed], walked[malformed], _FIXED)
    doc, key_begin, key_end = np.empty(count, np.uint32), np.empty(count, np.int64), np.empty(count, np.int64)
    kind, value = np.empty(count, np.uint8), np.empty(count, np.int64)
    walk.fill_elements(data, starts, walked, _FIXED, doc, key_begin, key_end, kind, value)
    names, offsets, slots = _key_table(tuple(keys))
    field, first = walk.match_keys(data, doc, key_begin, key_end, names, offsets, slots)
    known = field >= 0
    text = byte_ranges(data, key_begin, np.where(known, key_begin, key_end), valid=~known)
    elements = pl.DataFrame(
        {
            "doc": pl.Series(doc, dtype=pl.UInt32),
            "key": pl.from_arrow(text).cast(pl.String),
            "type": pl.Series(kind, dtype=pl.UInt8),
            "value": pl.Series(value, dtype=pl.Int64),
            "field": pl.Series(field, dtype=pl.Int16),
            "first": pl.Series(first, dtype=pl.Boolean),
        }
    )
    return BsonIndex(buffer, starts, ends, elements, codes, at, numbers)


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


UNREADABLE_ID = {"$m2pg": "malformed document, _id unreadable"}  # an object: no `_id` order places it


def document_id(raw: bytes):
    """One document's `_id`: None when a well-formed document has none; of malformed bytes (only
    that element decoded), the `_id` when it lies before the defect, else UNREADABLE_ID (such
    documents sort after every readable `_id`, and a resume after one goes by count)."""
    from bson import decode, decode_all
    from bson.codec_options import CodecOptions, DatetimeConversion

    codec: CodecOptions[dict[str, Any]] = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO)
    if defects(raw, np.zeros(1, np.int64), np.full(1, len(raw), np.int64))[0][0] == WELL_FORMED:
        return decode(raw, codec).get("_id")
    ix = index(raw, ["_id"])
    ids = ix.elements.filter(pl.col("field") == 0)
    if ids.height:
        wrapped = values_as_documents(raw, ids["type"].to_numpy()[:1], ids["value"].to_numpy()[:1])
        return decode_all(wrapped, codec)[0]["v"]
    return dict(UNREADABLE_ID)


def decoded(chunk: bytes, codec) -> Iterator[tuple[memoryview, dict[str, Any] | None, int]]:
    """Each document of the chunk: its bytes, pymongo's decoding of them (None where the strict
    walk refuses them, as pymongo does: bytes a real MongoDB may hold, which the transform
    quarantines) and the walk's count of its top-level elements. One decode of the whole chunk
    when every document is well formed."""
    from bson import decode, decode_all

    starts, ends = document_bounds(chunk)
    codes, _, elements = defects(chunk, starts, ends)
    whole = iter(decode_all(chunk, codec)) if (codes == WELL_FORMED).all() else None
    view = memoryview(chunk)
    for start, end, code, count in zip(starts.tolist(), ends.tolist(), codes.tolist(), elements.tolist(), strict=True):
        raw = view[start:end]
        if code != WELL_FORMED:
            yield raw, None, count
        else:
            yield raw, next(whole) if whole else decode(bytes(raw), codec), count


def values_as_documents(buffer: bytes, kinds: np.ndarray, offsets: np.ndarray) -> bytes:
    """Each chosen value wrapped as a one-element document `{"v": value}`, all concatenated,
    so one `bson.decode_all` call decodes just those values."""
    data = np.frombuffer(buffer, dtype=np.uint8)
    return _walk().wrap_values(data, kinds.astype(np.uint8), offsets.astype(np.int64), _FIXED).tobytes()
