"""A quarantined record keeps its original document byte for byte, whatever BSON types it holds:
the readable extended JSON text (`document`) is relaxed, and relaxed extended JSON does not tell
an Int64 from an Int32, a symbol from a string, or a user's `{"$date": 5}` from a date, so each
record also holds the document's exact bytes (`bson`). From BSON files alone: no server."""

import bson
import polars as pl
from bson import Int64, ObjectId
from bson.json_util import loads

from processes import m2pg


def test_quarantined_documents_keep_their_exact_bytes(tmp_path):
    folder = tmp_path / "dump" / "nextcrm"
    folder.mkdir(parents=True)
    symbol = bson.encode({"_id": ObjectId("5c32189ae8a1b74ed8407894"), "email": "d@x", "userStatus": "x", "n": "s"})
    at = symbol.index(b"\x02n\x00")
    documents = [
        bson.encode({"_id": ObjectId("5c32189ae8a1b74ed8407891"), "__v": Int64(0), "email": "a@x"}),  # loads
        bson.encode({"_id": ObjectId("5c32189ae8a1b74ed8407892"), "__v": Int64(3), "email": "b@x", "userStatus": "a"}),
        bson.encode(
            {"_id": ObjectId("5c32189ae8a1b74ed8407893"), "email": "c@x", "userStatus": "a", "x": {"$date": 5}}
        ),
        symbol[:at] + b"\x0e" + symbol[at + 1 :],  # a symbol (BSON type 0x0E) where a string was
        bson.encode({"_id": Int64(7), "email": "e@x"}),  # an _id that is no ObjectId
    ]
    (folder / "Users.bson").write_bytes(b"".join(documents))
    staging = tmp_path / "staging"
    assert m2pg("extract", "--dump", str(folder.parent), "--staging", str(staging), "--quiet").returncode == 0
    assert m2pg("transform", "--staging", str(staging), "--quiet").returncode == 3
    records = pl.read_parquet(staging / "quarantine" / "Users")
    assert sorted(records["bson"].to_list()) == sorted(documents[1:])
    texts = dict(zip(records["bson"].to_list(), records["document"].to_list(), strict=True))
    assert loads(texts[documents[1]]) == bson.decode(documents[1])  # the readable text is still there
