"""Json fields: the fast encoder writes exactly the relaxed extended JSON that pymongo writes, keys sorted."""

import datetime
import math

import bson
import pytest
from bson import Binary, Code, Decimal128, Int64, ObjectId, Regex, Timestamp
from bson.json_util import RELAXED_JSON_OPTIONS, dumps

from toolkit.documents.decode import CODEC, JSON_CODEC, json_text

VALUES = [
    None,
    True,
    False,
    0,
    -1,
    2**31,
    Int64(2**62),
    1.5,
    -0.0,
    1e300,
    5e-324,
    math.nan,
    math.inf,
    -math.inf,
    "",
    "plain",
    "ünïcødé 日本 😀",
    'quote " backslash \\ newline \n tab \t nul \x00 bell \x07',
    [],
    [1, "a", None, [2.5, {"k": "v"}]],
    {},
    {"b": 1, "a": 2, "ключ": [True]},
    {"when": datetime.datetime(2024, 5, 6, 7, 8, 9, 123000)},
    [ObjectId("0123456789abcdef01234567")],
    {"n": Int64(-5), "d": Decimal128("1.10")},
    Binary(b"\x00\xff", 0),
    Binary(b"xy", 4),
    Regex("a.*", "i"),
    Timestamp(1, 2),
    {"nested": {"nan": math.nan}},
    [{"$ref": "c", "$id": 1}],
    {"items": [{"name": "Widget", "qty": 3, "price": 9.99, "tags": ["a", "b"]}] * 3},
    Code("f()"),  # a str to the standard library's encoder
    [Code("x = 1", {"y": ObjectId("0123456789abcdef01234567"), "z": math.nan})],
    {"deep": [{"code": Code("g()")}, "plain"]},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_json_text_matches_pymongo(value):
    encoded = bson.encode({"v": value})
    expected = dumps(
        bson.decode(encoded, CODEC)["v"], json_options=RELAXED_JSON_OPTIONS, ensure_ascii=False, sort_keys=True
    )
    assert json_text(bson.decode(encoded, JSON_CODEC)["v"]) == expected  # as extract decodes it


def test_keys_in_another_order_give_the_same_text():
    """jsonb keeps keys in its own order: a value whose objects only reorder their keys loads the
    same, so it stages the same text (a catch-up then sees no change in its row)."""
    oid = ObjectId("0123456789abcdef01234567")
    one = {"b": 1, "a": [{"z": Int64(2), "y": None}], "c": {"$oid-like": oid, "a": 1}}
    other = {"c": {"a": 1, "$oid-like": oid}, "a": [{"y": None, "z": Int64(2)}], "b": 1}
    texts = [json_text(bson.decode(bson.encode({"v": v}), JSON_CODEC)["v"]) for v in (one, other)]
    assert texts[0] == texts[1]
