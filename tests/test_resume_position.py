"""Extract's resume point from a dump: after any number of staged documents, the rest of the
collection follows, none staged twice and none skipped, whatever the `_id` types and repeats."""
import bson
import pytest
from bson import Int64, ObjectId

from toolkit.bson_index import document_bounds
from toolkit.extract import parts
from toolkit.sources import DumpSource, Position, resume_point

IDS = [ObjectId("6b064c82833346aaba78a43f"), 3, "b", 2.5, ObjectId("0000000000000000000000aa"), "a", Int64(-7),
       "b", ObjectId("ffffffffffffffffffffffff"), 3, "", 10, ObjectId("6b064c82833346aaba78a43f"), "b"]


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    """A collection whose `_id`s mix numbers, strings and ObjectIds, some repeated, in no order."""
    folder = tmp_path_factory.mktemp("dump")
    (folder / "nextcrm").mkdir()
    data = b"".join(bson.encode({"_id": value, "n": n}) for n, value in enumerate(IDS))
    (folder / "nextcrm" / "Boards.bson").write_bytes(data)
    return DumpSource(folder, "nextcrm")


def documents(chunks) -> list[dict]:
    return [doc for chunk in chunks for doc in bson.decode_all(bytes(chunk))]


def test_a_dump_is_read_in_id_order_bracket_by_bracket(dump):
    assert [d["_id"] for d in documents(dump.chunks("Boards", 4))] == [
        -7, 2.5, 3, 3, 10, "", "a", "b", "b", "b", ObjectId("0000000000000000000000aa"),
        ObjectId("6b064c82833346aaba78a43f"), ObjectId("6b064c82833346aaba78a43f"), ObjectId("ffffffffffffffffffffffff")]


@pytest.mark.parametrize("done", range(1, len(IDS) + 1))
@pytest.mark.parametrize("batch", [1, 3, 100])
def test_a_resume_after_any_document_reads_exactly_the_rest(dump, done, batch):
    whole = documents(dump.chunks("Boards", 100))
    staged = b"".join(bson.encode(d) for d in whole[:done])
    last, key, copies = resume_point(staged)
    rest = documents(dump.chunks("Boards", batch, Position(done, last, copies, key)))
    assert [d["n"] for d in rest] == [d["n"] for d in whole[done:]]


@pytest.mark.parametrize("values, last, copies", [
    ([1, 2, 3], '{"$numberInt": "3"}', 1),
    (["a", "b", "b"], '"b"', 2),
    ([2, 2, 2], '{"$numberInt": "2"}', 3),
    ([ObjectId("6b064c82833346aaba78a43f")], '{"$oid": "6b064c82833346aaba78a43f"}', 1),
    (["b", "a", "b"], '"b"', 1),  # only the copies at the end count
])
def test_resume_point_is_the_last_id_and_its_copies_at_the_end(values, last, copies):
    chunk = b"".join(bson.encode({"_id": v}) for v in values)
    found_last, _, found_copies = resume_point(chunk)
    assert (found_last, found_copies) == (last, copies)


@pytest.mark.parametrize("sizes, part_size, expected", [
    ([5], 2, [2, 2, 1]),
    ([1, 1, 1], 2, [2, 1]),
    ([3, 4], 7, [7]),
    ([3, 4], 10, [7]),
    ([2, 2], 1, [1, 1, 1, 1]),
    ([], 3, []),
])
def test_parts_regroup_chunks_into_whole_parts(sizes, part_size, expected):
    counter = iter(range(100))
    chunks = [b"".join(bson.encode({"_id": next(counter)}) for _ in range(size)) for size in sizes]
    found = [data for data, _ in parts(chunks, part_size)]
    assert [len(document_bounds(p)[0]) for p in found] == expected
    assert [d["_id"] for p in found for d in bson.decode_all(p)] == list(range(sum(sizes)))
