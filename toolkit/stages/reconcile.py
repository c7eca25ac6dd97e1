"""Reconcile: staging and the live database add up, and no foreign key dangles.

Every source document is loaded or quarantined (source = loaded + quarantined), every staged
junction pair is loaded, and no key names a missing row. The source's documents are counted
as the extract's manifest records them; every staged file DuckDB reads is checked against the
digest its writer recorded first. Only the migration's rows count as loaded: those whose id is
in the id map, and the pairs the load recorded writing (`m2pg.owned_<table>`: the app may link
two migrated rows itself; without that record, the pairs whose both ends are in the id maps);
rows the app wrote are counted apart as other rows. DuckDB reads both sides: the staged Parquet
with read_parquet, PostgreSQL through the read-only attached scanner, which hands plain counts
to PostgreSQL to compute.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from toolkit.declarations.app import App
from toolkit.declarations.spec import Junction, ModelSpec
from toolkit.runtime.progress import tracked
from toolkit.runtime.redact import redact
from toolkit.stages.reports import ReconcileReport
from toolkit.staging.layout import Staging, checked, checked_all, read_manifest, write_json
from toolkit.target import duck
from toolkit.target.preflight import owned_table
from toolkit.target.schema import literal, quote

PG = "pg"  # the attached database's name in DuckDB


def measure(con: duckdb.DuckDBPyConnection, sql: str, *params) -> tuple[int | None, str | None]:
    """(count, None), or (None, DuckDB's first line) when a table or column is not there."""
    try:
        rows = con.execute(sql, list(params)).fetchall()
    except duckdb.Error as error:
        return None, str(error).splitlines()[0]
    return rows[0][0], None  # a count: one row


def parquet_rows(con, glob: Path) -> tuple[int | None, str | None]:
    """Rows of the Parquet files matching `glob`, each checked against its recorded digest first;
    0 when none does."""
    if not checked_all(sorted(glob.parent.glob(glob.name))):
        return 0, None
    return measure(con, "SELECT count(*) FROM read_parquet(?)", str(glob))


def extracted(staging: Staging, collection: str) -> tuple[int | None, str | None]:
    """Documents the extract read from the collection, as its manifest records them: the raw
    parts hold exactly these, and reading and checking them all again only to count them would
    be a pass over the largest files staged."""
    path = staging.manifest(collection)
    if not path.exists():
        return None, f"{path} is missing: run `m2pg extract`"
    manifest = read_manifest(path, "complete", "documents")
    if not manifest["complete"]:
        return None, f"the extract of {collection} was interrupted: run `m2pg extract` to finish it"
    return manifest["documents"], None


def in_postgres(con, sql: str) -> tuple[int | None, str | None]:
    """A count PostgreSQL computes itself, with its own keys and indexes, so no table's rows
    travel to DuckDB just to be counted."""
    return measure(con, f"SELECT * FROM postgres_query('{PG}', ?)", sql)


def loaded_rows(con, table: str) -> tuple[int | None, str | None]:
    return in_postgres(con, f"SELECT count(*) FROM {quote(table)}")


def owned(staging: Staging, collection: str) -> tuple[str | None, str | None]:
    """SQL naming the ids of the collection's id map, or why it cannot be read."""
    path = staging.idmap(collection)
    if not path.exists():
        return None, f"{path} is missing: run `m2pg extract`"
    return f"(SELECT CAST(id AS UUID) FROM read_parquet({literal(str(checked(path)))}))", None


def migration_rows(con, table: str, ends: dict[str, str]) -> tuple[int | None, str | None]:
    """Rows of `table` whose `ends` (column -> the SQL of the ids it must be among) are all the
    migration's."""
    where = " AND ".join(f"t.{quote(column)} IN {ids}" for column, ids in ends.items())
    return measure(con, f"SELECT count(*) FROM {PG}.{quote(table)} AS t WHERE {where}")


def written_pairs(con, junction: Junction) -> tuple[int | None, str | None] | None:
    """Pairs of the table the load recorded writing, or None when the target keeps no such record."""
    owned = owned_table(junction.table)
    recorded, _ = in_postgres(con, f"SELECT count(*) FROM pg_class WHERE oid = to_regclass({literal(owned)})")
    if not recorded:
        return None
    using = ", ".join(quote(side.column) for side in (junction.left, junction.right))
    return in_postgres(con, f"SELECT count(*) FROM {quote(junction.table)} JOIN {owned} USING ({using})")


def split(
    con, table: str, ends: dict[str, str | None], errors: list[str | None], junction: Junction | None = None
) -> tuple[dict, str | None]:
    """{"loaded": the migration's rows, "other_rows": the rest}, and the first error."""
    total, total_error = loaded_rows(con, table)
    error = next(filter(None, [*errors, total_error]), None)
    ours: int | None = None
    if error is None:
        written = written_pairs(con, junction) if junction else None
        ours, error = written or migration_rows(con, table, {c: ids for c, ids in ends.items() if ids is not None})
    other = None if total is None or ours is None else total - ours
    return {"loaded": ours, "other_rows": other}, error


def model_row(con, staging: Staging, model: ModelSpec) -> dict:
    source, source_error = extracted(staging, model.source)
    quarantined, quarantine_error = parquet_rows(con, staging.quarantine(model.source) / "part-*.parquet")
    ids, ids_error = owned(staging, model.source)
    counts, error = split(con, model.table, {"id": ids}, [source_error, quarantine_error, ids_error])
    loaded = counts["loaded"]
    row = {
        "table": model.table,
        "kind": "model",
        "collection": model.source,
        "source": source,
        "quarantined": quarantined,
        **counts,
        "ok": None not in (source, quarantined, loaded) and source == loaded + quarantined,
    }
    return _with_error(row, error)


def junction_row(con, staging: Staging, junction: Junction, collections: dict[str, str]) -> dict:
    path = staging.clean(junction.table)
    if staging.clean_parts(junction.table):
        staged, staged_error = parquet_rows(con, path / "part-*.parquet")
    else:
        staged, staged_error = None, f"{path} is missing: run `m2pg transform`"
    sides = {side.column: owned(staging, collections[side.model]) for side in (junction.left, junction.right)}
    counts, error = split(
        con,
        junction.table,
        {c: ids for c, (ids, _) in sides.items()},
        [staged_error, *(e for _, e in sides.values())],
        junction,
    )
    loaded = counts["loaded"]
    row = {
        "table": junction.table,
        "kind": "junction",
        "staged": staged,
        **counts,
        "ok": None not in (staged, loaded) and staged == loaded,
    }
    return _with_error(row, error)


def orphan_check(con, table: str, column: str, target: str, null_is_orphan: bool) -> dict:
    """Rows of `table` whose `column` names no `target`.id (a NULL key counts only in a junction,
    where both ends are NOT NULL)."""
    key = f"c.{quote(column)}"
    present = "" if null_is_orphan else f"{key} IS NOT NULL AND "
    orphans, error = in_postgres(
        con,
        f"SELECT count(*) FROM {quote(table)} AS c WHERE {present}NOT EXISTS "
        f"(SELECT 1 FROM {quote(target)} AS t WHERE t.id = {key})",
    )
    row = {"table": table, "column": column, "references": target, "orphans": orphans, "ok": orphans == 0}
    return _with_error(row, error)


def orphan_checks(con, app: App, models: Sequence[ModelSpec], junctions: Sequence[Junction]) -> list[dict]:
    """Every foreign key checked, two at a time: PostgreSQL runs each on one core."""
    tables = {m.name: m.table for m in app.models}
    checks = [(m.table, f.name, tables[f.parent.model], False) for m in models for f in m.references] + [
        (j.table, side.column, tables[side.model], True) for j in junctions for side in (j.left, j.right)
    ]

    def run(check: tuple) -> dict:
        with con.cursor() as cursor:  # a DuckDB connection of its own, for this thread
            return orphan_check(cursor, *check)

    with ThreadPoolExecutor(2) as pool:
        return list(tracked(pool.map(run, checks), "reconcile: foreign keys", total=len(checks)))


def _with_error(row: dict, error: str | None) -> dict:
    return row | {"error": error} if error else row


def reconcile(
    app: App,
    staging_root: Path | str,
    pg_uri: str,
    models: Sequence[ModelSpec] | None = None,
    junctions: Sequence[Junction] | None = None,
) -> ReconcileReport:
    """Count both sides of the app's tables (or of `models` and `junctions` among them); write
    reports/reconcile.json (the URI's password redacted)."""
    models = app.models if models is None else models
    junctions = app.junctions if junctions is None else junctions
    staging = Staging(Path(staging_root))
    with duck.connect(pg_uri, alias=PG) as con:
        collections = {m.name: m.source for m in app.models}
        rows = [model_row(con, staging, m) for m in tracked(models, "reconcile", lambda m: m.table)] + [
            junction_row(con, staging, j, collections) for j in tracked(junctions, "reconcile", lambda j: j.table)
        ]
        orphans = orphan_checks(con, app, models, junctions)
    report: ReconcileReport = {
        "ok": all(r["ok"] for r in rows + orphans),
        "database": redact(pg_uri),
        "tables": rows,
        "orphans": orphans,
    }
    write_json(report, staging.report("reconcile.json"))
    return report


def reasons(row: dict, checks: list[dict]) -> list[str]:
    """Why a table fails, in words: its counts, then each dangling or unreadable key."""
    why = [row["error"]] if "error" in row else []
    if not why and not row["ok"]:
        why.append(
            f"source {row['source']} != loaded {row['loaded']} + quarantined {row['quarantined']}"
            if row["kind"] == "model"
            else f"staged {row['staged']} != loaded {row['loaded']}"
        )
    for check in checks:
        if "error" in check:
            if check["error"] != row.get("error"):  # a missing table is said once
                why.append(f"{check['column']}: {check['error']}")
        elif not check["ok"]:
            why.append(f"{check['orphans']} orphan {check['column']} (no such {check['references']})")
    return why
