"""Extract's resume point from a dump: after any number of staged documents, the rest of the
collection follows, none staged twice and none skipped, whatever the `_id` types and repeats."""

from itertools import islice

import bson
import pytest
from bson import Int64, ObjectId

from toolkit.documents.index import document_bounds, located
from toolkit.sources.readers import DumpSource, Position, resume_index, resume_point
from toolkit.stages.extract import parts

IDS = [
    ObjectId("6b064c82833346aaba78a43f"),
    3,
    "b",
    2.5,
    ObjectId("0000000000000000000000aa"),
    "a",
    Int64(-7),
    "b",
    ObjectId("ffffffffffffffffffffffff"),
    3,
    "",
    10,
    ObjectId("6b064c82833346aaba78a43f"),
    "b",
]


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
        -7,
        2.5,
        3,
        3,
        10,
        "",
        "a",
        "b",
        "b",
        "b",
        ObjectId("0000000000000000000000aa"),
        ObjectId("6b064c82833346aaba78a43f"),
        ObjectId("6b064c82833346aaba78a43f"),
        ObjectId("ffffffffffffffffffffffff"),
    ]


@pytest.mark.parametrize("done", range(1, len(IDS) + 1))
@pytest.mark.parametrize("batch", [1, 3, 100])
def test_a_resume_after_any_document_reads_exactly_the_rest(dump, done, batch):
    whole = documents(dump.chunks("Boards", 100))
    staged = b"".join(bson.encode(d) for d in whole[:done])
    last, key, copies = resume_point(staged)
    rest = documents(dump.chunks("Boards", batch, Position(done, last, copies, key)))
    assert [d["n"] for d in rest] == [d["n"] for d in whole[done:]]


@pytest.mark.parametrize(
    "values, last, copies",
    [
        ([1, 2, 3], '{"$numberInt": "3"}', 1),
        (["a", "b", "b"], '"b"', 2),
        ([2, 2, 2], '{"$numberInt": "2"}', 3),
        ([ObjectId("6b064c82833346aaba78a43f")], '{"$oid": "6b064c82833346aaba78a43f"}', 1),
        (["b", "a", "b"], '"b"', 1),  # only the copies at the end count
    ],
)
def test_resume_point_is_the_last_id_and_its_copies_at_the_end(values, last, copies):
    chunk = b"".join(bson.encode({"_id": v}) for v in values)
    found_last, _, found_copies = resume_point(chunk)
    assert (found_last, found_copies) == (last, copies)


@pytest.mark.parametrize(
    "sizes, part_size, expected",
    [
        ([5], 2, [2, 2, 1]),
        ([1, 1, 1], 2, [2, 1]),
        ([3, 4], 7, [7]),
        ([3, 4], 10, [7]),
        ([2, 2], 1, [1, 1, 1, 1]),
        ([], 3, []),
    ],
)
def test_parts_regroup_chunks_into_whole_parts(sizes, part_size, expected):
    counter = iter(range(100))
    chunks = [b"".join(bson.encode({"_id": next(counter)}) for _ in range(size)) for size in sizes]
    found = [data for data, _ in parts(chunks, part_size)]
    assert [len(document_bounds(p)[0]) for p in found] == expected
    assert [d["_id"] for p in found for d in bson.decode_all(p)] == list(range(sum(sizes)))


SMALLEST = len(bson.encode({"_id": 0, "p": ""}))  # a document of the tests below with no padding


def by_bytes(lengths: list[int], part_size: int, part_bytes: int) -> list[int]:
    """How many documents each part holds, greedily: while fewer than `part_size` and within
    `part_bytes`, a document too large for any part alone in one."""
    counts, size = [], 0
    for length in lengths:
        if counts and counts[-1] < part_size and size + length <= part_bytes:
            counts[-1] += 1
            size += length
        else:
            counts.append(1)
            size = length
    return counts


@pytest.mark.parametrize(
    ("pads", "part_size", "part_bytes"),
    [
        ([[0, 0, 0, 0, 0, 0]], 10, 2 * SMALLEST),  # two fit exactly: a part is at most part_bytes
        ([[0], [0], [0], [0], [0]], 10, 2 * SMALLEST + 5),  # one per chunk: a part's size runs across chunks
        ([[0, 100, 0, 0], [200], [0, 0]], 10, 3 * SMALLEST),  # documents larger than a part go alone
        ([[0, 10, 20], [30, 0, 5, 0], [0, 60, 1]], 3, 120),  # by count or by bytes, whichever is first
        ([[0] * 7, [0] * 6], 4, 10_000),  # by count only
        ([[0, 0, 0], [0, 0], [0, 0]], 10, 3 * SMALLEST - 1),  # a byte short of three: two at most
    ],
)
def test_parts_hold_at_most_part_bytes_unless_one_document_alone_is_larger(pads, part_size, part_bytes):
    counter = iter(range(100))
    documents = [[bson.encode({"_id": next(counter), "p": "x" * pad}) for pad in chunk] for chunk in pads]
    lengths = [len(d) for chunk in documents for d in chunk]
    found = list(islice(parts([b"".join(chunk) for chunk in documents], part_size, part_bytes), len(lengths) + 1))
    assert [len(document_bounds(data)[0]) for data, _ in found] == by_bytes(lengths, part_size, part_bytes)
    assert b"".join(data for data, _ in found) == b"".join(d for chunk in documents for d in chunk)


def test_parts_carry_each_document_offset_in_its_file_across_chunks():
    counter = iter(range(100))
    chunks = [
        located(b"".join(bson.encode({"_id": next(counter)}) for _ in range(len(offsets))), offsets)
        for offsets in ([100, 110, 120], [0, 10, 20, 30])
    ]
    found = [places.tolist() for _, places in parts(chunks, 5)]
    assert found == [[100, 110, 120, 0, 10], [20, 30]]


def test_a_part_with_any_document_read_from_a_server_has_no_offsets():
    chunks = [located(bson.encode({"_id": 1}), [40]), bson.encode({"_id": 2})]
    assert [places for _, places in parts(chunks, 2)] == [None]
    assert [places for _, places in parts([bson.encode({"_id": 1})], 2)] == [None]


@pytest.mark.parametrize("repeats", [15, 16, 17, 130, 200])
def test_resume_point_counts_every_copy_of_a_long_run_at_the_end(repeats):
    chunk = b"".join(bson.encode({"_id": v}) for v in ["a", *["b"] * repeats])
    assert resume_point(chunk)[::2] == ('"b"', repeats)
    assert resume_point(b"".join(bson.encode({"_id": "b"}) for _ in range(repeats)))[::2] == ('"b"', repeats)


def test_resume_point_gives_the_sort_key_a_dump_resumes_after():
    chunk = b"".join(bson.encode({"_id": v}) for v in [1, ObjectId("6b064c82833346aaba78a43f")])
    assert resume_point(chunk)[1] == [7, 0.0, "6b064c82833346aaba78a43f"]
    assert resume_point(bson.encode({"_id": 2.5}))[1] == [2, 2.5, ""]


def test_a_checkpoint_without_a_sort_key_resumes_by_count(dump):
    whole = documents(dump.chunks("Boards", 100))
    rest = documents(dump.chunks("Boards", 4, Position(5, "ignored", 1, None)))
    assert [d["n"] for d in rest] == [d["n"] for d in whole[5:]]


def test_a_resume_after_copies_not_all_staged_reads_the_copies_left(dump):
    """Two of the three "b" staged (a part ended between them): the third comes first."""
    whole = documents(dump.chunks("Boards", 100))
    staged = b"".join(bson.encode(d) for d in whole[:9])
    last, key, copies = resume_point(staged)
    assert copies == 2
    rest = documents(dump.chunks("Boards", 100, Position(9, last, copies, key)))
    assert [d["n"] for d in rest] == [d["n"] for d in whole[9:]] and rest[0]["_id"] == "b"


def test_copies_recorded_beyond_those_the_file_holds_now_do_not_skip_the_next_id(tmp_path):
    """The checkpoint counted two documents with `_id` 3; the file holds one: the resume starts at 5,
    not past it, whatever other numbers share the bracket (their key bytes are all empty)."""
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "c.bson").write_bytes(b"".join(bson.encode({"_id": v}) for v in [1, 2, 3, 5]))
    source = DumpSource(tmp_path, "db")
    _, key, _ = resume_point(b"".join(bson.encode({"_id": 3}) for _ in range(2)))
    assert resume_index(source.file("c"), Position(3, '{"$numberInt": "3"}', 2, key)) == 3
    assert [d["_id"] for d in documents(source.chunks("c", 10, Position(3, '{"$numberInt": "3"}', 2, key)))] == [5]
