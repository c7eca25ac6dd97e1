"""Extract's parts: every document once, in order, at most `part_size` documents and
`part_bytes` bytes each (a larger document alone), each part as full as both limits allow."""

import random

import bson
import numpy as np
import pytest

from toolkit.documents.index import document_bounds, located
from toolkit.sources.readers import spans
from toolkit.stages.extract import parts


def documents(seed: int) -> list[bytes]:
    """Documents of a few bytes to a few kilobytes, some larger than the byte limit below."""
    rnd = random.Random(seed)
    return [bson.encode({"_id": n, "text": "x" * rnd.choice([0, 10, 300, 2_000, 9_000])}) for n in range(200)]


def chunked(docs: list[bytes], seed: int, with_offsets: bool) -> list:
    """The documents in chunks of random lengths, as a dump (with file offsets) or a server gives them."""
    rnd, chunks, at, offset = random.Random(seed), [], 0, 0
    while at < len(docs):
        take = rnd.randint(1, 40)
        buffer = b"".join(docs[at : at + take])
        sizes = [len(d) for d in docs[at : at + take]]
        places = offset + np.concatenate([[0], np.cumsum(sizes)[:-1]])
        chunks.append(located(buffer, places) if with_offsets else buffer)
        at, offset = at + take, offset + len(buffer)
    return chunks


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("with_offsets", [True, False])
def test_parts_keep_every_document_within_both_limits(seed, with_offsets):
    docs = documents(seed)
    part_size, part_bytes = random.Random(seed).choice([1, 7, 25, 1_000]), 8_000
    made = list(parts(chunked(docs, seed, with_offsets), part_size, part_bytes))
    assert b"".join(buffer for buffer, _ in made) == b"".join(docs)
    sizes = [len(d) for d in docs]
    first = 0
    for buffer, offsets in made:
        count = len(document_bounds(buffer)[0])
        assert count <= part_size and (len(buffer) <= part_bytes or count == 1)
        following = first + count
        if following < len(docs):  # full: the next document would pass a limit
            assert count == part_size or len(buffer) + sizes[following] > part_bytes
        if with_offsets:
            assert offsets.tolist() == np.concatenate([[0], np.cumsum(sizes)])[first:following].tolist()
        else:
            assert offsets is None
        first = following
    assert first == len(docs)


@pytest.mark.parametrize("seed", range(12))
def test_a_dump_is_read_in_spans_within_both_limits(seed):
    rnd = random.Random(seed)
    lengths = np.array([rnd.choice([5, 100, 3_000, 20_000]) for _ in range(150)])
    first, count, limit = rnd.randint(0, 20), rnd.choice([1, 9, 1_000]), 10_000
    found = list(spans(lengths, first, count, limit))
    assert [s for s, _ in found] == [first] + [stop for _, stop in found[:-1]] and found[-1][1] == len(lengths)
    for start, stop in found:
        assert stop - start <= count and (lengths[start:stop].sum() <= limit or stop - start == 1)
        if stop < len(lengths):  # as long as both limits allow
            assert stop - start == count or lengths[start : stop + 1].sum() > limit
