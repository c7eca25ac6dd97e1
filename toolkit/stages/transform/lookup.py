"""Ids looked up in a sorted series by binary search, so no hash table of a whole collection
is built again for every part."""

from __future__ import annotations

import polars as pl


def is_among(values: pl.Series, known: pl.Series) -> pl.Series:
    """Whether each value is in `known` (sorted): a binary search, so no hash table of `known`
    is built again for every part."""
    return _position(values, known).is_not_null()


def _position(values: pl.Series, known: pl.Series) -> pl.Series:
    """Where each value is in `known` (sorted), or null."""
    if known.is_empty():
        return pl.Series([None] * values.len(), dtype=pl.UInt32)
    at = known.search_sorted(values, side="left").clip(0, known.len() - 1)
    return at.zip_with((known.gather(at) == values).fill_null(False), pl.Series([None], dtype=at.dtype))
