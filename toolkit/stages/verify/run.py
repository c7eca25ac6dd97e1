"""The run: one connection to PostgreSQL (read-only) and one DuckDB attached to it, the models
then the junctions through the four layers, and the report assembled from what they found."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import psycopg
from duckdb.func import PythonUDFType

from toolkit.declarations.app import App
from toolkit.declarations.spec import Junction, ModelSpec
from toolkit.runtime.errors import ConfigError
from toolkit.runtime.progress import tracked
from toolkit.runtime.redact import redact, scrub
from toolkit.stages.reports import VerifyReport
from toolkit.stages.verify.compare import canonical_arrow
from toolkit.stages.verify.counts import count_junction, count_model
from toolkit.stages.verify.failures import LAYERS, LIMIT, Failures
from toolkit.stages.verify.integrity import junction_integrity, model_integrity
from toolkit.stages.verify.ownership import junction_ends, source_ids
from toolkit.stages.verify.records import full_records, junction_records, sample_records
from toolkit.stages.verify.source import Loaded, junction_pairs, read_collection, read_quarantine, resolve
from toolkit.stages.verify.types import junction_types, live_columns, model_types
from toolkit.staging.layout import Staging, write_json
from toolkit.target import duck


def connect(pg_uri: str):
    try:
        conn = psycopg.connect(pg_uri, autocommit=True)
    except psycopg.Error as error:
        raise ConfigError(
            f"cannot connect to PostgreSQL at {redact(pg_uri)}: {scrub(str(error), pg_uri).strip()}",
            stage="verify",
            hint="check --pg-uri (or M2PG_PG_URI)",
        ) from None
    conn.execute("SET default_transaction_read_only = on")
    return conn


@dataclass
class Run:
    """One verification: the connections, its options, and what outlives a collection."""

    app: App
    source: object
    staging: Staging
    pg_uri: str
    conn: psycopg.Connection
    con: duckdb.DuckDBPyConnection
    full: bool
    sample: int
    seed: int
    live: dict[str, dict[str, str]]
    loaded: Loaded
    fails: Failures = field(default_factory=Failures)
    results: dict[str, dict] = field(default_factory=lambda: {layer: {} for layer in LAYERS})
    pairs: dict[tuple[str, str], pl.DataFrame] = field(default_factory=dict)  # (model, feed key) -> pairs
    kinds: dict[str, str] = field(default_factory=dict)
    totals: Counter = field(default_factory=Counter)
    tables: dict[str, str] = field(default_factory=dict)  # model name -> its table

    def check(self, layer: str, table: str, check, *args) -> dict:
        """Run one check; a database error (a missing table, a dropped column) fails it, named."""
        try:
            result = check(*args) or {}
        except (psycopg.Error, duckdb.Error) as error:
            message = scrub(str(error), self.pg_uri).strip().splitlines()[0]
            message = message.rsplit("ERROR:", 1)[-1].strip()  # DuckDB quotes the whole query before it
            self.fails.add(layer, table, f"cannot check: {message}")
            result = {"error": message}
        self.results[layer][table] = result
        return result


def check_model(run: Run, model: ModelSpec) -> None:
    """All four layers for one collection; its expected rows die with this call."""
    t, fails = model.table, run.fails
    run.kinds[t] = "model"
    quarantine = read_quarantine(run.staging, model.source)
    feeds = tuple(f.key for j in run.app.junctions for f in j.feeds if f.model == model.name)
    found = read_collection(run.source, model, quarantine, feeds)
    rows, nulled = resolve(found.rows, model, run.loaded)
    run.loaded.ids[model.name] = rows["_object_id"]
    run.pairs |= {(model.name, key): frame for key, frame in found.pairs.items()}
    run.totals.update(documents=found.documents, quarantined=found.quarantined, expected=rows.height)
    counts = run.check("counts", t, count_model, run.con, model, found, quarantine, fails)
    if run.full:
        records = run.check("records", t, full_records, run.con, model, rows, source_ids(found, quarantine), fails)
    else:
        records = run.check("records", t, sample_records, run.conn, model, rows, run.sample, run.seed, fails)
    differences = records.pop("differences", None)
    run.check("integrity", t, model_integrity, run.conn, model, run.tables, nulled, fails)
    run.check(
        "types",
        t,
        model_types,
        run.conn,
        model,
        run.app.enums,
        rows,
        run.live.get(t),
        differences,
        run.full,
        counts.get("loaded"),
        counts.get("other_rows"),
        fails,
    )


def check_junction(run: Run, j: Junction) -> None:
    t, fails = j.table, run.fails
    run.kinds[t] = "junction"
    expected, by_feed = junction_pairs(j, run.pairs, run.loaded)
    run.check("counts", t, count_junction, run.con, j, expected, by_feed, run.loaded, fails)
    run.check("records", t, junction_records, run.con, j, expected, junction_ends(j, run.loaded), fails)
    run.check("integrity", t, junction_integrity, run.conn, j, run.tables, by_feed, fails)
    run.check("types", t, junction_types, j, run.live.get(t), fails)


def verify(
    app: App, source, staging_root, pg_uri: str, sample: int = 100, full: bool = False, seed: int = 7
) -> VerifyReport:
    """Compare the source with PostgreSQL; write reports/verify.json; return the report."""
    started = time.perf_counter()
    staging = Staging(Path(staging_root))
    with connect(pg_uri) as conn, duck.connect(pg_uri) as con:
        con.create_function("m2pg_canonical_json", canonical_arrow, ["VARCHAR"], "VARCHAR", type=PythonUDFType.ARROW)
        run = Run(
            app,
            source,
            staging,
            pg_uri,
            conn,
            con,
            full,
            sample,
            seed,
            live_columns(conn),
            Loaded(source, staging, app.models),
            tables={m.name: m.table for m in app.models},
        )
        for model in tracked(app.models, "verify", lambda m: m.table):
            check_model(run, model)
        for j in tracked(app.junctions, "verify", lambda j: j.table):
            check_junction(run, j)
    report = assemble(run)
    report["summary"] |= {
        "mode": "full" if full else "sample",
        "sample": None if full else sample,
        "seed": seed,
        "source": source.describe(),
        "database": redact(pg_uri),
        "seconds": round(time.perf_counter() - started, 3),
    }
    write_json(report, staging.report("verify.json"))
    return report


def assemble(run: Run) -> VerifyReport:
    """Per layer and table: the measurements and the failures; then per table and overall."""
    fails, kinds, totals = run.fails, run.kinds, run.totals
    layers: dict[str, dict] = {}
    for layer in LAYERS:
        per_table = {t: result | fails.of(layer, t) for t, result in run.results[layer].items()}
        failing = [t for t, r in per_table.items() if r["status"] == "fail"]
        layers[layer] = {"status": "fail" if failing else "pass", "failing_tables": failing, "tables": per_table}
    tables = {
        t: {"kind": kind, **{layer: layers[layer]["tables"][t]["status"] for layer in LAYERS}}
        for t, kind in kinds.items()
    }
    for row in tables.values():
        row["status"] = "fail" if "fail" in (row[layer] for layer in LAYERS) else "pass"
    failed = [t for t, row in tables.items() if row["status"] == "fail"]
    summary = {
        "tables": len(tables),
        "failed_tables": failed,
        "failures": sum(fails.counts.values()),
        "layers": {layer: layers[layer]["status"] for layer in LAYERS},
        "documents": totals["documents"],
        "quarantined": totals["quarantined"],
        "expected_rows": totals["expected"],
        "limit_per_table": LIMIT,
    }
    return {"status": "fail" if failed else "pass", "summary": summary, "layers": layers, "tables": tables}
