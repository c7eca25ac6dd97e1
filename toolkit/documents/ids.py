"""ObjectId -> UUID: one documented, deterministic, time-ordered function.

The 12 bytes of an ObjectId are a 4-byte creation time in seconds and 8 further bytes.
The UUID keeps the UUIDv7 layout (RFC 9562) so ids sort by creation time:

    unix_ts_ms (48 bits) = ObjectId seconds * 1000
    ver        (4 bits)  = 7
    rand_a     (12 bits) = the first 12 of the ObjectId's 64 trailing bits
    var        (2 bits)  = 0b10
    rand_b     (62 bits) = the remaining 52 trailing bits, then 10 zero bits

Every ObjectId bit lands in the UUID, so two ObjectIds never share a UUID, and the
ObjectId can be read back from it (`object_id_of`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

_LOW52 = np.uint64((1 << 52) - 1)


def uuid_bytes(object_ids: np.ndarray) -> np.ndarray:
    """(n, 12) uint8 ObjectIds -> (n, 16) uint8 UUIDs, vectorised."""
    oid = np.ascontiguousarray(object_ids, dtype=np.uint8)
    seconds = oid[:, :4].copy().view(">u4").ravel().astype(np.uint64)
    tail = oid[:, 4:].copy().view(">u8").ravel()
    high = (seconds * np.uint64(1000)) << np.uint64(16) | np.uint64(0x7000) | (tail >> np.uint64(52))
    low = np.uint64(1 << 63) | ((tail & _LOW52) << np.uint64(10))
    out = np.empty((len(oid), 2), dtype=">u8")
    out[:, 0], out[:, 1] = high, low
    return out.view(np.uint8).reshape(len(oid), 16)


_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_NIBBLE = np.full(256, 255, dtype=np.uint8)  # hex digit -> its value; 255 for anything else
for _value, _digit in enumerate(b"0123456789abcdef"):
    _NIBBLE[_digit] = _NIBBLE[ord(chr(_digit).upper())] = _value
_DIGIT_AT = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])  # canonical text, bar dashes


def _characters(texts: pa.Array, width: int, filler: str, rule: str) -> np.ndarray:
    """Strings that all have `width` bytes -> an (n, width) byte matrix, nulls read as `filler`."""
    texts = texts.cast(pa.large_string())
    texts = pc.fill_null(texts, filler) if texts.null_count else texts
    n = len(texts)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset : texts.offset + n + 1]
    if n and not (np.diff(offsets) == width).all():
        raise ValueError(rule)
    data = np.frombuffer(texts.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]] if n else np.empty(0, np.uint8)
    return data.reshape(n, width)


def _hex_bytes(digits: np.ndarray, rule: str) -> np.ndarray:
    """(n, 2k) hex digit characters -> (n, k) bytes."""
    nibbles = _NIBBLE[digits]
    if (nibbles == 255).any():
        raise ValueError(rule)
    return (nibbles[:, 0::2] << 4 | nibbles[:, 1::2]).astype(np.uint8)


def _validity(texts: pa.Array) -> pa.Buffer | None:
    return (
        pa.py_buffer(np.packbits(texts.is_valid().to_numpy(zero_copy_only=False), bitorder="little"))
        if texts.null_count
        else None
    )


def uuids_of(object_ids: pl.Series) -> pl.Series:
    """24-hex ObjectId strings -> canonical UUID text; nulls stay null. Byte matrices throughout:
    no string is built or parsed one at a time."""
    texts = object_ids.to_arrow()
    texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    rule = "an ObjectId is 24 hex digits"
    uuid = uuid_bytes(_hex_bytes(_characters(texts, 24, "0" * 24, rule), rule))
    canonical = np.full((len(uuid), 36), ord("-"), dtype=np.uint8)
    canonical[:, _DIGIT_AT[0::2]], canonical[:, _DIGIT_AT[1::2]] = _DIGITS[uuid >> 4], _DIGITS[uuid & 15]
    array = pa.LargeStringArray.from_buffers(
        len(uuid),
        pa.py_buffer(np.arange(0, 36 * len(uuid) + 1, 36, dtype=np.int64)),
        pa.py_buffer(canonical),
        _validity(texts),
        texts.null_count,
    )
    return pl.Series(object_ids.name, array, dtype=pl.String)


def uuid_for(object_id: str) -> str:
    """One ObjectId (24 hex) -> its UUID text, in plain Python; for docs, tests and lookups."""
    value = int(object_id, 16)
    seconds, tail = value >> 64, value & ((1 << 64) - 1)
    high = (seconds * 1000) << 16 | 0x7000 | tail >> 52
    low = 1 << 63 | (tail & ((1 << 52) - 1)) << 10
    text = f"{high:016x}{low:016x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def object_id_of(uuid: str) -> str:
    """Read the ObjectId back from a UUID made by this module."""
    value = int(uuid.replace("-", ""), 16)
    seconds = (value >> 80) // 1000
    tail = ((value >> 64) & 0xFFF) << 52 | ((value & ((1 << 62) - 1)) >> 10)
    return f"{seconds:08x}{tail:016x}"


def migrated_object_id(uuid: str) -> str | None:
    """The ObjectId a UUID was made from, or None for a UUID this module did not make (the app's
    own): only the first reads back to the same UUID."""
    object_id = object_id_of(uuid)
    return object_id if len(object_id) == 24 and uuid_for(object_id) == uuid.lower() else None


_NIL = "00000000-0000-0000-0000-000000000000"


def uuid_binary(texts: pa.Array) -> pa.Array:
    """Canonical UUID text -> 16 raw bytes each, the form PostgreSQL's binary COPY takes;
    nulls stay null. Like `uuids_of`, a byte-matrix operation."""
    rule = "a UUID is 36 characters: 32 hex digits and 4 dashes"
    raw = _hex_bytes(_characters(texts, 36, _NIL, rule)[:, _DIGIT_AT], rule)
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), len(texts), [_validity(texts), pa.py_buffer(raw.tobytes())], texts.null_count
    )


def uuid_array(object_ids: pl.Series) -> pa.ExtensionArray:
    """ObjectIds as 12 raw bytes (none null) -> their UUIDs as Arrow's uuid type: 16 bytes each,
    what DuckDB compares with PostgreSQL's uuid columns without writing a character."""
    raw = object_ids.rechunk().to_arrow().cast(pa.large_binary()).cast(pa.binary(12))
    matrix = np.frombuffer(raw.buffers()[1], dtype=np.uint8)[raw.offset * 12 : (raw.offset + len(raw)) * 12]
    return _as_uuid(pa.py_buffer(uuid_bytes(matrix.reshape(len(raw), 12)).tobytes()), len(raw))


def uuid_text_array(texts: pl.Series) -> pa.ExtensionArray:
    """Canonical UUID text (none null) -> Arrow's uuid type, as `uuid_array` gives it."""
    raw = uuid_binary(texts.rechunk().to_arrow())
    return _as_uuid(raw.buffers()[1], len(raw))


def _as_uuid(data: pa.Buffer, length: int) -> pa.ExtensionArray:
    storage = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), length, [None, data])
    return pa.ExtensionArray.from_storage(pa.uuid(), storage)


def in_lists(convert, lists: pa.Array) -> pa.LargeListArray:
    """`convert` (an array -> an array of the same length) applied to every element of a list
    array, keeping each list's order, duplicates and nulls."""
    offsets = lists.offsets.to_numpy()
    values = lists.values.slice(offsets[0], offsets[-1] - offsets[0])
    return pa.LargeListArray.from_arrays(
        pa.array(offsets - offsets[0], pa.int64()), convert(values), mask=lists.is_null()
    )


def idmap_frame(collection: str, object_ids: pl.Series) -> pl.DataFrame:
    """The lookup frame staged under idmap/: collection, object_id, id."""
    return _idmap(collection, object_ids.drop_nulls().unique(maintain_order=True))


def idmap_slices(collection: str, object_ids: pl.Series, rows: int) -> Iterator[pl.DataFrame]:
    """The same frame `rows` rows at a time (at least one frame): a large collection's UUIDs are
    never all held as text at once."""
    ids = object_ids.drop_nulls().unique(maintain_order=True)
    for at in range(0, max(len(ids), 1), rows):
        yield _idmap(collection, ids.slice(at, rows))


def _idmap(collection: str, ids: pl.Series) -> pl.DataFrame:
    """collection, object_id, id of ObjectIds that are distinct and not null."""
    return pl.DataFrame(
        {
            "collection": pl.Series([collection] * len(ids), dtype=pl.String),
            "object_id": ids,
            "id": uuids_of(ids),
        }
    )
