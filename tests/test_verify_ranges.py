"""Verify holds about a budget of bytes of rows at once, whatever their size: a full verify reads
PostgreSQL's rows in one go unless thousands of them would pass it (rows of megabytes), then in
ranges of ids, cut where the expected rows' row groups start, that together hold every id once;
the expected rows come in slices of whole row groups, a sample's rows are fetched in slices."""

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from toolkit.documents.ids import uuid_for
from toolkit.stages.verify import source
from toolkit.stages.verify.records import byte_slices
from toolkit.stages.verify.source import id_ranges, rows_file
from transforms import MODELS

ACCOUNTS = next(m for m in MODELS if m.name == "crm_Accounts")


def handed_over(folder, groups: list[int], text: int) -> list[str]:
    """The accounts' rows file, one row group per entry of `groups` (its rows), each row holding
    `text` characters; returns the ids in order."""
    ids = [uuid_for(f"6b064c82833346aaba78{n:04x}") for n in range(sum(groups))]
    schema = pa.schema({"id": pa.string(), "name": pa.string()})
    with pq.ParquetWriter(rows_file(folder, ACCOUNTS.name), schema, use_dictionary=False) as w:  # as verify writes
        start = 0
        for rows in groups:
            chunk = ids[start : start + rows]
            w.write_table(pa.table({"id": chunk, "name": ["x" * text] * rows}))
            start += rows
    return ids


def test_small_rows_are_read_in_one_go(tmp_path):
    handed_over(tmp_path, [1_000, 1_000, 500], text=100)
    assert id_ranges(tmp_path, ACCOUNTS) == [(None, None)]


def test_large_rows_are_read_in_ranges_that_hold_every_id_once(tmp_path, monkeypatch):
    monkeypatch.setattr(source, "RANGE_BYTES", 100_000)
    ids = handed_over(tmp_path, [3, 3, 3, 3, 3], text=30_000)  # a group: about 90 kB
    ranges = id_ranges(tmp_path, ACCOUNTS)
    assert ranges == [(None, ids[3]), (ids[3], ids[6]), (ids[6], ids[9]), (ids[9], ids[12]), (ids[12], None)]
    for i in ids:
        assert sum((low is None or low <= i) and (high is None or i < high) for low, high in ranges) == 1


@pytest.mark.parametrize("groups", [[2, 2], [1], [4, 1, 4]])
def test_a_single_large_row_group_range_still_covers_everything(tmp_path, monkeypatch, groups):
    monkeypatch.setattr(source, "RANGE_BYTES", 10)
    ids = handed_over(tmp_path, groups, text=1_000)
    ranges = id_ranges(tmp_path, ACCOUNTS)
    assert len(ranges) == len(groups) and ranges[0][0] is None and ranges[-1][1] is None
    assert [low for low, _ in ranges[1:]] == [ids[sum(groups[:n])] for n in range(1, len(groups))]


def test_expected_rows_come_in_slices_sized_by_their_row_groups_not_the_average_row(tmp_path, monkeypatch):
    """Small rows first, then a stretch of large ones: a slice holds whole row groups up to the
    budget (one at least), and never more than the rows asked for."""
    industries = next(m for m in MODELS if m.name == "crm_Industry_Type")  # references nothing
    monkeypatch.setattr(source, "PART_BYTES", 50_000)
    groups = [(20, 10), (20, 10), (20, 10), (2, 40_000), (2, 40_000), (1, 40_000)]  # (rows, characters a row)
    schema = pa.schema({"id": pa.string(), "__v": pa.int32(), "name": pa.string(), "_object_id": pa.string()})
    with pq.ParquetWriter(rows_file(tmp_path, industries.name), schema, use_dictionary=False) as w:
        number = 0
        for rows, text in groups:
            oids = [f"6b064c82833346aaba78{n:04x}" for n in range(number, number + rows)]
            names = [f"{n:05d}" * (text // 5) for n in range(number, number + rows)]
            w.write_table(pa.table([[uuid_for(o) for o in oids], [0] * rows, names, oids], schema=schema))
            number += rows
    slices = list(source.resolved_slices(tmp_path, industries, source.Loaded(tmp_path), 25))
    assert [s.height for s in slices] == [25, 25, 10, 2, 2, 1]  # 60 small rows in 25s; each large group alone
    assert pl.concat(slices)["_object_id"].to_list() == [f"6b064c82833346aaba78{n:04x}" for n in range(65)]


def test_a_sample_is_fetched_in_slices_of_about_the_budget_and_in_its_order():
    rows = pl.DataFrame(
        {
            "name": ["a" * 10, "b" * 10, "c" * 100, "d" * 5, "e" * 5],
            "n": [1, 2, 3, 4, 5],
            "blob": [None, b"q" * 20, None, None, None],
        }
    )
    assert [s["n"].to_list() for s in byte_slices(rows, 30)] == [[1], [2], [3], [4, 5]]  # a row alone may pass it
    assert [s["n"].to_list() for s in byte_slices(rows, 1_000)] == [[1, 2, 3, 4, 5]]
    assert list(byte_slices(rows.head(0), 30)) == []
