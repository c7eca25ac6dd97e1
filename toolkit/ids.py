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

import numpy as np
import polars as pl
import pyarrow as pa

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


def _hex_to_matrix(hexes: pl.Series, width: int) -> np.ndarray:
    """Hex strings of one width -> an (n, width) byte matrix, without a row loop."""
    raw = hexes.str.decode("hex").to_arrow().cast(pa.large_binary())
    if len(raw) == 0:
        return np.empty((0, width), dtype=np.uint8)
    start = np.frombuffer(raw.buffers()[1], dtype=np.int64)[raw.offset]
    data = np.frombuffer(raw.buffers()[2], dtype=np.uint8)
    return data[start:start + len(raw) * width].reshape(len(raw), width)


def _canonical(hex32: pl.Expr) -> pl.Expr:
    parts = [hex32.str.slice(a, b - a) for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))]
    return pl.concat_str(parts, separator="-")


def uuids_of(object_ids: pl.Series) -> pl.Series:
    """24-hex ObjectId strings -> canonical UUID text; nulls stay null."""
    valid = object_ids.is_not_null()
    filled = object_ids.fill_null("0" * 24).str.to_lowercase()
    matrix = uuid_bytes(_hex_to_matrix(filled, 12))
    binary = _binary16(matrix)
    text = pl.select(_canonical(pl.lit(binary).bin.encode("hex"))).to_series()
    return pl.select(pl.when(valid).then(text)).to_series().alias(object_ids.name)


def _binary16(matrix: np.ndarray) -> pl.Series:
    arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), len(matrix), [None, pa.py_buffer(matrix.tobytes())])
    return pl.from_arrow(arr.cast(pa.binary()))


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


def uuid_text_to_binary(uuids: pl.Expr) -> pl.Expr:
    """Canonical UUID text -> 16 raw bytes, the form PostgreSQL's binary COPY takes."""
    return uuids.str.replace_all("-", "", literal=True).str.decode("hex")


def idmap_frame(collection: str, object_ids: pl.Series) -> pl.DataFrame:
    """The lookup frame staged under idmap/: collection, object_id, id."""
    ids = object_ids.drop_nulls().unique(maintain_order=True)
    return pl.DataFrame({
        "collection": pl.Series([collection] * len(ids), dtype=pl.String),
        "object_id": ids,
        "id": uuids_of(ids),
    })
