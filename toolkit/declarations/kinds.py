"""The table of kinds: per `Kind`, its type at every step from BSON to PostgreSQL, in one row.

Decode, transform, validate, load, the DDL and verify each read the facts they need from
`KINDS`, so a new kind is one row here (plus the value checks and conversions it needs),
never a type written again in every stage. PostgreSQL's limits stay in `toolkit.declarations.limits`.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa
from pymongoarrow.types import ObjectIdType

from toolkit.declarations.limits import TIMESTAMP_PRECISION
from toolkit.declarations.spec import Kind
from toolkit.documents import index as bt


@dataclass(frozen=True)
class KindFacts:
    """One kind's types, stage by stage."""

    bson: frozenset[int]  # BSON types its value may be stored as (null and undefined always may)
    arrow: pa.DataType | None  # what pymongoarrow converts it to; None: staged as relaxed extended JSON text
    raw: pa.DataType  # the column staged under raw/
    clean: pl.DataType  # the column staged under clean/, as validate expects it
    pg_type: str | None  # the PostgreSQL type as the catalog names it; None: the field's own enum
    read_dtype: pl.DataType  # the value as verify reads it back (and expects it)
    read: str = "{}"  # how verify selects the column ({} is the quoted column): a value both sides share
    copy: str | None = None  # what binary COPY is handed instead of the clean value: "uuid" (16 bytes), "json"
    precision: int | None = None  # fractional-second digits of the PostgreSQL type
    fixed: tuple[int, int] | None = None  # a fixed-width PostgreSQL value's bytes and alignment (index entries)


STRING, LARGE = pa.string(), pa.large_string()
AS_TEXT = "{}::text"

KINDS: dict[Kind, KindFacts] = {
    Kind.OBJECT_ID: KindFacts(
        bson=frozenset({bt.OBJECT_ID}),
        arrow=ObjectIdType(),
        raw=LARGE,
        clean=pl.String(),
        pg_type="uuid",
        read_dtype=pl.String(),
        read=AS_TEXT,
        copy="uuid",
        fixed=(16, 1),
    ),
    Kind.TEXT: KindFacts(
        bson=frozenset({bt.STRING}), arrow=STRING, raw=STRING, clean=pl.String(), pg_type="text", read_dtype=pl.String()
    ),
    Kind.INT: KindFacts(
        bson=frozenset({bt.INT32, bt.INT64, bt.DOUBLE}),
        arrow=pa.int64(),
        raw=pa.int64(),
        clean=pl.Int32(),
        pg_type="integer",
        read_dtype=pl.Int64(),
        fixed=(4, 4),
    ),
    Kind.BOOL: KindFacts(
        bson=frozenset({bt.BOOL}),
        arrow=pa.bool_(),
        raw=pa.bool_(),
        clean=pl.Boolean(),
        pg_type="boolean",
        read_dtype=pl.Boolean(),
        fixed=(1, 1),
    ),
    Kind.DATETIME: KindFacts(
        bson=frozenset({bt.DATETIME}),
        arrow=pa.timestamp("ms"),
        raw=pa.timestamp("ms"),
        clean=pl.Datetime("ms"),
        pg_type="timestamp without time zone",
        read_dtype=pl.Int64(),
        read="(extract(epoch from {}) * 1000)::bigint",
        precision=TIMESTAMP_PRECISION,
        fixed=(8, 8),
    ),
    Kind.JSON: KindFacts(
        bson=frozenset(bt.TYPE_NAMES),
        arrow=None,
        raw=LARGE,
        clean=pl.String(),
        pg_type="jsonb",
        read_dtype=pl.String(),
        read=AS_TEXT,
        copy="json",
    ),
    Kind.ENUM: KindFacts(
        bson=frozenset({bt.STRING}),
        arrow=STRING,
        raw=STRING,
        clean=pl.String(),
        pg_type=None,
        read_dtype=pl.String(),
        read=AS_TEXT,
        fixed=(4, 4),  # an enum value is stored as its 4-byte oid
    ),
    Kind.TEXT_LIST: KindFacts(
        bson=frozenset({bt.ARRAY}),
        arrow=pa.list_(STRING),
        raw=pa.list_(STRING),
        clean=pl.List(pl.String),
        pg_type="text[]",
        read_dtype=pl.List(pl.String),
    ),
    Kind.UUID_LIST: KindFacts(
        bson=frozenset({bt.ARRAY}),
        arrow=pa.list_(ObjectIdType()),
        raw=pa.list_(LARGE),
        clean=pl.List(pl.String),
        pg_type="uuid[]",
        read_dtype=pl.List(pl.String),
        read="{}::text[]",
        copy="uuid",
    ),
}
