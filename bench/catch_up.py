"""The catch-up: `m2pg run` again, into the same staging folder and target, after the source
changed a little (`changed_dump`), timed as the full run was; what it wrote is counted by
PostgreSQL itself (pg_stat_user_tables), not taken from m2pg's word.
"""

from __future__ import annotations

import time
from pathlib import Path

import adbc_driver_postgresql.dbapi as pg
from changed_dump import derive, totals
from measure import measure

from toolkit.staging.layout import read_json
from transforms import JUNCTIONS, MODELS

TARGET_RATIO = 0.25  # the catch-up takes at most a quarter of the full run's time
KINDS = {"n_tup_ins": "inserted", "n_tup_upd": "updated", "n_tup_del": "deleted"}
LOAD_COUNTS = ("inserted", "updated", "deleted", "unchanged")
APP_SCHEMA, BOOKKEEPING_SCHEMA = "public", "m2pg"
SETTLE_SECONDS = 30  # how long the backends of a finished run may take to exit and flush their counts


def run_command(m2pg: list[str], dump: Path, uri: str, staging: Path, size: int) -> list[str]:
    """The `m2pg run` the bench times: parts of `size` documents, loaded `size` rows a batch."""
    return [
        *m2pg,
        "run",
        "--dump",
        str(dump),
        "--pg-uri",
        uri,
        "--staging",
        str(staging),
        "--part-size",
        str(size),
        "--batch-size",
        str(size),
    ]


def catch_up(
    m2pg: list[str], dump: Path, changed: Path, uri: str, staging: Path, batch: int, full_seconds: float
) -> dict:
    """Plant the changes in a copy of `dump`, then run m2pg from it into the full run's `uri`
    and `staging`; the rows written are the counts' growth over that run alone."""
    started = time.perf_counter()
    planted = derive(dump, changed)
    result = {
        "planted": totals(planted),
        "planted_by_collection": planted,
        "derive_seconds": round(time.perf_counter() - started, 3),
        "full_run_seconds": full_seconds,
        "target_ratio": TARGET_RATIO,
    }
    before = table_writes(uri)
    try:
        run = measure(run_command(m2pg, changed, uri, staging, batch)).as_dict()
    except RuntimeError as failed:
        return {**result, "error": str(failed)[-2000:]}
    after = table_writes(uri)
    written = {
        table: {kind: after[table][kind] - before.get(table, {}).get(kind, 0) for kind in KINDS.values()}
        for table in after
    }
    result.update(
        run=run,
        seconds=run["seconds"],
        ratio=round(run["seconds"] / full_seconds, 3),
        rows_written=by_part(written),
        tables_written={t: w for t, w in sorted(written.items()) if any(w.values())},
        load_report=load_counts(staging),
        stage_seconds=stage_seconds(staging),
    )
    models, planted_totals = result["rows_written"]["models"], result["planted"]
    result["models_as_planted"] = (models["inserted"], models["updated"], models["deleted"]) == (
        planted_totals["added"],
        planted_totals["changed"],
        planted_totals["deleted"],
    )
    result["met"] = result["ratio"] <= TARGET_RATIO
    return result


def table_writes(uri: str) -> dict[str, dict[str, int]]:
    """Rows inserted, updated and deleted so far per "schema.table", once every other session of
    the database has ended: a backend hands its counts to the statistics when it exits."""
    with pg.connect(uri, autocommit=True) as conn, conn.cursor() as cur:
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            if cur.fetchone()[0] == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.fetchall()
        cur.execute(f"SELECT schemaname, relname, {', '.join(KINDS)} FROM pg_stat_user_tables")
        return {
            f"{schema}.{table}": dict(zip(KINDS.values(), map(int, counts), strict=False))
            for schema, table, *counts in cur.fetchall()
        }


def by_part(written: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The rows written summed over the app's model tables, its junction tables, m2pg's own
    bookkeeping and anything else."""
    models = {f"{APP_SCHEMA}.{m.table}" for m in MODELS}
    junctions = {f"{APP_SCHEMA}.{j.table}" for j in JUNCTIONS}

    def part(table: str) -> str:
        if table in models:
            return "models"
        if table in junctions:
            return "junctions"
        return "bookkeeping" if table.startswith(f"{BOOKKEEPING_SCHEMA}.") else "other"

    parts = {name: dict.fromkeys(KINDS.values(), 0) for name in ("models", "junctions", "bookkeeping", "other")}
    for table, counts in written.items():
        for kind, value in counts.items():
            parts[part(table)][kind] += value
    parts["app"] = {kind: parts["models"][kind] + parts["junctions"][kind] for kind in KINDS.values()}
    return parts


def stage_seconds(staging: Path) -> dict[str, float]:
    """Where the catch-up's time went, as the stages' reports say: each stage's seconds summed
    over its collections or tables (workers overlap, so a sum may exceed the stage's wall time;
    what no collection or table accounts for, such as starting up, is left out)."""
    reports, out = staging / "reports", {}
    for stage, items in (("extract", "collections"), ("transform", "collections"), ("load", "tables")):
        if (reports / f"{stage}.json").exists():
            report = read_json(reports / f"{stage}.json")
            out[stage] = round(sum(i.get("seconds") or 0 for i in report.get(items, [])), 3)
    return out


def load_counts(staging: Path) -> dict | None:
    """What the load says it did, where its report has the counts (a converging load writes them)."""
    path = staging / "reports" / "load.json"
    if not path.exists():
        return None
    report = read_json(path)
    return {name: report[name] for name in LOAD_COUNTS if name in report} or None
