"""The ObjectId -> UUID function: stable, time-ordered, collision-free, reversible."""
import uuid

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from bson import ObjectId

from toolkit.ids import idmap_frame, object_id_of, uuid_binary, uuid_for, uuids_of


@pytest.mark.parametrize("object_id, expected", [
    ("000000000000000000000000", "00000000-0000-7000-8000-000000000000"),
    ("ffffffffffffffffffffffff", "03e7ffff-fc18-7fff-bfff-fffffffffc00"),
    ("6b064c82833346aaba78a43f", "01a2109a-dbd0-7833-8d1a-aae9e290fc00"),
])
def test_known_values(object_id, expected):
    assert uuid_for(object_id) == expected
    assert object_id_of(expected) == object_id


def test_uuid_is_version_7_with_the_object_id_seconds_as_milliseconds():
    oid = ObjectId()
    value = uuid.UUID(uuid_for(str(oid)))
    assert value.version == 7 and value.variant == uuid.RFC_4122
    assert int.from_bytes(value.bytes[:6], "big") == int(oid.generation_time.timestamp()) * 1000


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


def test_idmap_frame_columns():
    frame = idmap_frame("Users", pl.Series(["6b064c82833346aaba78a43f", None]))
    assert frame.columns == ["collection", "object_id", "id"]
    assert frame.rows() == [("Users", "6b064c82833346aaba78a43f", "01a2109a-dbd0-7833-8d1a-aae9e290fc00")]


def test_uuid_binary_gives_each_uuid_s_bytes_and_keeps_nulls():
    texts = [uuid_for(str(ObjectId())) for _ in range(50)] + [None, "00000000-0000-7000-8000-000000000000"]
    sliced = pa.array(["not a uuid", *texts], pa.large_string()).slice(1)  # an offset into the buffers
    raw = uuid_binary(sliced).to_pylist()
    assert raw == [uuid.UUID(t).bytes if t else None for t in texts]


@pytest.mark.parametrize("bad", ["0123", "0000000g-0000-7000-8000-000000000000", "x" * 36])
def test_uuid_binary_refuses_what_is_not_a_uuid(bad):
    with pytest.raises(ValueError, match="a UUID is 36 characters"):
        uuid_binary(pa.array([uuid_for("0" * 24), bad]))


@pytest.mark.parametrize("bad", ["0123", "zz" * 12])
def test_uuids_of_refuses_what_is_not_an_object_id(bad):
    with pytest.raises(ValueError, match="an ObjectId is 24 hex digits"):
        uuids_of(pl.Series(["0" * 24, bad]))
