"""The quarantine rows: each refused document with its reasons and the document itself, in the
schema the error log reads them by."""

from __future__ import annotations

import polars as pl

from toolkit.declarations.spec import ModelSpec
from toolkit.documents.decode import document_text

QUARANTINE_SCHEMA = pl.Schema(
    {
        "collection": pl.String,
        "object_id": pl.String,
        "source_id": pl.String,
        "field": pl.String,
        "rule": pl.String,
        "reason": pl.String,
        "document": pl.String,
    }
)
"""The columns people and the error log read; each part also holds `bson`, the exact bytes."""

QUARANTINE_PART_SCHEMA = pl.Schema([*QUARANTINE_SCHEMA.items(), ("bson", pl.Binary())])
"""A quarantine part: the readable record, and the original document byte for byte (relaxed
extended JSON does not tell an Int64 from an Int32, a symbol from a string, or a key such as
`$date` in the data from a date)."""


def quarantine_rows(bad: pl.DataFrame, model: ModelSpec) -> pl.DataFrame:
    """Each refused record with its reasons and its original document, as extended JSON and as its
    exact bytes."""
    documents = [document_text(raw) for raw in bad["m2pg_document"].to_list()]
    first = pl.col("problems").list.first()
    return bad.select(
        pl.lit(model.source).alias("collection"),
        pl.col("m2pg_object_id").alias("object_id"),
        pl.col("m2pg_source_id").alias("source_id"),
        first.struct.field("field").alias("field"),
        first.struct.field("rule").alias("rule"),
        pl.col("problems").list.eval(pl.element().struct.field("reason")).list.join("; ").alias("reason"),
        pl.Series("document", documents, dtype=pl.String),
        pl.col("m2pg_document").cast(pl.Binary).alias("bson"),
    ).cast(QUARANTINE_PART_SCHEMA)
