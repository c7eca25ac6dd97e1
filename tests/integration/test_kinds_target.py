"""Every kind through the real target: the clean frame transform writes (the row's `clean` type)
is copied by load (its `copy`) into the column the DDL creates (its `pg_type`), and read back
by verify (its `read`, `read_dtype`) equal to what verify's own oracle expects from the source."""

from datetime import datetime

import bson
import polars as pl
import psycopg
from bson import ObjectId
from bson.codec_options import CodecOptions, DatetimeConversion

from toolkit.declarations.kinds import KINDS
from toolkit.declarations.spec import ID, Field, Kind, ModelSpec
from toolkit.documents.decode import decode_chunk
from toolkit.documents.ids import uuid_for
from toolkit.stages.load import connect, load_types, to_arrow
from toolkit.stages.transform.judge import judge
from toolkit.stages.transform.outcome import Outcome
from toolkit.stages.transform.rows import clean_rows
from toolkit.stages.verify.compare import pg_select, same
from toolkit.stages.verify.oracle import canonical_json, expected_value
from toolkit.target.schema import create_schema

ENUMS = {"E": ("A", "B")}
FIELDS = tuple(Field(k.name.lower(), k, optional=True, enum="E" if k is Kind.ENUM else None) for k in Kind)
MODEL = ModelSpec("AllKinds", (ID, *FIELDS))
DOCUMENTS = [
    {
        "_id": ObjectId(),
        "object_id": ObjectId(),
        "text": "é\tx",
        "int": -(2**31),
        "bool": False,
        "datetime": datetime(1, 1, 1),
        "json": {"b": [1, 2.5, None], "a": "s"},
        "enum": "B",
        "text_list": ["", "x"],
        "uuid_list": [ObjectId(), ObjectId()],
    },
    {
        "_id": ObjectId(),
        "int": 2**31 - 1,
        "bool": True,
        "datetime": datetime(9999, 12, 31, 23, 59, 59, 999000),
        "json": [],
        "text_list": [],
        "uuid_list": [],
    },
    {"_id": ObjectId()},
]


def clean_frame() -> pl.DataFrame:
    raw = pl.from_arrow(decode_chunk(b"".join(bson.encode(d) for d in DOCUMENTS), MODEL))
    judged = judge(raw, MODEL, ENUMS, Outcome())
    assert judged["problems"].to_list() == [[]] * len(DOCUMENTS)
    return clean_rows(judged, MODEL, lambda _: pl.Series([], dtype=pl.String), {"dangling_ids": {}})


def test_each_kind_is_copied_into_its_column_and_read_back_as_the_oracle_expects(pg_uri):
    create_schema(pg_uri, [MODEL], [], ENUMS)
    clean = clean_frame()
    assert dict(clean.drop("_object_id").schema) == {f.name: KINDS[f.kind].clean for f in MODEL.fields}
    with connect(pg_uri) as conn, conn.cursor() as cur:
        cur.adbc_ingest(MODEL.table, to_arrow(clean, load_types(MODEL, [])), mode="append")
        conn.commit()

    with psycopg.connect(pg_uri) as conn:
        rows = conn.execute(f"SELECT {pg_select(MODEL)} ORDER BY 1").fetchall()
    read = pl.DataFrame(rows, schema={f.name: KINDS[f.kind].read_dtype for f in MODEL.fields}, orient="row")
    codec = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_MS)
    by_id = {expected_value(ID, {}, str(d["_id"])): bson.decode(bson.encode(d), codec) for d in DOCUMENTS}
    assert sorted(by_id) == read["id"].to_list()
    for row in read.iter_rows(named=True):
        document = by_id[row["id"]]
        for f in FIELDS:
            expected = expected_value(f, document, str(document["_id"]))
            if f.kind is Kind.OBJECT_ID and expected is not None:  # hex until verify resolves it
                expected = uuid_for(expected)
            found = canonical_json(row[f.name]) if f.kind is Kind.JSON else row[f.name]
            assert same(f.kind, expected, found), (f.name, expected, found)
