"""The BSON element index agrees with pymongo's decoder on keys, order and types, for any key."""

import datetime
import random

import bson
import numpy as np
import pytest
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.codec_options import CodecOptions
from bson.son import SON

from toolkit.documents import index as bt

RAW = CodecOptions(document_class=SON)
VALUES = [
    (1.5, bt.DOUBLE),
    ("text", bt.STRING),
    ("", bt.STRING),
    ({"a": {"b": 1}}, bt.DOCUMENT),
    ([1, "x", []], bt.ARRAY),
    (Binary(b"\x00\x01", 4), bt.BINARY),
    (ObjectId(), bt.OBJECT_ID),
    (True, bt.BOOL),
    (datetime.datetime(2020, 1, 2), bt.DATETIME),
    (None, bt.NULL),
    (Regex("a.*b", "i"), bt.REGEX),
    (Code("f()"), bt.CODE),
    (Code("g()", {"x": 1}), bt.CODE_W_SCOPE),
    (7, bt.INT32),
    (Timestamp(5, 1), bt.TIMESTAMP),
    (Int64(1 << 40), bt.INT64),
    (Decimal128("3.25"), bt.DECIMAL128),
    (MinKey(), bt.MINKEY),
    (MaxKey(), bt.MAXKEY),
]
KEYS = [
    "_id",
    "a",
    "",
    "name",
    "exactly8",
    "sixteen_chars_ok",
    "seventeen_chars_k",
    "a" * 24,
    "b" * 25,
    "ключ",
    "日本語のキー",
    "emoji😀key",
    "key with spaces",
    "x" * 100,
    "\u00e9t\u00e9",
    "$dollar",
    "dot.ted",
]


def documents(seed: int, count: int) -> list[SON]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        keys = rng.sample(KEYS, rng.randint(0, len(KEYS)))
        out.append(SON((k, rng.choice(VALUES)[0]) for k in keys))
    return out


def expected(docs: list[SON]) -> list[tuple[int, str, int]]:
    types = {repr(v): t for v, t in VALUES}
    return [(i, k, types[repr(v)]) for i, d in enumerate(docs) for k, v in d.items()]


@pytest.mark.parametrize("seed", range(8))
def test_index_lists_every_top_level_element_with_its_type(seed):
    docs = documents(seed, 300)
    buffer = b"".join(bson.encode(d) for d in docs)
    ix = bt.index(buffer)
    found = sorted(ix.elements.select("doc", "key", "type").rows())
    assert found == sorted(expected(docs))
    assert len(ix) == len(docs)
    assert [ix.document(i) for i in range(len(docs))] == [bson.encode(d) for d in docs]
    in_order = ix.elements.filter(ix.elements["doc"] == 1)["key"].to_list()
    assert in_order == list(bson.decode(ix.document(1), RAW))


def test_values_offsets_point_at_the_values():
    docs = [SON([("_id", ObjectId("0123456789abcdef01234567")), ("n", 42), ("emoji😀key", "v")])] * 3
    ix = bt.index(b"".join(bson.encode(d) for d in docs))
    ids = ix.elements.filter(ix.elements["key"] == "_id")["value"].to_numpy()
    assert [ix.buffer[o : o + 12].hex() for o in ids] == ["0123456789abcdef01234567"] * 3
    numbers = ix.elements.filter(ix.elements["key"] == "n")["value"].to_numpy()
    assert [int.from_bytes(ix.buffer[o : o + 4], "little") for o in numbers] == [42] * 3


@pytest.mark.parametrize(
    "buffer",
    [
        b"\x05\x00\x00",  # truncated length
        b"\x10\x00\x00\x00\x02abc",  # shorter than it says
        b"\x0c\x00\x00\x00\x10abcdefg",  # a key with no end
        b"\x0d\x00\x00\x00\x99ab\x00\x00\x00\x00\x00\x00",  # unknown type
    ],
)
def test_malformed_bytes_are_marked_and_indexed_no_further(buffer):
    ix = bt.index(buffer)
    assert len(ix) == 1 and ix.defects[0] != bt.WELL_FORMED and ix.elements.height == 0


def test_an_empty_buffer_has_no_documents():
    ix = bt.index(b"")
    assert len(ix) == 0 and ix.elements.height == 0


@pytest.mark.parametrize("seed", range(4))
def test_values_wrapped_as_documents_decode_to_the_stored_values(seed):
    docs = documents(seed, 200)
    ix = bt.index(b"".join(bson.encode(d) for d in docs))
    chosen = ix.elements.filter(ix.elements["doc"] % 3 == 0)
    wrapped = bt.values_as_documents(ix.buffer, chosen["type"].to_numpy(), chosen["value"].to_numpy())
    decoded = [d["v"] for d in bson.decode_all(wrapped, RAW)]
    stored = [docs[d][k] for d, k in zip(chosen["doc"].to_list(), chosen["key"].to_list(), strict=False)]
    assert len(decoded) == chosen.height > 0
    assert [bson.encode({"v": v}) for v in decoded] == [bson.encode({"v": v}) for v in stored]


def _ids_buffer(ids, key="_id"):
    return b"".join(bson.encode(SON([(key, i), ("x", 1)])) for i in ids)


def test_in_id_order_finds_a_buffer_already_sorted_by_object_id():
    ids = sorted(ObjectId() for _ in range(50))
    buffer = _ids_buffer(ids + [ids[-1]])  # a repeated id keeps its place, as a stable sort would
    starts, ends, last = bt.in_id_order(buffer)
    assert [bson.decode(buffer[s:e])["_id"] for s, e in zip(starts, ends, strict=False)] == ids + [ids[-1]]
    assert bytes.fromhex(f"{last[0]:08x}{last[1]:016x}") == ids[-1].binary
    assert bt.in_id_order(_ids_buffer([ObjectId()]), last) is not None  # a later block goes on from there
    assert bt.in_id_order(_ids_buffer(ids[:1]), last) is None


@pytest.mark.parametrize(
    "buffer",
    [
        _ids_buffer([ObjectId("0123456789abcdef01234568"), ObjectId("0123456789abcdef01234567")]),  # descending
        _ids_buffer([ObjectId("00000002" + "0" * 16), ObjectId("00000001" + "f" * 16)]),  # later tail, earlier second
        _ids_buffer([ObjectId(), "text id"]),  # not an ObjectId
        _ids_buffer([ObjectId(), ObjectId()], key="_ie"),  # no _id first (pymongo would move one there)
        _ids_buffer([ObjectId(), ObjectId()])[:-3],  # truncated
    ],
    ids=["descending", "later tail", "text id", "no _id first", "truncated"],
)  # fresh ObjectIds would name
def test_in_id_order_leaves_anything_else_to_the_sort(buffer):  # the cases differently in each pytest-xdist worker
    assert bt.in_id_order(buffer) is None


def test_known_keys_get_their_position_no_text_and_repeats_are_marked():
    pairs = [("_id", ObjectId()), ("a", 1), ("ключ", "x"), ("a", 2.5), ("b", None)]
    body = b"".join(bson.encode({k: v})[4:-1] for k, v in pairs)  # a repeated key needs raw bytes
    document = (len(body) + 5).to_bytes(4, "little") + body + b"\0"
    ix = bt.index(document * 2, keys=["_id", "a", "b", "unused"])
    one = [(None, 0, True), (None, 1, True), ("ключ", -1, True), (None, 1, False), (None, 2, True)]
    assert ix.elements.select("key", "field", "first").rows() == one * 2
    assert ix.elements["doc"].to_list() == [0] * 5 + [1] * 5


def test_join_rows_writes_each_rows_pieces_one_after_the_other():
    """Pieces of any length, empty ones between and at the ends, a source range used by two rows,
    rows placed with a gap: as a Python loop would join them, nothing written outside the rows."""
    rng = np.random.default_rng(5)
    data = rng.integers(0, 256, 300, dtype=np.uint8)
    starts = np.array([[0, 50, 7, 200], [10, 50, 0, 120], [3, 3, 3, 3]])
    sizes = np.array([[0, 40, 1, 3], [17, 40, 0, 0], [0, 0, 0, 0]])
    at = np.array([2, 48, 110])
    out = np.full(120, 255, np.uint8)
    expected = out.copy()
    for row, position in enumerate(at):
        joined = b"".join(data[s : s + n].tobytes() for s, n in zip(starts[row], sizes[row], strict=True))
        expected[position : position + len(joined)] = np.frombuffer(joined, np.uint8)

    bt.join_rows(out, at, data, starts, sizes)

    assert out.tobytes() == expected.tobytes()


def test_scatter_copies_each_range_to_its_place():
    """Ranges of any length, a source range used twice and an empty one, as a Python loop would."""
    rng = np.random.default_rng(3)
    data = rng.integers(0, 256, 200, dtype=np.uint8)
    starts, sizes = np.array([0, 10, 10, 150, 7]), np.array([5, 40, 40, 0, 1])
    at = np.array([0, 5, 45, 85, 85])
    out = np.zeros(86, np.uint8)
    expected = out.copy()
    for a, s, n in zip(at, starts, sizes, strict=False):
        expected[a : a + n] = data[s : s + n]

    bt.scatter(out, at, data, starts, sizes)

    assert out.tobytes() == expected.tobytes()
