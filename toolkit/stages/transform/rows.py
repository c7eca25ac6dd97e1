"""The clean rows exactly as loaded: declared columns in order, defaults applied, ObjectIds and
their lists as UUID text, and the ids that point at no extracted document counted."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from toolkit.declarations.kinds import KINDS
from toolkit.declarations.spec import NOW, Field, Kind, ModelSpec
from toolkit.documents.ids import in_lists, uuids_of
from toolkit.documents.lookup import is_among


def clean_rows(good: pl.DataFrame, model: ModelSpec, idmaps, report: dict) -> pl.DataFrame:
    """The rows to load: declared columns in order, defaults applied, ids as UUID text."""
    created = (pl.col("m2pg_object_id").str.slice(0, 8).str.to_integer(base=16) * 1000).cast(pl.Datetime("ms"))
    out = {}
    for f in model.fields:
        if f.key == "_id":
            out[f.name] = uuids_of(good["m2pg_object_id"])
        elif f.references:
            out[f.name] = good[f"m2pg_ref_{f.name}"]
        elif f.kind is Kind.OBJECT_ID:
            out[f.name] = uuids_of(good[f.key])
            report["dangling_ids"][f.name] = _dangling(good[f.key], idmaps(f.points_to))
        elif f.kind is Kind.UUID_LIST:
            out[f.name] = _uuid_lists(good[f.key].fill_null([]))
            report["dangling_ids"][f.name] = _dangling(good[f.key].explode(), idmaps(f.points_to))
        else:
            out[f.name] = good.select(_value(f, created)).to_series()
    frame = pl.DataFrame(out).with_columns(_object_id=good["m2pg_object_id"])
    return frame.select([pl.col(f.name).cast(clean_type(f)) for f in model.fields] + ["_object_id"])


def _value(f: Field, created: pl.Expr) -> pl.Expr:
    value = pl.col(f.key)
    if f.kind is Kind.TEXT_LIST:
        return value.fill_null(pl.lit([], dtype=pl.List(pl.String)))
    if f.default is None or f.optional:
        return value
    if f.default == NOW:
        return value.fill_null(created)
    return value.fill_null(pl.lit(f.default))


def clean_type(f: Field) -> pl.DataType:
    return KINDS[f.kind].clean


def _uuid_lists(lists: pl.Series) -> pl.Series:
    """Map every element through the ID function, keeping order and duplicates."""
    array = lists.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return pl.Series(in_lists(lambda values: uuids_of(pl.Series(values).cast(pl.String)).to_arrow(), array))


def _dangling(object_ids: pl.Series, known: pl.Series) -> int:
    """How many of the ids are not among `known` (sorted)."""
    present = object_ids.drop_nulls()
    return int((~is_among(present, known)).sum())
