"""What a load writes: the staged rows against the rows the migration wrote before."""

import subprocess
import sys

import polars as pl
import pytest

from toolkit.stages.changes import DIGEST, batches, compare, digests, with_digests

COLUMNS = ["id", "name", "tags", "n"]


def frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"id": pl.String, "name": pl.String, "tags": pl.List(pl.String), "n": pl.Int32}, orient="row"
    )


def staged(rows: list[tuple]) -> pl.DataFrame:
    """The rows as transform stages them (every column and the digest), where the load reads them."""
    data = with_digests(frame(rows), COLUMNS)
    assert data.columns == [*COLUMNS, DIGEST]
    return data.select("id", DIGEST).with_columns(
        pl.lit(0, pl.UInt32).alias("part"),
        pl.int_range(data.height, dtype=pl.UInt32).alias("row"),
    )


def owned(rows: list[tuple]) -> pl.DataFrame:
    data = frame(rows)
    return data.select("id").with_columns(digests(data, COLUMNS))


BEFORE = [("a", "Acme", ["x"], 1), ("b", "Beta", None, 2), ("c", "Gamma", [], 3), ("d", "Delta", ["y"], None)]


def test_each_kind_of_change_lands_in_its_own_list():
    now = [
        ("a", "Acme", ["x"], 1),  # unchanged
        ("b", "Beta", None, 3),  # a number changed
        ("c", "Gamma", [None], 3),  # an empty list became a list holding a null
        ("e", "Epsilon", None, 5),
    ]  # new; d is gone
    changes = compare(staged(now), owned(BEFORE), ["id"])
    assert changes.insert["id"].to_list() == ["e"]
    assert sorted(changes.update["id"].to_list()) == ["b", "c"]
    assert changes.delete["id"].to_list() == ["d"]
    assert changes.unchanged == 1
    assert changes.counts() == {"insert": 1, "update": 2, "delete": 1, "unchanged": 1}
    assert changes.update.filter(pl.col("id") == "b")["row"].to_list() == [1]  # where the staged row is
    assert set(changes.delete.columns) == {"id"}


def test_nothing_owned_yet_means_every_row_is_new():
    changes = compare(staged(BEFORE), owned(BEFORE).clear(), ["id"])
    assert changes.counts() == {"insert": 4, "update": 0, "delete": 0, "unchanged": 0}
    assert changes.insert["row"].to_list() == [0, 1, 2, 3]


def test_the_same_rows_again_write_nothing():
    assert compare(staged(BEFORE), owned(BEFORE), ["id"]).counts() == {
        "insert": 0,
        "update": 0,
        "delete": 0,
        "unchanged": 4,
    }


def test_junction_pairs_are_keyed_by_both_ends():
    def pairs(rows):
        data = pl.DataFrame(rows, schema={"A": pl.String, "B": pl.String}, orient="row")
        return data.with_columns(digests(data, ["A", "B"]))

    now = pairs([("1", "x"), ("1", "y"), ("2", "x")]).with_columns(
        pl.lit(0, pl.UInt32).alias("part"), pl.int_range(3, dtype=pl.UInt32).alias("row")
    )
    changes = compare(now, pairs([("1", "x"), ("2", "y"), ("2", "x")]), ["A", "B"])
    assert changes.insert.select("A", "B").rows() == [("1", "y")]
    assert changes.delete.rows() == [("2", "y")]
    assert changes.counts()["update"] == 0 and changes.unchanged == 2


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("a", "Acme", ["x", "y"], 1), ("a", "Acme", ["xy"], 1)),
        (("a", "Acme", None, 1), ("a", "Acme", [], 1)),
        (("a", "Acme", [], 1), ("a", "Acme", [None], 1)),
        (("a", None, ["x"], 1), ("a", "", ["x"], 1)),
        (("a", "Acme", ["x"], None), ("a", "Acme", ["x"], 0)),
        (("a", "Acme", ["x"], 1), ("a", "Acme", ["x"], 2)),
    ],
)
def test_digests_tell_apart_values_that_print_alike(left, right):
    both = digests(frame([left, right]), COLUMNS)
    assert both.dtype == pl.Int64 and both[0] != both[1]


def test_a_digest_is_the_same_in_every_process():
    # the target keeps digests from one load to the next: they must not depend on the process
    code = (
        "import polars as pl; from toolkit.stages.changes import digests; "
        "print(digests(pl.DataFrame({'id': ['a'], 'name': ['Acme'], 'tags': [['x']], 'n': [1]}, "
        "schema={'id': pl.String, 'name': pl.String, 'tags': pl.List(pl.String), 'n': pl.Int32}), "
        "['id', 'name', 'tags', 'n'])[0])"
    )
    other = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert other == digests(frame([BEFORE[0]]), COLUMNS)[0]


def test_batches_cover_every_row_once_in_order():
    rows = pl.DataFrame({"id": [str(n) for n in range(7)], DIGEST: list(range(7))})
    parts = batches(rows, 3)
    assert [p.height for p in parts] == [3, 3, 1]
    assert pl.concat(parts)["id"].to_list() == rows["id"].to_list()
    assert batches(rows.clear(), 3) == []
