"""Load: staged clean rows -> PostgreSQL by ADBC bulk ingest (binary COPY), parents first.

Each batch is one transaction. The target is checked against the declarations before any
row is written, so a missing table or a mismatched column stops the stage up front.
"""
from __future__ import annotations

import time

import adbc_driver_postgresql.dbapi as pgdbapi
import polars as pl
import pyarrow as pa

from toolkit.errors import ConfigError
from toolkit.ids import uuid_text_to_binary
from toolkit.progress import bars
from toolkit.redact import redact
from toolkit.schema import check_target, has_schema, quote
from toolkit.spec import Kind, ModelSpec
from toolkit.staging import Staging, write_json

BATCH_SIZE = 20_000
UUID = pa.binary(16)


def connect(pg_uri: str):
    try:
        return pgdbapi.connect(pg_uri)
    except Exception as error:  # the driver raises several types for a bad URI or server
        raise ConfigError(f"cannot connect to PostgreSQL at {redact(pg_uri)}: {error}",
                          hint="check --pg-uri (or M2PG_PG_URI)") from None


def load_types(model: ModelSpec | None, columns: list[str]) -> dict[str, Kind]:
    """Column -> kind; a junction's two columns are uuids."""
    if model is None:
        return {c: Kind.OBJECT_ID for c in columns}
    return {f.name: f.kind for f in model.fields}


def to_arrow(frame: pl.DataFrame, kinds: dict[str, Kind]) -> pa.Table:
    """The Arrow types PostgreSQL's binary COPY accepts for each column kind."""
    converted = frame.select([_expr(c, k) for c, k in kinds.items()]).to_arrow()
    arrays = []
    for name, kind in kinds.items():
        column = converted.column(name).combine_chunks()
        if kind is Kind.OBJECT_ID:
            column = column.cast(UUID)
        elif kind is Kind.UUID_LIST:
            column = column.cast(pa.large_list(UUID))
        elif kind is Kind.JSON:
            column = pa.ExtensionArray.from_storage(pa.json_(pa.large_string()), column.cast(pa.large_string()))
        arrays.append(column)
    return pa.Table.from_arrays(arrays, names=list(kinds))


def _expr(name: str, kind: Kind) -> pl.Expr:
    if kind is Kind.OBJECT_ID:
        return uuid_text_to_binary(pl.col(name)).alias(name)
    if kind is Kind.UUID_LIST:
        return pl.col(name).list.eval(uuid_text_to_binary(pl.element())).alias(name)
    return pl.col(name)


def ensure_target(conn, pg_uri: str, models, junctions, replace: bool) -> None:
    if not has_schema(pg_uri, models, junctions):
        raise ConfigError("the target database has no NextCRM tables", stage="load",
                          hint="create them with `m2pg schema` (or Prisma's migration), or use `m2pg run`")
    problems = check_target(pg_uri, models, junctions)
    if problems:
        raise ConfigError("the target schema does not match the declarations:\n  " + "\n  ".join(problems),
                          stage="load", hint="fix the target schema; no row was written")
    tables = [m.table for m in models] + [j.table for j in junctions]
    with conn.cursor() as cur:
        filled = []
        for table in tables:
            cur.execute(f"SELECT EXISTS (SELECT 1 FROM {quote(table)})")
            if cur.fetchone()[0]:
                filled.append(table)
        if filled and not replace:
            raise ConfigError(f"target tables already hold rows: {', '.join(filled)}", stage="load",
                              hint="load into empty tables, or pass --replace to empty them first")
        if filled:
            cur.execute("TRUNCATE " + ", ".join(quote(t) for t in tables) + " CASCADE")
    conn.commit()


def load_table(conn, staging: Staging, table: str, kinds, batch_size: int, progress) -> dict:
    path = staging.clean(table)
    if not path.exists():
        raise ConfigError(f"{path} is missing", stage="load", hint="run `m2pg transform` first")
    frame = pl.read_parquet(path)
    task = progress.add_task(f"load {table}", total=frame.height)
    started, loaded = time.perf_counter(), 0
    with conn.cursor() as cur:
        for offset in range(0, frame.height, batch_size):
            batch = to_arrow(frame.slice(offset, batch_size), kinds)
            cur.adbc_ingest(table, batch, mode="append")
            conn.commit()
            loaded += batch.num_rows
            progress.update(task, advance=batch.num_rows)
    return {"table": table, "rows": loaded, "seconds": round(time.perf_counter() - started, 3)}


def load(staging: Staging, pg_uri: str, models, junctions, batch_size: int = BATCH_SIZE,
         replace: bool = False) -> dict:
    with connect(pg_uri) as conn:
        ensure_target(conn, pg_uri, models, junctions, replace)
        with bars() as progress:
            tables = [load_table(conn, staging, m.table, load_types(m, []), batch_size, progress)
                      for m in models]
            for j in junctions:
                kinds = load_types(None, [j.left.column, j.right.column])
                tables.append(load_table(conn, staging, j.table, kinds, batch_size, progress))
    report = {"target": redact(pg_uri), "tables": tables, "rows": sum(t["rows"] for t in tables)}
    write_json(report, staging.report("load.json"))
    return report
