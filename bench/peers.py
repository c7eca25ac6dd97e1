"""What a user would pick instead, run on the same dump: a row-by-row loader and a dlt pipeline."""
from __future__ import annotations

import datetime
import time
import uuid
from pathlib import Path

import bson
import psycopg
from bson.codec_options import CodecOptions, DatetimeConversion

from toolkit.ids import uuid_for
from toolkit.sources import DumpSource
from toolkit.spec import Kind
from transforms import MODELS

_CODEC = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO, tz_aware=False)
_EPOCH = datetime.datetime(1970, 1, 1)


def _value(field, document):
    """The per-row Python mapping such a script does, one value at a time."""
    value = document.get(field.key)
    if value is None:
        return field.default if field.default not in (None, "now()") else None
    if field.kind is Kind.OBJECT_ID:
        return uuid.UUID(uuid_for(str(value)))
    if field.kind is Kind.UUID_LIST:
        return [uuid.UUID(uuid_for(str(v))) for v in value]
    if field.kind is Kind.JSON:
        return bson.json_util.dumps(value)
    if field.kind is Kind.INT:
        return int(value)
    return value


def row_by_row(dump: Path, pg_uri: str, rows_per_insert: int = 1_000) -> dict:
    """NextCRM-script style: read each document, map it in Python, one INSERT per 1,000 rows."""
    source, documents, started = DumpSource(dump), 0, time.perf_counter()
    with psycopg.connect(pg_uri) as conn:
        for model in MODELS:
            path = source.file(model.source)
            if not path.exists():
                continue
            columns = ", ".join(f'"{f.name}"' for f in model.fields)
            pending: list[tuple] = []

            def flush() -> None:
                if pending:
                    marks = ", ".join(["(" + ", ".join(["%s"] * len(model.fields)) + ")"] * len(pending))
                    conn.execute(f'INSERT INTO "{model.table}" ({columns}) VALUES {marks} ON CONFLICT DO NOTHING',
                                 [v for row in pending for v in row])
                    pending.clear()

            with path.open("rb") as fh:
                for document in bson.decode_file_iter(fh, _CODEC):
                    pending.append(tuple(_value(f, document) for f in model.fields))
                    documents += 1
                    if len(pending) == rows_per_insert:
                        flush()
            flush()
            conn.commit()
    seconds = time.perf_counter() - started
    return {"documents": documents, "seconds": round(seconds, 3), "per_second": round(documents / seconds)}
