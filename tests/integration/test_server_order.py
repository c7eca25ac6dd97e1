"""A live server read in `_id` order: one sorted query for a fresh read, two for a resume, and
the same documents in the same order as from a dump of them, whatever types the `_id`s have."""

import datetime

import bson
import pytest
from bson import Binary, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from pymongo import MongoClient

from toolkit.runtime.servers import embedded_mongo
from toolkit.sources.readers import DumpSource, MongoSource, Position, resume_point

IDS = [  # every bracket a server sorts `_id`s by (but embedded documents, which a dump keeps in
    # file order), out of order, most of them twice or more within a bracket
    ObjectId("6b064c82833346aaba78a43f"),
    3,
    "b",
    2.5,
    ObjectId("0000000000000000000000aa"),
    "a",
    Int64(-7),
    "",
    None,
    MaxKey(),
    MinKey(),
    True,
    False,
    datetime.datetime(2020, 1, 1),
    Binary(b"x"),
    Binary(b"y", 5),
    Binary(b"w"),  # of one length: the embedded server compares binary data by its bytes alone
    Timestamp(5, 1),
    Timestamp(4, 9),
    Timestamp(5, 0),
    Regex("a"),
    10,
]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    documents = [{"_id": value, "n": n} for n, value in enumerate(IDS)]
    folder = tmp_path_factory.mktemp("dump")
    (folder / "nextcrm").mkdir()
    (folder / "nextcrm" / "Boards.bson").write_bytes(b"".join(bson.encode(d) for d in documents))
    with embedded_mongo(tmp_path_factory.mktemp("mongo")) as uri:
        MongoClient(uri)["nextcrm"]["Boards"].insert_many(documents)
        yield MongoSource(uri, "nextcrm"), DumpSource(folder, "nextcrm")


def numbers(chunks) -> list[int]:
    return [d["n"] for chunk in chunks for d in bson.decode_all(bytes(chunk))]


def test_a_server_gives_the_documents_in_the_order_a_dump_is_read(sources):
    server, dump = sources
    order = numbers(dump.chunks("Boards", 100))
    assert sorted(order) == list(range(len(IDS)))
    assert numbers(server.chunks("Boards", 3)) == order


@pytest.mark.parametrize("done", [n for n in range(1, len(IDS) + 1) if n != len(IDS) - 1])
def test_a_resume_from_a_server_reads_exactly_the_rest(sources, done):
    """After any document but the regular expression, second to last: no server compares one."""
    server, dump = sources
    whole = [d for chunk in dump.chunks("Boards", 100) for d in bson.decode_all(bytes(chunk))]
    assert isinstance(whole[len(IDS) - 2]["_id"], Regex)
    last, key, copies = resume_point(b"".join(bson.encode(d) for d in whole[:done]))
    rest = numbers(server.chunks("Boards", 4, Position(done, last, copies, key)))
    assert rest == [d["n"] for d in whole[done:]]


def test_a_server_is_asked_its_counts_once_per_collection(sources):
    server, _ = sources
    assert server.count("Boards") == len(IDS) and server.volume("Boards") == len(IDS) * 1024
    assert server.counts == {"Boards": len(IDS)}
