"""The batches a load writes from the staged parts: every row of each part into a table written
for the first time; else the changed rows of all parts gathered into batches, updates first."""

import polars as pl

from toolkit.stages.changes import DIGEST, Changes, compare, digests
from toolkit.stages.load import _writes

COLUMNS = ["id", "name"]


def staged_parts(tmp_path, sizes: list[int]) -> list:
    """Parts of `sizes` rows; row ids count on from part to part."""
    paths, first = [], 0
    for number, size in enumerate(sizes):
        path = tmp_path / f"part-{number:05d}.parquet"
        ids = [f"{first + n:04d}" for n in range(size)]
        pl.DataFrame({"id": ids, "name": [f"name {i}" for i in ids]}).write_parquet(path)
        paths.append(path)
        first += size
    return paths


def staged_rows(paths: list) -> pl.DataFrame:
    frames = []
    for number, path in enumerate(paths):
        frame = pl.read_parquet(path)
        frames.append(
            frame.select("id").with_columns(
                digests(frame, COLUMNS),
                pl.lit(number, pl.UInt32).alias("part"),
                pl.int_range(frame.height, dtype=pl.UInt32).alias("row"),
            )
        )
    return pl.concat(frames)


def owned_with(staged: pl.DataFrame, changed: set[str], new: set[str]) -> pl.DataFrame:
    """What an earlier load left: every staged row but `new`, those in `changed` with another digest."""
    return staged.filter(~pl.col("id").is_in(list(new))).select(
        "id", pl.when(pl.col("id").is_in(list(changed))).then(pl.col(DIGEST) + 1).otherwise(DIGEST).alias(DIGEST)
    )


def test_a_first_load_inserts_every_row_of_each_part_in_batches(tmp_path):
    paths = staged_parts(tmp_path, [5, 3])

    written = [(kind, batch["id"].to_list()) for kind, batch in _writes(paths, None, COLUMNS, 4)]

    assert written == [
        ("insert", ["0000", "0001", "0002", "0003"]),
        ("insert", ["0004"]),
        ("insert", ["0005", "0006", "0007"]),
    ]


def test_changes_spread_over_parts_gather_into_batches_and_updates_go_first(tmp_path):
    paths = staged_parts(tmp_path, [4, 4, 4, 4])
    staged = staged_rows(paths)
    changes: Changes = compare(staged, owned_with(staged, {"0001", "0006", "0009", "0014"}, {"0003", "0012"}), ["id"])

    written = [(kind, batch["id"].to_list()) for kind, batch in _writes(paths, changes, COLUMNS, 3)]

    assert written == [("update", ["0001", "0006", "0009"]), ("update", ["0014"]), ("insert", ["0003", "0012"])]


def test_each_row_written_carries_its_staged_values_and_digest(tmp_path):
    paths = staged_parts(tmp_path, [3, 3])
    staged = staged_rows(paths)
    changes = compare(staged, owned_with(staged, {"0004"}, {"0000"}), ["id"])

    rows = pl.concat([batch for _, batch in _writes(paths, changes, COLUMNS, 10)])

    assert rows.select(COLUMNS).rows() == [("0004", "name 0004"), ("0000", "name 0000")]
    assert rows[DIGEST].to_list() == digests(rows, COLUMNS).to_list()


def test_nothing_changed_writes_nothing(tmp_path):
    paths = staged_parts(tmp_path, [2, 2])
    staged = staged_rows(paths)

    assert list(_writes(paths, compare(staged, owned_with(staged, set(), set()), ["id"]), COLUMNS, 3)) == []
