"""What a user would pick instead, run on the same dump: a row-by-row loader and a dlt pipeline."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path

import bson
import psycopg
from bson.codec_options import CodecOptions, DatetimeConversion

from toolkit.declarations.spec import ID, Kind
from toolkit.documents.ids import uuid_for
from toolkit.sources.readers import DumpSource
from transforms import MODELS

_CODEC = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO, tz_aware=False)


def _value(field, document):
    """The per-row Python mapping such a script does, one value at a time."""
    value = document.get(field.key)
    if value is None and field.default == "now()" and not field.optional:
        return document["_id"].generation_time.replace(tzinfo=None)
    if value is None:
        return None if field.optional or field.default == "now()" else field.default
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

            def flush(pending: list[tuple] = pending, model=model, columns: str = columns) -> None:
                if pending:
                    marks = ", ".join(["(" + ", ".join(["%s"] * len(model.fields)) + ")"] * len(pending))
                    conn.execute(
                        f'INSERT INTO "{model.table}" ({columns}) VALUES {marks} ON CONFLICT DO NOTHING',
                        [v for row in pending for v in row],
                    )
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


def dlt_pipeline(dump: Path, pg_uri: str, work: Path, file_format: str = "insert_values") -> dict:
    """A dlt pipeline: a pymongoarrow resource per collection into dlt's postgres destination,
    through one of its loader file formats (insert_values is its default; parquet goes by ADBC)."""
    os.environ.setdefault("SCHEMA__NAMING", "direct")  # keep createdBy and created_by apart
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    import dlt
    import pyarrow as pa

    from toolkit.documents.decode import _run, _schema, columns
    from toolkit.sources.readers import file_blocks
    from toolkit.stages.extract import feeds_of
    from transforms import JUNCTIONS

    def plain(table: pa.Table) -> pa.Table:
        """dlt cannot store pymongoarrow's ObjectId extension type: give it the 24-hex text.
        Its ADBC copy cannot write a list into the json column dlt makes of it: give it JSON text."""
        arrays = []
        for column in table.columns:
            column = column.combine_chunks()
            if isinstance(column.type, pa.ExtensionType):
                column = _hex(column.storage)
            elif pa.types.is_list(column.type) and isinstance(column.type.value_type, pa.ExtensionType):
                column = pa.ListArray.from_arrays(column.offsets, _hex(column.values.storage), mask=column.is_null())
            if file_format == "parquet" and pa.types.is_list(column.type):
                column = _json_text(column)
            arrays.append(column)
        return pa.Table.from_arrays(arrays, names=table.column_names)

    def collection(model):
        # the key too (m2pg reads `_id` apart from the other keys); Json fields, free-form
        # documents that pymongoarrow has no type for, are left out: a lighter load for the peer
        schema = _schema({"_id": ID, **columns(model, feeds_of(model, JUNCTIONS))})
        path = DumpSource(dump).file(model.source)

        @dlt.resource(name=model.table.lower(), write_disposition="append")
        def read():
            if not path.exists():
                return
            for _, data in file_blocks(path):
                yield plain(_run(data, schema))

        return read

    started = time.perf_counter()
    pipeline = dlt.pipeline(
        pipeline_name=f"m2pg_peer_{file_format}",
        pipelines_dir=str(work / "dlt"),
        destination=dlt.destinations.postgres(credentials=_socket_host(pg_uri)),
        dataset_name="dlt_peer",
    )
    info = pipeline.run([collection(m) for m in MODELS], loader_file_format=file_format)
    seconds = time.perf_counter() - started
    documents = sum(pipeline.last_trace.last_normalize_info.row_counts.get(m.table.lower(), 0) for m in MODELS)
    return {
        "documents": documents,
        "seconds": round(seconds, 3),
        "per_second": round(documents / seconds),
        "loads": len(info.loads_ids),
        "file_format": file_format,
    }


def _json_text(column):
    """Each list as JSON text (null stays null): polars encodes structs, so the list goes in
    as a struct's one field `v` and comes out of `{"v":...}`."""
    import polars as pl

    v = pl.col("v")
    encoded = pl.struct(v).struct.json_encode().str.strip_prefix('{"v":').str.strip_suffix("}")
    return (
        pl.DataFrame({"v": pl.from_arrow(column)}).select(pl.when(v.is_not_null()).then(encoded)).to_series().to_arrow()
    )


def _hex(storage):
    import polars as pl

    return pl.from_arrow(storage.cast("binary")).bin.encode("hex").to_arrow()


def _socket_host(uri: str) -> str:
    """dlt wants the host in the URI's address part; a socket directory goes there, escaped."""
    from urllib.parse import parse_qs, quote, urlsplit

    parts = urlsplit(uri)
    host = parse_qs(parts.query).get("host", [parts.hostname or "localhost"])[0]
    user = parts.username or "postgres"
    return f"postgresql://{user}:{parts.password or ''}@{quote(host, safe='')}{parts.path}"


def main(peer: str, dump: str, pg_uri: str, work: str, out: str) -> None:
    """One peer in a process of its own, as each m2pg command runs, so that `bench.py` times it
    the same way: process start and imports included. PEER is row_by_row or a dlt file format."""
    if peer == "row_by_row":
        result = row_by_row(Path(dump), pg_uri)
    else:
        result = dlt_pipeline(Path(dump), pg_uri, Path(work), peer)
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":  # python bench/peers.py PEER DUMP PG_URI WORK OUT.json
    main(*sys.argv[1:])
