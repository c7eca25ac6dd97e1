"""The strict walk names each kind of malformed BSON document, accepts every well-formed one, and
never accepts bytes pymongo's decoder refuses."""

import random

import bson
import numpy as np
import polars as pl
import pytest
from bson import Binary, Code, ObjectId
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.errors import InvalidBSON
from test_bson_index import documents

from toolkit.documents import index as bt
from toolkit.documents.decode import decode_chunk
from transforms import MODELS

CODEC = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO)


def int32(n: int) -> bytes:
    return n.to_bytes(4, "little", signed=True)


def doc(body: bytes) -> bytes:
    """A document around the given elements, with a correct length and terminator."""
    return int32(len(body) + 5) + body + b"\x00"


def nested(levels: int) -> bytes:
    inner = doc(b"")
    for _ in range(levels):
        inner = doc(b"\x03d\x00" + inner)
    return inner


GOOD = bson.encode({"_id": ObjectId("0123456789abcdef01234567"), "s": "héllo", "n": 1})

CASES = [  # (what, bytes, defect, where the reason points: byte offset in the document)
    ("a length field below 5", int32(3) + b"\x00", bt.LENGTH_TOO_SMALL, 0),
    ("a length running past the end", GOOD[:-3], bt.LENGTH_PAST_END, 0),
    ("fewer than 5 bytes", b"\x05\x00", bt.LENGTH_PAST_END, 0),
    (
        "a length covering the next document",
        int32(2 * len(GOOD)) + GOOD[4:] + GOOD,
        bt.ELEMENTS_END_EARLY,
        len(GOOD) - 1,
    ),
    ("no terminating 0", GOOD[:-1] + b"\x01", bt.ELEMENTS_END_EARLY, len(GOOD) - 1),
    ("an unknown element type", doc(b"\x42k\x00" + int32(1)), bt.BAD_TYPE, 4),
    (
        "type 0x00 inside the elements",
        doc(b"\x10k\x00" + int32(1) + b"\x00\x10j\x00" + int32(2)),
        bt.ELEMENTS_END_EARLY,
        11,
    ),
    ("a key with no end", doc(b"\x10abc"), bt.KEY_WITHOUT_END, 4),
    ("a NUL inside a key", doc(b"\x02ti\x00tle\x00" + int32(2) + b"v\x00"), bt.BAD_STRING, 8),
    ("a string length past its document", doc(b"\x02s\x00" + int32(50) + b"abc\x00"), bt.BAD_STRING, 7),
    ("a string length of 0", doc(b"\x02s\x00" + int32(0) + b"\x00"), bt.BAD_STRING, 7),
    ("a negative string length", doc(b"\x02s\x00" + int32(-9) + b"ab\x00"), bt.BAD_STRING, 7),
    ("a string without its 0", doc(b"\x02s\x00" + int32(3) + b"abc"), bt.BAD_STRING, 7),
    ("invalid UTF-8 in a string", doc(b"\x02s\x00" + int32(4) + b"a\xffc\x00"), bt.BAD_UTF8, 12),
    ("an overlong UTF-8 form", doc(b"\x02s\x00" + int32(3) + b"\xc0\xaf\x00"), bt.BAD_UTF8, 11),
    ("a UTF-16 surrogate in UTF-8", doc(b"\x02s\x00" + int32(4) + b"\xed\xa0\x80\x00"), bt.BAD_UTF8, 11),
    ("UTF-8 cut at the string's end", doc(b"\x02s\x00" + int32(3) + b"a\xc3\x00"), bt.BAD_UTF8, 12),
    ("invalid UTF-8 in a key", doc(b"\x10k\xfey\x00" + int32(1)), bt.BAD_UTF8, 6),
    ("invalid UTF-8 in a nested key", doc(b"\x03o\x00" + doc(b"\x0a\x80\x00")), bt.BAD_UTF8, 12),
    ("an embedded document longer than its parent", doc(b"\x03o\x00" + int32(99) + b"\x00"), bt.BAD_DOCUMENT_LENGTH, 7),
    ("an embedded document shorter than 5", doc(b"\x04a\x00" + int32(4) + b"\x00"), bt.BAD_DOCUMENT_LENGTH, 7),
    ("an embedded document that ends early", doc(b"\x03o\x00" + int32(7) + b"\x00\x00\x00"), bt.ELEMENTS_END_EARLY, 11),
    ("a binary length past its document", doc(b"\x05b\x00" + int32(40) + b"\x00ab"), bt.BAD_BINARY, 7),
    (
        "an old binary whose inner length lies",
        doc(b"\x05b\x00" + int32(6) + b"\x02" + int32(9) + b"ab"),
        bt.BAD_BINARY,
        7,
    ),
    ("a boolean that is 2", doc(b"\x08t\x00\x02"), bt.BAD_BOOL, 7),
    ("a double cut short", doc(b"\x01d\x00" + b"\x00" * 3), bt.PAST_END, 4),
    ("a regex without its options' 0", doc(b"\x0br\x00ab\x00i"), bt.PAST_END, 4),
    ("invalid UTF-8 in a regex", doc(b"\x0br\x00a\xff\x00i\x00"), bt.BAD_UTF8, 8),
    (
        "code with scope whose scope length lies",
        doc(b"\x0fc\x00" + int32(15) + int32(2) + b"f\x00" + int32(9) + b"\x00"),
        bt.BAD_DOCUMENT_LENGTH,
        7,
    ),
    ("nesting deeper than the limit", doc(b"\x03x\x00" + nested(bt.MAX_DEPTH)), bt.TOO_DEEP, None),
]


def check(raw: bytes) -> tuple[int, int, int]:
    codes, at, numbers = bt.defects(raw, np.zeros(1, np.int64), np.full(1, len(raw), np.int64))
    return int(codes[0]), int(at[0]), int(numbers[0])


@pytest.mark.parametrize("what, raw, defect, at", CASES, ids=[c[0] for c in CASES])
def test_each_defect_is_named_where_it_is(what, raw, defect, at):
    code, found_at, _ = check(raw)
    assert code == defect
    if at is not None:
        assert found_at == at
    ix = bt.index(raw)
    field, reason = bt.describe_defect(ix, 0)
    assert reason and "{" not in reason


@pytest.mark.parametrize("what, raw, defect, at", CASES, ids=[c[0] for c in CASES])
def test_pymongo_refuses_what_the_walk_refuses(what, raw, defect, at):
    if defect == bt.TOO_DEEP:
        return  # pymongo decodes it; m2pg refuses depth its Json handling and MongoDB never reach
    with pytest.raises((InvalidBSON, UnicodeDecodeError, ValueError, TypeError, IndexError, OverflowError)):
        bson.decode_all(raw, CODEC)


def test_nesting_up_to_the_limit_is_accepted():
    assert check(doc(b"\x03x\x00" + nested(bt.MAX_DEPTH - 1)))[0] == bt.WELL_FORMED


@pytest.mark.parametrize(
    "value",
    [
        "",
        "ünïcødé 😀",
        Binary(b"\x00\xff", 2),
        Binary(b"x", 0),
        Code("g()"),
        Code("f()", {"a": [1]}),
        bson.Regex("a.b", "i"),
        bson.DBRef("c", 1),
        [[[]]],
        {"": {"": 1}},
        bson.MinKey(),
        bson.MaxKey(),
        bson.Timestamp(1, 2),
        bson.Decimal128("1.5"),
    ],
)
def test_well_formed_values_are_accepted(value):
    assert check(bson.encode({"v": value}))[0] == bt.WELL_FORMED


@pytest.mark.parametrize("seed", range(3))
def test_random_documents_are_well_formed(seed):
    buffer = b"".join(bson.encode(d) for d in documents(seed, 300))
    ix = bt.index(buffer)
    assert (ix.defects == bt.WELL_FORMED).all()


@pytest.mark.parametrize("seed", range(4))
def test_a_flipped_byte_is_accepted_only_when_pymongo_decodes_it(seed):
    """Soundness: whatever a corrupted document holds, the walk never passes bytes pymongo refuses."""
    rng = random.Random(seed)
    originals = [bson.encode(d) for d in documents(seed, 60)]
    for _ in range(1500):
        raw = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 3)):
            raw[rng.randrange(len(raw))] = rng.choice([0, 1, 2, 3, 4, 0x7F, 0x80, 0xC3, 0xFF, rng.randrange(256)])
        raw = bytes(raw)
        if check(raw)[0] == bt.WELL_FORMED:
            bson.decode(raw, CODEC)


def test_a_chunk_keeps_going_after_a_malformed_document():
    bad = doc(b"\x42k\x00" + int32(1))
    ix = bt.index(GOOD + bad + GOOD + GOOD[:-3], ["_id"])
    assert ix.defects.tolist() == [bt.WELL_FORMED, bt.BAD_TYPE, bt.WELL_FORMED, bt.LENGTH_PAST_END]
    ids = ix.elements.filter(ix.elements["field"] == 0)["doc"].to_list()
    assert ids == [0, 2]  # the truncated copy's _id lies inside bytes no length accounts for


def test_decode_keeps_every_document_and_names_the_malformed_one_where_it_lies():
    boards = next(m for m in MODELS if m.name == "Boards")
    board = {"__v": 0, "description": "d", "title": "t", "user": ObjectId(), "sharedWith": []}
    ids = [ObjectId() for _ in range(4)]
    docs = [
        bson.encode({"_id": ids[0], **board}),
        bson.encode({"_id": ids[1], **board, "title": "TITLE-X"}).replace(b"TITLE-X", b"TITLE-\xff"),
        bson.encode({"_id": ids[2], **board, "sharedWith": [ids[0], None]}),
        bson.encode({**board, "title": "no id"}),
    ]
    raw = pl.from_arrow(decode_chunk(b"".join(docs), boards, (), np.array([100, 200, 300, 400])))
    problems = raw["m2pg_problems"].to_list()
    assert raw.height == 4 and problems[0] == []
    assert raw["m2pg_object_id"].to_list()[:3] == [str(i) for i in ids[:3]]
    assert problems[1][0]["rule"] == "utf8" and problems[1][0]["field"] == "title"
    assert problems[1][0]["reason"].startswith(f"bytes 200 to {200 + len(docs[1])} of the file")
    assert problems[2] == [
        {
            "field": "sharedWith",
            "rule": "type",
            "reason": "sharedWith: element 1 is null; an ObjectId[] field holds ObjectIds only",
        }
    ]
    assert problems[3] == [{"field": "_id", "rule": "id_type", "reason": "document has no _id"}]
    assert raw["m2pg_document"].to_list() == docs
