"""Which earlier parts a server vouches for: exactly as many `_id`s in the part's range as it
staged, none of them written since; anything else is read again."""

from datetime import UTC, datetime

import bson
import polars as pl
import pytest
from bson import ObjectId
from bson.json_util import CANONICAL_JSON_OPTIONS, dumps

from toolkit.sources.unchanged import kept, last_ids, stamps

IDS = [ObjectId(f"{n:024x}") for n in range(1, 10)]  # 1..9, in `_id` order


def hexes(*numbers: int) -> pl.Series:
    return pl.Series("id", [str(IDS[n - 1]) for n in numbers], pl.String)


BOUNDS = hexes(3, 5, 8)  # parts: 1-3, 4-5, 6-8 (three, two and three documents staged)
ROWS = [3, 2, 3]


@pytest.mark.parametrize(
    ("case", "now", "written", "expected"),
    [
        ("nothing changed", (1, 2, 3, 4, 5, 6, 7, 8), (), [True, True, True]),
        ("documents added after the last part", (1, 2, 3, 4, 5, 6, 7, 8, 9), (9,), [True, True, True]),
        ("one written in the middle part", (1, 2, 3, 4, 5, 6, 7, 8), (4,), [True, False, True]),
        ("the middle part's last document written", (1, 2, 3, 4, 5, 6, 7, 8), (5,), [True, False, True]),
        ("one deleted from the first part", (1, 3, 4, 5, 6, 7, 8), (), [False, True, True]),
        ("the part's last document deleted", (1, 2, 4, 5, 6, 7, 8), (), [False, True, True]),
        ("the last part emptied", (1, 2, 3, 4, 5), (), [True, True, False]),
        ("every document deleted", (), (), [False, False, False]),
    ],
)
def test_a_part_is_kept_only_when_its_range_holds_what_it_staged(case, now, written, expected):
    assert kept(BOUNDS, ROWS, hexes(*now), hexes(*written)) == expected, case


def test_an_added_document_that_replaces_a_deleted_one_is_seen_by_its_write():
    """Same count in the range, but the new document was written since: read again."""
    assert kept(BOUNDS, ROWS, hexes(1, 2, 3, 4, 5, 6, 7, 8), hexes(7)) == [True, True, False]


SINCE = datetime(2026, 1, 2, tzinfo=UTC)
BEFORE, AFTER = datetime(2025, 12, 31, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC)
FIELDS = ("updatedAt", "lastEditedAt")


def raw_batch(*documents: dict) -> bytes:
    return b"".join(bson.encode(d) for d in documents)


def milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_stamps_give_every_id_and_the_written_ones_in_id_order():
    batches = [
        raw_batch(
            {"_id": IDS[4], "updatedAt": AFTER},  # written since
            {"_id": IDS[0], "updatedAt": BEFORE, "lastEditedAt": AFTER},  # written since, by the other field
        ),
        raw_batch(
            {"_id": IDS[2], "updatedAt": BEFORE},
            {"_id": IDS[3]},  # no date: not written by the app since the fields exist
            {"_id": IDS[5], "updatedAt": "yesterday"},  # no date the app's client writes: when, it does not say
            {"_id": IDS[6], "updatedAt": bson.DatetimeMS(milliseconds(SINCE))},  # at the moment itself: before
            {"_id": IDS[7], "updatedAt": bson.DatetimeMS(2**62)},  # far beyond year 9999, as a server may hold
        ),
    ]
    ids, written = stamps(batches, FIELDS, milliseconds(SINCE))
    assert ids.to_list() == [str(IDS[n]) for n in (0, 2, 3, 4, 5, 6, 7)]
    assert written.to_list() == [str(IDS[n]) for n in (0, 4, 5, 7)]
    empty = stamps([], FIELDS, 0)
    assert empty is not None and empty[0].len() == empty[1].len() == 0


@pytest.mark.parametrize("other", ["a-string-id", 42, {"nested": 1}])
def test_an_id_that_is_no_object_id_means_no_range_can_be_trusted(other):
    assert stamps([raw_batch({"_id": IDS[0]}, {"_id": other})], FIELDS, 0) is None


def test_last_ids_of_parts_that_end_with_other_ids_are_refused():
    parts = [{"last_id": dumps(i, json_options=CANONICAL_JSON_OPTIONS)} for i in (IDS[2], IDS[4])]
    assert last_ids(parts).to_list() == [str(IDS[2]), str(IDS[4])]
    assert last_ids([*parts, {"last_id": dumps("text", json_options=CANONICAL_JSON_OPTIONS)}]) is None


def test_a_document_pymongo_cannot_decode_counts_as_written_since():
    """A real MongoDB may hold invalid UTF-8 in a string (old drivers wrote it): the catch-up's
    read of the stamps crashed on it; its part is read again, and its neighbours still count."""
    garbled = bson.encode({"_id": IDS[1], "updatedAt": "x"}).replace(b"x\x00", b"\xff\x00")
    batch = raw_batch({"_id": IDS[0], "updatedAt": BEFORE}) + garbled + raw_batch({"_id": IDS[2], "updatedAt": AFTER})
    ids, written = stamps([batch], FIELDS, milliseconds(SINCE))
    assert ids.to_list() == [str(IDS[n]) for n in (0, 1, 2)]
    assert written.to_list() == [str(IDS[n]) for n in (1, 2)]
    unreadable = bson.encode({"_id": "x"}).replace(b"x\x00", b"\xff\x00")  # its `_id` itself
    assert stamps([raw_batch({"_id": IDS[0]}) + unreadable], FIELDS, 0) is None
