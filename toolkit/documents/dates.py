"""Dates as people read them, for any epoch-millisecond value a BSON date can hold.

numpy's datetime64[ms] spans the whole int64 range (about 292 million years either way), where
Python's datetime stops at years 1..9999 and polars' at about 262,000: a date beyond them is
still named in its reason as an ISO date, never sent through `datetime`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

_NAT = np.iinfo(np.int64).min  # numpy's "not a time": the one int64 it cannot show as a date


def iso_dates(ms: pl.Series) -> pl.Series:
    """ISO 8601 text (UTC, milliseconds) of epoch milliseconds; null stays null."""
    values = ms.cast(pl.Int64).fill_null(0).to_numpy()
    text = np.char.add(np.datetime_as_string(values.astype("datetime64[ms]")), "Z")
    text = np.where(values == _NAT, f"{_NAT} ms since 1970", text)
    iso = pl.Series(ms.name, text, dtype=pl.String).str.replace(r"^-(\d{3})-", "-0${1}-")  # numpy: -044
    return pl.select(pl.when(ms.is_not_null()).then(iso)).to_series()


def iso_date(ms: int) -> str:
    return iso_dates(pl.Series([ms], dtype=pl.Int64))[0]


def iso_date_expr(ms: pl.Expr) -> pl.Expr:
    return ms.map_batches(iso_dates, return_dtype=pl.String)
