"""A resume reads exactly what follows the `_id` a part ended with, whatever its type, on a
server (the embedded one sorts as MongoDB does):
- a NaN, which the server sorts before every other number, and which no number is `$gt`: the
  numbers after it were never read again;
- JavaScript code (with or without a scope), which sorts after regular expressions and before
  MaxKey: its type was in no bracket a resume asked for (skipped), and code is a str in Python,
  taken for a string (the ObjectIds read twice). A dump is read in the server's order too."""

import bson
import pytest
from bson import Code, Decimal128, MaxKey, ObjectId
from pymongo import MongoClient

from toolkit.runtime.servers import embedded_mongo
from toolkit.sources.readers import DumpSource, MongoSource, Position, resume_point

ODD = {
    "nan": [3, float("nan"), 1, 2.5, float("-inf"), Decimal128("7.5"), "a", ObjectId("6b064c82833346aaba78a43f")],
    "code": [
        Code("function () { return 2; }"),
        ObjectId("6b064c82833346aaba78a43f"),
        "b",
        MaxKey(),
        Code("function () { return 1; }"),
        ObjectId("0000000000000000000000aa"),
        3,
    ],
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Per kind of `_id`: the server's database of that name and a dump of the same documents."""
    folder = tmp_path_factory.mktemp("dump")
    with embedded_mongo(tmp_path_factory.mktemp("mongo")) as uri:
        found = {}
        for name, ids in ODD.items():
            documents = [{"_id": value, "n": n} for n, value in enumerate(ids)]
            (folder / name).mkdir()
            (folder / name / "Boards.bson").write_bytes(b"".join(bson.encode(d) for d in documents))
            MongoClient(uri)[name]["Boards"].insert_many(documents)
            found[name] = MongoSource(uri, name), DumpSource(folder, name)
        yield found


def read(chunks) -> list[dict]:
    return [d for chunk in chunks for d in bson.decode_all(bytes(chunk))]


def test_a_dump_is_read_in_the_order_a_server_gives_code_ids(sources):
    server, dump = sources["code"]
    assert [d["n"] for d in read(dump.chunks("Boards", 100))] == [d["n"] for d in read(server.chunks("Boards", 3))]


@pytest.mark.parametrize(
    ("kind", "done"), [(kind, done) for kind, ids in ODD.items() for done in range(1, len(ids) + 1)]
)
def test_a_resume_from_a_server_reads_exactly_the_rest(sources, kind, done):
    server, _ = sources[kind]
    whole = read(server.chunks("Boards", 100))
    assert sorted(d["n"] for d in whole) == list(range(len(ODD[kind])))
    last, key, copies = resume_point(b"".join(bson.encode(d) for d in whole[:done]))
    rest = read(server.chunks("Boards", 3, Position(done, last, copies, key)))
    assert [d["n"] for d in rest] == [d["n"] for d in whole[done:]]
