"""The hardware limit of this design, measured on the same data: BSON -> Arrow alone, COPY alone."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import polars as pl

from toolkit.documents.decode import _run, _schema, columns
from toolkit.sources.readers import DumpSource, file_blocks
from toolkit.stages.extract import feeds_of
from toolkit.stages.load import connect, load_types, to_arrow
from toolkit.staging.layout import Staging
from toolkit.target.schema import quote
from transforms import JUNCTIONS, MODELS


def conversion_alone(dump: Path) -> dict:
    """pymongoarrow's BSON -> Arrow conversion of every collection, with no checks and no writes."""
    source, documents, started = DumpSource(dump), 0, time.perf_counter()
    for model in MODELS:
        schema = _schema(columns(model, feeds_of(model, JUNCTIONS)))
        path = source.file(model.source)
        if not path.exists():
            continue
        for _, data in file_blocks(path):
            documents += _run(data, schema).num_rows
    seconds = time.perf_counter() - started
    return {"documents": documents, "seconds": round(seconds, 3), "per_second": round(documents / seconds)}


def copy_alone(staging_root: Path, pg_uri: str, batch: int = 100_000) -> dict:
    """Binary COPY of the final rows into unconstrained copies of the tables (no keys, no indexes)."""
    staging, rows, seconds = Staging(staging_root), 0, 0.0
    targets = [(m.table, load_types(m, [])) for m in MODELS]
    targets += [(j.table, load_types(None, [j.left.column, j.right.column])) for j in JUNCTIONS]
    with connect(pg_uri) as conn, conn.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS m2pg_limit")
        for table, _kinds in targets:
            cur.execute(f"DROP TABLE IF EXISTS m2pg_limit.{quote(table)}")
            cur.execute(f"CREATE TABLE m2pg_limit.{quote(table)} (LIKE public.{quote(table)})")
        conn.commit()
        for table, kinds in targets:
            frame = pl.read_parquet(staging.clean_parts(table))
            arrow = [to_arrow(frame.slice(o, batch), kinds) for o in range(0, frame.height, batch)]
            started = time.perf_counter()
            for part in arrow:
                cur.adbc_ingest(table, part, mode="append", db_schema_name="m2pg_limit")
            conn.commit()
            seconds += time.perf_counter() - started
            rows += frame.height
        cur.execute("DROP SCHEMA m2pg_limit CASCADE")
        conn.commit()
    return {"rows": rows, "seconds": round(seconds, 3), "per_second": round(rows / seconds)}


def limit_per_second(documents: int, conversion: dict, copy: dict) -> int:
    """Documents per second of the two steps one after the other: every document converted,
    then every final row copied, the junctions' as well as the models' (a document is more
    than one row to COPY)."""
    return round(documents / (conversion["seconds"] + copy["seconds"]))


if __name__ == "__main__":
    print(conversion_alone(Path(sys.argv[1])))
