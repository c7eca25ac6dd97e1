"""What a load must write to make a table's migrated rows equal its staged rows.

The target remembers, per table, the key and a digest of every row the migration wrote (the
owned rows, `m2pg.owned_<table>`). Comparing the staged rows' keys and digests with them gives
the rows to insert, to update and to delete; everything else is left as it is. Rows the
migration did not write are not among the owned rows, so no change ever reaches them.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

DIGEST = "m2pg_digest"
SEED = 20_261_201  # fixed: a row's digest must be the same in every process


def digests(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """One 64-bit digest per row of the columns as they are loaded (a null list, an empty list
    and a list holding a null differ); signed, as PostgreSQL's bigint stores it."""
    return frame.select(columns).hash_rows(seed=SEED).reinterpret(signed=True).alias(DIGEST)


def with_digests(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """The clean rows as staged: each with its digest, taken once by transform, so a load that
    compares a table reads two columns of its parts, not every value."""
    return frame.with_columns(digests(frame, columns))


@dataclass(frozen=True)
class Changes:
    """A table's changes: the staged rows to insert and to update (keys, digest and where the
    row is: `part`, `row`), the owned keys to delete, and how many rows stay as they are."""

    insert: pl.DataFrame
    update: pl.DataFrame
    delete: pl.DataFrame
    unchanged: int

    def counts(self) -> dict[str, int]:
        return {
            "insert": self.insert.height,
            "update": self.update.height,
            "delete": self.delete.height,
            "unchanged": self.unchanged,
        }


def compare(staged: pl.DataFrame, owned: pl.DataFrame, keys: list[str]) -> Changes:
    """staged: keys, digest, part, row of every staged row; owned: keys and digest of every row
    the migration wrote. A staged key not owned is an insert, an owned one with another digest
    an update, an owned key no staged row has a delete."""
    was = owned.select(*keys, pl.col(DIGEST).alias("m2pg_was"))
    joined = staged.join(was, on=keys, how="left")
    new = pl.col("m2pg_was").is_null()
    insert = joined.filter(new).drop("m2pg_was")
    update = joined.filter(~new & (pl.col("m2pg_was") != pl.col(DIGEST))).drop("m2pg_was")
    delete = owned.join(staged.select(keys), on=keys, how="anti").select(keys)
    return Changes(insert, update, delete, staged.height - insert.height - update.height)


def batches(rows: pl.DataFrame, size: int) -> list[pl.DataFrame]:
    """The rows in batches of `size`, in their order (each batch is one transaction)."""
    return [rows.slice(offset, size) for offset in range(0, rows.height, size)]
