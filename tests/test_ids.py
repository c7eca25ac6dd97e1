"""The ObjectId -> UUID function: stable, time-ordered, collision-free, reversible."""

import uuid

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from bson import ObjectId

from toolkit.documents.ids import (
    idmap_frame,
    idmap_slices,
    in_lists,
    object_id_of,
    uuid_array,
    uuid_binary,
    uuid_for,
    uuid_text_array,
    uuids_of,
)

KNOWN = [  # worked out by hand from the layout in toolkit/documents/ids.py's docstring
    ("000000000000000000000000", "00000000-0000-7000-8000-000000000000"),
    ("ffffffffffffffffffffffff", "03e7ffff-fc18-7fff-bfff-fffffffffc00"),
    ("6b064c82833346aaba78a43f", "01a2109a-dbd0-7833-8d1a-aae9e290fc00"),
    ("0123456789abcdef01234567", "000471c7-1a58-789a-af37-bc048d159c00"),
    ("00000001000000000000000f", "00000000-03e8-7000-8000-000000003c00"),  # 1 s = 1,000 ms; last bits
    ("000000000010000000000000", "00000000-0000-7001-8000-000000000000"),  # lowest bit of rand_a
    ("80000000fff0000000000001", "01f40000-0000-7fff-8000-000000000400"),  # top second bit, full rand_a
    ("00000000000fffffffffffff", "00000000-0000-7000-bfff-fffffffffc00"),  # full rand_b
]


@pytest.mark.parametrize("object_id, expected", KNOWN)
def test_known_values(object_id, expected):
    assert uuid_for(object_id) == expected
    assert object_id_of(expected) == object_id


def test_known_values_through_the_vectorised_function():
    """`uuids_of` is what transform and extract use: the same table, as one column, with nulls
    and upper-case digits among the values."""
    hexes = [h for h, _ in KNOWN] + [None, KNOWN[2][0].upper()]
    got = uuids_of(pl.Series("user", hexes))
    assert got.name == "user" and got.dtype == pl.String
    assert got.to_list() == [u for _, u in KNOWN] + [None, KNOWN[2][1]]


def fields(object_id: bytes) -> dict[str, int]:
    """The UUIDv7 fields an ObjectId must give, read off its bytes."""
    tail = int.from_bytes(object_id[4:], "big")
    return {
        "unix_ts_ms": int.from_bytes(object_id[:4], "big") * 1000,
        "ver": 7,
        "rand_a": tail >> 52,
        "var": 0b10,
        "rand_b": (tail & ((1 << 52) - 1)) << 10,
    }


def fields_of(text: str) -> dict[str, int]:
    value = uuid.UUID(text).int
    return {
        "unix_ts_ms": value >> 80,
        "ver": value >> 76 & 0xF,
        "rand_a": value >> 64 & 0xFFF,
        "var": value >> 62 & 0b11,
        "rand_b": value & ((1 << 62) - 1),
    }


def test_vectorised_uuids_have_the_documented_fields():
    raw = [bytes(b) for b in np.random.default_rng(5).integers(0, 256, (500, 12), dtype=np.uint8)]
    got = uuids_of(pl.Series([b.hex() for b in raw])).to_list()
    assert [fields_of(u) for u in got] == [fields(b) for b in raw]
    assert [object_id_of(u) for u in got] == [b.hex() for b in raw]
    assert all(u == str(uuid.UUID(u)) for u in got)  # canonical: lower case, dashes in place


def test_uuid_is_version_7_with_the_object_id_seconds_as_milliseconds():
    oid = ObjectId()
    value = uuid.UUID(uuids_of(pl.Series([str(oid)]))[0])
    assert value.version == 7 and value.variant == uuid.RFC_4122
    assert int.from_bytes(value.bytes[:6], "big") == int(oid.generation_time.timestamp()) * 1000


def test_uuids_of_reads_a_slice_or_many_chunks_of_a_column():
    hexes = [h for h, _ in KNOWN]
    expected = [u for _, u in KNOWN]
    assert uuids_of(pl.Series(hexes)[3:6]).to_list() == expected[3:6]
    chunked = pl.concat([pl.Series(hexes[:4]), pl.Series([None, *hexes[4:]])], rechunk=False)
    assert chunked.n_chunks() == 2
    assert uuids_of(chunked).to_list() == expected[:4] + [None] + expected[4:]
    assert uuids_of(pl.Series([], dtype=pl.String)).to_list() == []
    assert uuids_of(pl.Series([None, None], dtype=pl.String)).to_list() == [None, None]


def test_scalar_and_vectorised_forms_agree():
    hexes = [str(ObjectId()) for _ in range(200)] + ["0" * 24, "f" * 24]
    assert uuids_of(pl.Series(hexes)).to_list() == [uuid_for(h) for h in hexes]


def test_same_object_id_same_uuid_and_nulls_stay_null():
    ids = pl.Series(["6b064c82833346aaba78a43f", None, "6B064C82833346AABA78A43F"])
    first, second = uuids_of(ids), uuids_of(ids)
    assert first.to_list() == second.to_list()
    assert first[1] is None and first[0] == first[2]


def test_time_ordered():
    seconds = np.sort(np.random.default_rng(3).integers(0, 2**32, 1000, dtype=np.uint64))
    hexes = [f"{int(s):08x}{'ff' * 8}" for s in seconds[::-1]] + [f"{int(s):08x}{'00' * 8}" for s in seconds]
    ordered = sorted(hexes, key=lambda h: (h[:8], h[8:]))
    assert uuids_of(pl.Series(ordered)).to_list() == sorted(uuids_of(pl.Series(ordered)).to_list())


def test_collision_free_on_a_million_ids_sharing_timestamps():
    rng = np.random.default_rng(11)
    raw = rng.integers(0, 256, (1_000_000, 12), dtype=np.uint8)
    raw[:, :4] = rng.integers(0, 4, (1_000_000, 1), dtype=np.uint8)  # few distinct seconds
    arrow = pa.FixedSizeBinaryArray.from_buffers(pa.binary(12), len(raw), [None, pa.py_buffer(raw.tobytes())])
    hexes = pl.from_arrow(arrow.cast(pa.binary())).bin.encode("hex")
    assert uuids_of(hexes).n_unique() == hexes.n_unique()


def test_idmap_frame_holds_each_object_id_once_in_first_seen_order():
    (a, ua), (b, ub), (c, uc) = KNOWN[2], KNOWN[3], KNOWN[0]
    frame = idmap_frame("Users", pl.Series([a, None, b, a, c, b]))
    assert frame.columns == ["collection", "object_id", "id"]
    assert frame.rows() == [("Users", a, ua), ("Users", b, ub), ("Users", c, uc)]
    assert frame.schema == pl.Schema({"collection": pl.String, "object_id": pl.String, "id": pl.String})


def test_idmap_frame_keeps_the_extracted_order_of_a_large_collection():
    """The same extract stages the same file: a hash-ordered `unique` would shuffle it."""
    ids = [f"{n:024x}" for n in range(60_000, 0, -1)]
    frame = idmap_frame("Users", pl.Series(ids + ids[:10]))
    assert frame["object_id"].to_list() == ids


def test_idmap_slices_are_the_frame_a_few_rows_at_a_time():
    """The same rows as `idmap_frame`, in its order, `rows` at a time; an empty collection still
    gives one frame, with its columns."""
    ids = [f"{n:024x}" for n in range(7, 0, -1)]
    column = pl.Series([ids[0], None, *ids[1:], ids[2]])
    slices = list(idmap_slices("Users", column, 3))
    assert [s.height for s in slices] == [3, 3, 1]
    assert pl.concat(slices).rows() == idmap_frame("Users", column).rows()
    assert pl.concat(slices)["collection"].unique().to_list() == ["Users"]
    (empty,) = idmap_slices("MyAccount", pl.Series([], dtype=pl.String), 1)
    assert empty.height == 0
    assert empty.schema == pl.Schema({"collection": pl.String, "object_id": pl.String, "id": pl.String})


def test_idmap_frame_of_an_empty_collection_keeps_its_text_columns():
    frame = idmap_frame("MyAccount", pl.Series([], dtype=pl.String))
    assert frame.height == 0
    assert frame.schema == pl.Schema({"collection": pl.String, "object_id": pl.String, "id": pl.String})


def test_in_lists_converts_every_element_keeping_order_duplicates_and_nulls():
    hexes = [h for h, _ in KNOWN]
    uuids = dict(KNOWN)
    lists = pa.array([["x"], [hexes[1], hexes[0], hexes[1]], None, [], [hexes[2], None]], pa.list_(pa.string())).slice(
        1
    )  # an offset into the values
    got = in_lists(lambda values: uuids_of(pl.from_arrow(values)).to_arrow(), lists)
    assert got.to_pylist() == [[uuids[hexes[1]], uuids[hexes[0]], uuids[hexes[1]]], None, [], [uuids[hexes[2]], None]]


def test_in_lists_converts_only_the_elements_of_its_slice():
    """A slice's buffers hold the elements before and after it too; those are not its own."""
    (hexed, uuid), seen = KNOWN[3], []

    def convert(values):
        seen.append(values.to_pylist())
        return uuids_of(pl.from_arrow(values)).to_arrow()

    lists = pa.array([["before"], [hexed, hexed], ["after", "more"]], pa.large_list(pa.string())).slice(1, 1)
    assert in_lists(convert, lists).to_pylist() == [[uuid, uuid]]
    assert seen == [[hexed, hexed]]


def test_uuid_binary_gives_each_uuid_s_bytes_and_keeps_nulls():
    texts = [uuid_for(str(ObjectId())) for _ in range(50)] + [None, "00000000-0000-7000-8000-000000000000"]
    sliced = pa.array(["not a uuid", *texts], pa.large_string()).slice(1)  # an offset into the buffers
    raw = uuid_binary(sliced).to_pylist()
    assert raw == [uuid.UUID(t).bytes if t else None for t in texts]


@pytest.mark.parametrize("bad", ["0123", "0000000g-0000-7000-8000-000000000000", "x" * 36])
def test_uuid_binary_refuses_what_is_not_a_uuid(bad):
    with pytest.raises(ValueError, match="^a UUID is 36 characters: 32 hex digits and 4 dashes$"):
        uuid_binary(pa.array([uuid_for("0" * 24), bad]))


@pytest.mark.parametrize("bad", ["0123", "zz" * 12])
def test_uuids_of_refuses_what_is_not_an_object_id(bad):
    with pytest.raises(ValueError, match="^an ObjectId is 24 hex digits$"):
        uuids_of(pl.Series(["0" * 24, bad]))


def test_a_slice_reads_its_own_strings_not_the_ones_after_it():
    whole = pa.array([uuid_for("0" * 24), uuid_for("1" * 24), "not a uuid"], pa.large_string())
    assert uuid_binary(whole.slice(1, 1)).to_pylist() == [uuid.UUID(uuid_for("1" * 24)).bytes]
    assert uuid_binary(whole.slice(0, 2)).to_pylist() == [uuid.UUID(uuid_for(h * 24)).bytes for h in "01"]


def test_uuid_arrays_give_each_uuid_as_arrow_s_uuid_type_from_bytes_or_text():
    """Verify compares ids as Arrow's uuid type: from ObjectIds' 12 bytes (a junction's pairs) or
    from UUID text (a model's rows), a slice or many chunks of a column, the same UUIDs."""
    object_ids = [oid for oid, _ in KNOWN]
    expected = [uuid.UUID(u) for _, u in KNOWN]
    raw = pl.concat([pl.Series(object_ids[:3]), pl.Series(object_ids[3:])], rechunk=False).str.decode("hex")
    texts = pl.concat([pl.Series([u for _, u in KNOWN[:5]]), pl.Series([u for _, u in KNOWN[5:]])], rechunk=False)
    for array in (uuid_array(raw), uuid_text_array(texts)):
        assert array.type == pa.uuid()
        assert array.to_pylist() == expected
    assert uuid_array(raw.slice(2, 3)).to_pylist() == expected[2:5]
    assert uuid_text_array(texts.slice(4, 3)).to_pylist() == expected[4:7]


def test_only_a_uuid_made_from_an_object_id_names_one():
    """An orphan row the app wrote (its own UUID) was named by an "ObjectId" of 26 hex digits read
    out of that UUID, which no document has."""
    from toolkit.documents.ids import migrated_object_id, uuid_for

    for object_id in ("000000000000000000000000", "ffffffffffffffffffffffff", "5ef6014a26e3abad9a70a2ca"):
        assert migrated_object_id(uuid_for(object_id)) == object_id
        assert migrated_object_id(uuid_for(object_id).upper()) == object_id
    apps = ["aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", *(str(uuid.uuid4()) for _ in range(200))]
    apps.append(uuid_for("5ef6014a26e3abad9a70a2ca")[:-1] + "1")  # one bit from a migrated id
    assert [u for u in apps if migrated_object_id(u) is not None] == []
