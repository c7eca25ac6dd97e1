"""The run as jobs: each collection read from the source once, each table checked through the four
layers once the collections it needs are read, on worker processes that each keep one connection
to PostgreSQL (read-only) and one DuckDB attached to it; the report assembled from the findings."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import duckdb
import polars as pl
import psycopg
from duckdb.func import PythonUDFType

from toolkit.declarations.app import App
from toolkit.declarations.spec import Junction, ModelSpec
from toolkit.runtime import parallel
from toolkit.runtime.errors import ConfigError
from toolkit.runtime.progress import bars
from toolkit.runtime.redact import redact, scrub
from toolkit.sources.readers import DumpSource, MongoSource
from toolkit.stages.reports import VerifyReport
from toolkit.stages.verify.compare import canonical_arrow
from toolkit.stages.verify.counts import count_junction, count_model
from toolkit.stages.verify.failures import LAYERS, LIMIT, Failures
from toolkit.stages.verify.integrity import junction_integrity, model_integrity
from toolkit.stages.verify.ownership import junction_ends, recorded
from toolkit.stages.verify.records import SLICE, full_records, junction_records, sample_records
from toolkit.stages.verify.source import (
    Loaded,
    expected_rows,
    id_ranges,
    junction_pairs,
    nulled_references,
    read_collection,
    read_quarantine,
    resolved_slices,
    sampled_rows,
    taken_over,
    taken_over_pairs,
)
from toolkit.stages.verify.types import junction_types, live_columns, model_types
from toolkit.staging.layout import Staging, write_json
from toolkit.target import duck
from toolkit.target.postgres import SESSION_SQL
from toolkit.target.schema import unguarded


def connect(pg_uri: str):
    try:
        conn = psycopg.connect(pg_uri, autocommit=True)
    except psycopg.Error as error:
        raise ConfigError(
            f"cannot connect to PostgreSQL at {redact(pg_uri)}: {scrub(str(error), pg_uri).strip()}",
            stage="verify",
            hint="check --pg-uri (or M2PG_PG_URI)",
        ) from None
    for setting in (*SESSION_SQL, "SET default_transaction_read_only = on"):
        conn.execute(setting)  # as every session m2pg opens
    return conn


@dataclass
class Findings:
    """What the checks of one or more tables found: sent home by a job, merged for the report."""

    fails: Failures = field(default_factory=Failures)
    results: dict[str, dict] = field(default_factory=lambda: {layer: {} for layer in LAYERS})
    kinds: dict[str, str] = field(default_factory=dict)
    totals: Counter = field(default_factory=Counter)

    def merge(self, other: Findings) -> None:
        self.fails.merge(other.fails)
        self.kinds |= other.kinds
        self.totals.update(other.totals)
        for layer in LAYERS:
            self.results[layer] |= other.results[layer]


@dataclass
class Run:
    """One job's checks: the connections, the options, and what they find."""

    enums: dict[str, tuple[str, ...]]
    staging: Staging
    pg_uri: str
    conn: psycopg.Connection
    con: duckdb.DuckDBPyConnection
    full: bool
    sample: int
    seed: int
    live: dict[str, dict[str, str]]
    loaded: Loaded
    tables: dict[str, str]  # model name -> its table
    found: Findings = field(default_factory=Findings)

    def check(self, layer: str, table: str, check, *args) -> dict:
        """Run one check; a database error (a missing table, a dropped column) fails it, named."""
        parallel.release_memory()  # what came before: two large tables' checks at once on both cores add up
        try:
            result = check(*args) or {}
        except (psycopg.Error, duckdb.Error) as error:
            message = scrub(str(error), self.pg_uri).strip().splitlines()[0]
            message = message.rsplit("ERROR:", 1)[-1].strip()  # DuckDB quotes the whole query before it
            self.found.fails.add(layer, table, f"cannot check: {message}")
            result = {"error": message}
        self.found.results[layer][table] = result
        return result


def check_model(run: Run, model: ModelSpec, handover: Path) -> None:
    """All four layers for one collection, from what reading it handed over. Every row is
    compared a slice at a time; a sample and the column profiles take the rows whole."""
    t, fails = model.table, run.found.fails
    run.found.kinds[t] = "model"
    quarantine = read_quarantine(run.staging, model.source)
    found = taken_over(handover, model.name, ["id"])
    nulled = nulled_references(handover, model, run.loaded)
    run.found.totals.update(documents=found.documents, quarantined=found.quarantined, expected=found.rows.height)
    known = recorded(run.conn, t)  # whose a row is, the load's record says
    counts = run.check("counts", t, count_model, run.con, model, found, quarantine, known, fails)
    height = found.rows.height
    del found  # a whole collection's ids: not held while its rows are compared
    if run.full:
        slices = partial(resolved_slices, handover, model, run.loaded, SLICE)
        ranges = id_ranges(handover, model)
        records = run.check("records", t, full_records, run.con, model, slices, fails, ranges, known)
    else:
        chosen = sampled_rows(handover, model, run.loaded, height, run.sample, run.seed)
        records = run.check("records", t, sample_records, run.conn, model, chosen, run.seed, fails)
    differences = records.pop("differences", None)
    run.check("integrity", t, model_integrity, run.conn, model, run.tables, nulled, fails)
    run.check(
        "types",
        t,
        model_types,
        run.conn,
        model,
        run.enums,
        None if run.full else expected_rows(handover, model, run.loaded),
        height,
        run.live.get(t),
        differences,
        run.full,
        counts.get("loaded"),
        sum(counts.get(kind) or 0 for kind in ("other_rows", "stale_rows", "quarantined_rows")),
        fails,
    )


def check_junction(run: Run, j: Junction, pairs: dict[tuple[str, str], pl.DataFrame]) -> None:
    t, fails = j.table, run.found.fails
    run.found.kinds[t] = "junction"
    expected, by_feed = junction_pairs(j, pairs, run.loaded)
    ends = junction_ends(j, run.loaded)
    pairs.clear()  # what the layers below do not need goes before they start
    run.loaded.forget()
    known = recorded(run.conn, t)
    run.check("counts", t, count_junction, run.con, j, expected, by_feed, ends, known, fails)
    run.check("records", t, junction_records, run.con, j, expected, known, fails)
    run.check("integrity", t, junction_integrity, run.conn, j, run.tables, by_feed, fails)
    run.check("types", t, junction_types, j, run.live.get(t), fails)


@dataclass(frozen=True)
class Plan:
    """What every job of one verification needs; sent to the worker processes."""

    models: tuple[ModelSpec, ...]  # the app's declarations, without its sample data (no need to send it)
    junctions: tuple[Junction, ...]
    enums: dict[str, tuple[str, ...]]
    source: MongoSource | DumpSource
    staging_root: Path
    pg_uri: str
    full: bool
    sample: int
    seed: int
    live: dict[str, dict[str, str]]
    handover: Path  # each collection's expected rows and pairs, read once, for the checks
    threads: int  # DuckDB's threads in each process

    def run(self) -> Run:
        """A Run of this process, on its connections, holding what one job finds."""
        conn, con = connections(self.pg_uri, self.threads)
        staging = Staging(self.staging_root)
        loaded = Loaded(self.handover)
        tables = {m.name: m.table for m in self.models}
        return Run(
            enums=self.enums,
            staging=staging,
            pg_uri=self.pg_uri,
            conn=conn,
            con=con,
            full=self.full,
            sample=self.sample,
            seed=self.seed,
            live=self.live,
            loaded=loaded,
            tables=tables,
        )


def read_job(plan: Plan, model: ModelSpec, progress=None) -> None:
    """Read one collection from the source into the handover folder."""
    task = progress.add_task(f"verify: read {model.source}", total=1) if progress else None
    feeds = tuple(f.key for j in plan.junctions for f in j.feeds if f.model == model.name)
    quarantine = read_quarantine(Staging(plan.staging_root), model.source)
    read_collection(plan.source, model, quarantine, feeds, plan.handover)
    if progress:
        progress.update(task, advance=1)


def check_job(plan: Plan, table: ModelSpec | Junction, progress=None) -> Findings:
    """Check one table against what the read jobs handed over."""
    task = progress.add_task(f"verify: check {table.table}", total=1) if progress else None
    run = plan.run()
    if isinstance(table, ModelSpec):
        check_model(run, table, plan.handover)
    else:
        feeds = [(f.model, f.key) for f in table.feeds]
        check_junction(run, table, {feed: taken_over_pairs(plan.handover, *feed) for feed in feeds})
    if progress:
        progress.update(task, advance=1)
    return run.found


def jobs_of(plan: Plan, volumes: dict[str, int]) -> tuple[dict, dict[str, set[str]]]:
    """A read job per collection, the largest (by `volumes`, per model) first, and a check job per
    table that waits for the collections it reads: its own and those it references (a junction:
    both ends and its feeds)."""
    jobs: dict = {}
    needs: dict[str, set[str]] = {}
    for model in sorted(plan.models, key=lambda m: -volumes[m.name]):
        jobs[f"read {model.name}"] = (read_job, (plan, model))
    for model in plan.models:
        refs = {f.references.model for f in model.fields if f.references} | {model.name}
        jobs[f"check {model.table}"] = (check_job, (plan, model))
        needs[f"check {model.table}"] = {f"read {name}" for name in refs}
    for j in plan.junctions:
        ends = {j.left.model, j.right.model} | {f.model for f in j.feeds}
        jobs[f"check {j.table}"] = (check_job, (plan, j))
        needs[f"check {j.table}"] = {f"read {name}" for name in ends}
    return jobs, needs


HANDOVER = ".verify-"  # the prefix of the folder in staging where jobs hand collections over


def verify(
    app: App,
    source,
    staging_root,
    pg_uri: str,
    sample: int = 100,
    full: bool = False,
    seed: int = 7,
    workers: int | None = None,
) -> VerifyReport:
    """Compare the source with PostgreSQL; write reports/verify.json; return the report.

    Each collection is read once by a job of its own, and each table is checked by another once
    the collections it needs are read; on `workers` processes (None: by the source's size)."""
    started = time.perf_counter()
    staging = Staging(Path(staging_root))
    volumes = {m.name: source.volume(m.source) for m in app.models}
    count = parallel.workers_for(sum(volumes.values()), workers)
    threads = parallel.cores_each(count)
    try:
        conn, _ = connections(pg_uri, threads, first=True)  # a wrong URI fails here, in one line, before any job starts
        guards = unguarded_tables(conn, app)
        for left in staging.root.glob(f"{HANDOVER}*"):  # a killed verify's, which nothing else removes
            shutil.rmtree(left, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix=HANDOVER, dir=staging.root) as handover:
            plan = Plan(
                tuple(app.models),
                tuple(app.junctions),
                dict(app.enums),
                source,
                staging.root,
                pg_uri,
                full,
                sample,
                seed,
                live_columns(conn),
                Path(handover),
                threads,
            )
            jobs, needs = jobs_of(plan, volumes)
            with bars() as progress:
                done = parallel.run_graph(jobs, needs, count, progress, "verify")
    finally:
        close_connections()
    report = assemble([*(done[name] for name in jobs if name.startswith("check ")), guards])
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


_connections: dict[str, tuple[psycopg.Connection, duckdb.DuckDBPyConnection]] = {}


def connections(pg_uri: str, threads: int, first: bool = False) -> tuple[psycopg.Connection, duckdb.DuckDBPyConnection]:
    """This process's two connections, opened by its first job and kept for the others; DuckDB
    on `threads` threads (the cores this process has to itself). Only the `first` of the command
    (before any job) takes a failure for a wrong URI: after it connected, a job that cannot is a
    server gone away, whose error then names it and the command that resumes."""
    if pg_uri not in _connections:
        try:
            conn = connect(pg_uri)
            con = duck.connect(pg_uri)
        except ConfigError as error:
            if first or error.__context__ is None:
                raise
            raise error.__context__ from None  # the driver's own error: the server failed, not the URI
        con.execute(f"SET threads = {threads}")
        con.create_function("m2pg_canonical_json", canonical_arrow, ["VARCHAR"], "VARCHAR", type=PythonUDFType.ARROW)
        _connections[pg_uri] = (conn, con)
    return _connections[pg_uri]


def close_connections() -> None:
    while _connections:
        conn, con = _connections.popitem()[1]
        conn.close()
        con.close()


def unguarded_tables(conn, app: App) -> Findings:
    """The integrity layer's failures of the schema: each key, unique index, foreign key or NOT
    NULL of the app's that the target lacks (the app reads rows nothing guards then)."""
    found = Findings()
    with conn.cursor() as cur:
        for table, problems in unguarded(cur, app.models, app.junctions).items():
            for problem in problems:
                found.fails.add("integrity", table, problem)
    return found


def assemble(found: list[Findings]) -> VerifyReport:
    """Per layer and table: the measurements and the failures; then per table and overall."""
    every = Findings()
    for findings in found:
        every.merge(findings)
    fails, kinds, totals, results = every.fails, every.kinds, every.totals, every.results
    layers: dict[str, dict] = {}
    for layer in LAYERS:
        per_table = {t: result | fails.of(layer, t) for t, result in results[layer].items()}
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
