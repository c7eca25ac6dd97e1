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

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from toolkit.declarations.app import App
from toolkit.declarations.spec import Junction, ModelSpec
from toolkit.reports.words import counted
from toolkit.runtime import interrupt
from toolkit.runtime.progress import tracked
from toolkit.runtime.redact import redact
from toolkit.stages.reports import ReconcileReport
from toolkit.staging.layout import Staging, checked, checked_all, read_manifest, write_json
from toolkit.target import duck
from toolkit.target.postgres import connect
from toolkit.target.preflight import owned_table, unfinished_load, with_owner
from toolkit.target.schema import literal, quote

PG = "pg"  # the attached database's name in DuckDB


def measure(con: duckdb.DuckDBPyConnection, sql: str, *params) -> tuple[int | None, str | None]:
    """(count, None), or (None, DuckDB's first line) when a table or column is not there."""
    row, error = first_row(con, sql, *params)
    return (row[0] if row else None), error


def first_row(con: duckdb.DuckDBPyConnection, sql: str, *params) -> tuple[tuple | None, str | None]:
    """(the query's first row, None), or (None, DuckDB's first line) when a table or column is not there."""
    try:
        rows = con.execute(sql, list(params)).fetchall()
    except duckdb.Error as error:
        return None, str(error).splitlines()[0]
    return rows[0], None


def parquet_files(paths: Sequence[Path]) -> str:
    """DuckDB's read_parquet of exactly these files, each named: not a glob, in which DuckDB takes
    a backslash for an escape, so that the parts of a staging folder whose path held one were
    not found."""
    return f"read_parquet([{', '.join(literal(str(path)) for path in paths)}])"


def parquet_rows(con, paths: Sequence[Path]) -> tuple[int | None, str | None]:
    """Rows of the Parquet files `paths`, each checked against its recorded digest first; 0 when
    there is none."""
    files = checked_all(paths)
    if not files:
        return 0, None
    return measure(con, f"SELECT count(*) FROM {parquet_files(files)}")


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


def recorded(con, table: str) -> bool:
    """Whether the target keeps the load's record of the rows it wrote into `table`."""
    owned = literal(owned_table(table))
    found, _ = in_postgres(con, f"SELECT count(*) FROM pg_class WHERE oid = to_regclass({owned})")
    return bool(found)


def model_rows(con, table: str, ids: str, refused: str) -> tuple[tuple[int, int, int] | None, str | None]:
    """(rows whose ids are in the id map `ids`, those among them whose ids are in `refused`, rows
    the load recorded writing whose ids are not in `ids`: of documents no longer in the source,
    which the load of this staging folder deletes)."""
    if recorded(con, table):
        query = with_owner(table, ["id"], "t.id, o.id IS NOT NULL AS mine")
        rows, mine = f"postgres_query({literal(PG)}, {literal(query)})", "t.mine"
    else:
        rows, mine = f"{PG}.{quote(table)}", "false"
    return first_row(
        con,
        f"SELECT count(*) FILTER (WHERE t.id IN {ids}), count(*) FILTER (WHERE t.id IN {refused}), "
        f"count(*) FILTER (WHERE t.id NOT IN {ids} AND {mine}) FROM {rows} AS t",
    )


def refused(staging: Staging, model: ModelSpec, but_loaded: bool) -> str:
    """SQL naming the ids of the documents the transform quarantined; `but_loaded`: not those it
    also loaded (a refused second copy of a loaded `_id`). That reads the clean rows' ids, so it
    is asked only when the target holds a row of a quarantined id, which it rarely does."""
    quarantine = checked_all(staging.quarantine_parts(model.source))
    if not quarantine:
        return "(SELECT NULL::UUID WHERE false)"
    idmap = literal(str(checked(staging.idmap(model.source))))
    where = f"m.object_id IN (SELECT q.object_id FROM {parquet_files(quarantine)} AS q)"
    clean = checked_all(staging.clean_parts(model.table)) if but_loaded else []
    if clean:
        where += f" AND m.object_id NOT IN (SELECT c._object_id FROM {parquet_files(clean)} AS c)"
    return f"(SELECT CAST(m.id AS UUID) FROM read_parquet({idmap}) AS m WHERE {where})"


def written_pairs(con, junction: Junction, staged: str) -> tuple[int | None, str | None] | None:
    """Pairs of the table the load recorded writing or that are `staged` (a DuckDB relation of
    the staged pairs), or None when the target keeps no record: a pair the app wrote that the
    source then also held is the source's, found in place by the load."""
    if not recorded(con, junction.table):
        return None
    keys = [junction.left.column, junction.right.column]
    left, right = map(quote, keys)
    counted = with_owner(
        junction.table, keys, f"count(o.{left}) AS mine, count(*) FILTER (WHERE o.{left} IS NULL) AS others"
    )
    found, error = first_row(con, f"SELECT * FROM postgres_query('{PG}', ?)", counted)
    if found is None:
        return None, error
    written, others = found
    if not others:  # no pair of another's: the staged pairs need not be read
        return written, None
    unrecorded = with_owner(junction.table, keys, f"t.{left}, t.{right}", f" WHERE o.{left} IS NULL")
    held, error = measure(
        con,
        f"SELECT count(*) FROM postgres_query({literal(PG)}, {literal(unrecorded)}) u "
        f"SEMI JOIN {staged} s ON u.{left} = CAST(s.{left} AS UUID) AND u.{right} = CAST(s.{right} AS UUID)",
    )
    return (None, error) if held is None else (written + held, None)


def total_rows(con, table: str, errors: list[str | None]) -> tuple[int | None, str | None]:
    """(the table's rows, None), or (None, the first of `errors` or why the table cannot be counted)."""
    total, error = loaded_rows(con, table)
    error = next(filter(None, [*errors, error]), None)
    return (None, error) if error is not None else (total, None)


def model_counts(con, staging: Staging, model: ModelSpec, errors: list[str | None]) -> tuple[dict, str | None]:
    """{"loaded": rows of the documents the migration loads, "quarantined_rows": rows of documents
    it quarantined, "stale_rows": rows it wrote of documents gone from the source, "other_rows":
    the rest}, and the first error."""
    ids, ids_error = owned(staging, model.source)
    total, error = total_rows(con, model.table, [*errors, ids_error])
    counts: dict[str, int | None] = dict.fromkeys(("loaded", "quarantined_rows", "stale_rows", "other_rows"))
    if total is None or ids is None:
        return counts, error
    found, error = model_rows(con, model.table, ids, refused(staging, model, but_loaded=False))
    if found is not None and found[1]:  # a quarantined copy of a loaded `_id` leaves its row the clean copy's
        found, error = model_rows(con, model.table, ids, refused(staging, model, but_loaded=True))
    if found is not None:
        ours, held, stale = found
        counts.update(loaded=ours - held, quarantined_rows=held, stale_rows=stale, other_rows=total - ours - stale)
    return counts, error


def junction_counts(
    con, junction: Junction, ends: dict[str, str | None], errors: list[str | None], staged: str
) -> tuple[dict, str | None]:
    """{"loaded": the migration's pairs, "other_rows": the rest}, and the first error. `staged`: the
    junction's staged pairs (DuckDB SQL)."""
    total, error = total_rows(con, junction.table, errors)
    counts: dict[str, int | None] = {"loaded": None, "other_rows": None}
    if total is None:
        return counts, error
    written = written_pairs(con, junction, staged)
    ours, error = written or migration_rows(con, junction.table, {c: ids for c, ids in ends.items() if ids is not None})
    if ours is not None:
        counts.update(loaded=ours, other_rows=total - ours)
    return counts, error


def model_row(con, staging: Staging, model: ModelSpec) -> dict:
    source, source_error = extracted(staging, model.source)
    quarantined, quarantine_error = parquet_rows(con, staging.quarantine_parts(model.source))
    counts, error = model_counts(con, staging, model, [source_error, quarantine_error])
    loaded = counts["loaded"]
    row = {
        "table": model.table,
        "kind": "model",
        "collection": model.source,
        "source": source,
        "quarantined": quarantined,
        **counts,
        "ok": None not in (source, quarantined, loaded)
        and source == loaded + quarantined
        and counts["stale_rows"] == counts["quarantined_rows"] == 0,
    }
    return _with_error(row, error)


def junction_row(con, staging: Staging, junction: Junction, collections: dict[str, str]) -> dict:
    path = staging.clean(junction.table)
    parts = staging.clean_parts(junction.table)
    if parts:
        staged, staged_error = parquet_rows(con, parts)
    else:
        staged, staged_error = None, f"{path} is missing: run `m2pg transform`"
    sides = {side.column: owned(staging, collections[side.model]) for side in (junction.left, junction.right)}
    counts, error = junction_counts(
        con,
        junction,
        {c: ids for c, (ids, _) in sides.items()},
        [staged_error, *(e for _, e in sides.values())],
        parquet_files(parts),
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

    pool = ThreadPoolExecutor(2)
    try:
        return list(_stoppable(tracked(pool.map(run, checks), "reconcile: foreign keys", total=len(checks)), "keys"))
    finally:
        pool.shutdown(cancel_futures=True)  # after Ctrl+C, the checks not yet started are not run


def _stoppable(items: Iterable, what: str) -> Iterator:
    """`items`, stopping before the next one after Ctrl+C: reconcile writes nothing until its
    report, so a stop loses only the counting done, and the next run counts from the start."""
    for done, item in enumerate(items):
        interrupt.check(
            "reconcile",
            f"{done} {what} checked",
            "the rest, counted again from the start (reconcile keeps no checkpoint)",
        )
        yield item


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
        rows = [
            model_row(con, staging, m) for m in _stoppable(tracked(models, "reconcile", lambda m: m.table), "tables")
        ]
        rows += [
            junction_row(con, staging, j, collections)
            for j in _stoppable(tracked(junctions, "reconcile", lambda j: j.table), "junction tables")
        ]
        orphans = orphan_checks(con, app, models, junctions)
    with connect(pg_uri) as conn:  # its rows may count right while their values are not yet written
        unfinished = unfinished_load(conn)
    report: ReconcileReport = {
        "ok": all(r["ok"] for r in rows + orphans) and unfinished is None,
        "database": redact(pg_uri),
        "tables": rows,
        "orphans": orphans,
        "unfinished_load": unfinished,
    }
    write_json(report, staging.report("reconcile.json"))
    return report


def reasons(row: dict, checks: list[dict]) -> list[str]:
    """Why a table fails, in words: its counts, then each dangling or unreadable key."""
    why = [row["error"]] if "error" in row else []
    if not why and not row["ok"]:
        if row["kind"] == "junction":
            why.append(f"staged {row['staged']} != loaded {row['loaded']}")
        elif row["source"] != row["loaded"] + row["quarantined"]:
            why.append(f"source {row['source']} != loaded {row['loaded']} + quarantined {row['quarantined']}")
        if row.get("quarantined_rows"):
            why.append(f"{counted(row['quarantined_rows'], 'row')} of quarantined documents in the target")
        if row.get("stale_rows"):
            why.append(
                f"{counted(row['stale_rows'], 'row')} the migration wrote of documents no longer in the source "
                "(the load of this staging folder deletes such rows)"
            )
    for check in checks:
        if "error" in check:
            if check["error"] != row.get("error"):  # a missing table is said once
                why.append(f"{check['column']}: {check['error']}")
        elif not check["ok"]:
            why.append(f"{check['orphans']} orphan {check['column']} (no such {check['references']})")
    return why
