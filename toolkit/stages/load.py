"""Load: make the migration's rows in PostgreSQL equal the staged clean rows, parents first.

The target remembers the key and a digest of every row the migration wrote (`m2pg.owned_<table>`,
see changes.py). A load compares the staged rows with them and writes only the difference: new
rows are copied in (ADBC bulk ingest, binary COPY), changed rows updated, rows whose documents are
gone deleted. Each batch, its owned rows and its line in the ledger `m2pg.ledger` commit in one
transaction, so a stopped load leaves the target and its memory of it in step: run again, it
computes what is left and writes exactly that. Rows the migration did not write are never touched.

Inserts and updates go parents first, deletes children first, so with the foreign keys live every
commit keeps them valid. A table whose rows change where it has unique indexes writes all its
changes in one transaction that drops those indexes and builds them again, as values may change
hands between its rows. Into empty tables the foreign keys are deferred instead: row-level RI
triggers take half the time of a bulk load, while validating a whole table once at the end is a
single join. A table's foreign key to itself is deferred into tables holding rows too, as a
new row may point at one a later batch writes. One transaction stores the definitions in
`m2pg.deferred_constraints` and drops the constraints; a constraint's row is deleted only in
the transaction that validates it again. A crash at any moment thus leaves every foreign key
live or stored, and the next load restores them.

Nothing is deferred, emptied or created before the staged inputs and the target are checked
(preflight_target); --replace empties the app's tables only, never cascading.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import adbc_driver_postgresql.dbapi as pgdbapi
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from toolkit.declarations.kinds import KINDS
from toolkit.declarations.spec import LIST_KINDS, Kind, ModelSpec
from toolkit.documents.ids import in_lists, uuid_binary
from toolkit.reports.words import are, counted, were
from toolkit.runtime import interrupt
from toolkit.runtime.errors import ConfigError
from toolkit.runtime.progress import bars
from toolkit.runtime.redact import redact
from toolkit.runtime.sizes import BATCH_SIZE
from toolkit.stages.changes import DIGEST, Changes, batches, compare, digests, with_digests
from toolkit.stages.reports import LoadReport, PlanReport
from toolkit.staging.layout import Staging, checked, checked_digest, read_json, write_json
from toolkit.target import postgres
from toolkit.target import preflight as preflight_target
from toolkit.target.postgres import server_message
from toolkit.target.preflight import LEDGER, UNDER_WAY, owned_table
from toolkit.target.schema import DEFERRED, SET_ASIDE, has_schema, literal, quote, secondary_indexes

log = logging.getLogger(__name__)
WORKERS = 2
LEDGER_DDL = (
    "CREATE SCHEMA IF NOT EXISTS m2pg",
    f"CREATE TABLE IF NOT EXISTS {LEDGER} (table_name text NOT NULL, digest text NOT NULL,"
    " rows integer NOT NULL, inserted integer NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (table_name, digest))",
    f"ALTER TABLE {LEDGER} ADD COLUMN IF NOT EXISTS updated integer NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS deleted integer NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS refused integer NOT NULL DEFAULT 0",  # deleted as a rule refuses the document now
    # finished_at: the load's, in a run not yet ended
    f"CREATE TABLE IF NOT EXISTS {UNDER_WAY} (started_at timestamptz NOT NULL, finished_at timestamptz)",
    f"CREATE TABLE IF NOT EXISTS {DEFERRED} (table_name text NOT NULL, name text NOT NULL,"
    " definition text NOT NULL, PRIMARY KEY (table_name, name))",
    f"CREATE TABLE IF NOT EXISTS {SET_ASIDE} (table_name text NOT NULL, name text NOT NULL,"
    " definition text NOT NULL, PRIMARY KEY (table_name, name))",
    f"CREATE TABLE IF NOT EXISTS {preflight_target.EXTRACTS} (run text PRIMARY KEY, extracted_at timestamptz NOT NULL,"
    " loaded_at timestamptz NOT NULL DEFAULT now())",
)
FOREIGN_KEYS_AMONG = """
FROM pg_constraint k
JOIN pg_class r ON r.oid = k.conrelid
JOIN pg_class f ON f.oid = k.confrelid
WHERE k.contype = 'f' AND r.relnamespace = 'public'::regnamespace
  AND f.relnamespace = 'public'::regnamespace AND r.relname IN ({0}) AND f.relname IN ({0})
"""
FOREIGN_KEYS_SQL = "SELECT r.relname::text, k.conname::text, pg_get_constraintdef(k.oid)" + FOREIGN_KEYS_AMONG
CHECKING_SQL = "SELECT DISTINCT r.relname::text, f.relname::text" + FOREIGN_KEYS_AMONG  # who checks whom
STORED_SQL = f"""
SELECT d.table_name, d.name, d.definition, EXISTS (
    SELECT FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid
    WHERE r.relnamespace = 'public'::regnamespace AND r.relname = d.table_name AND k.conname = d.name)
FROM {DEFERRED} d ORDER BY d.table_name, d.name
"""
NOT_VALID = " NOT VALID"
SESSION = (
    # a commit lost to an OS crash loses its ledger row too, and the batch is loaded again
    "SET synchronous_commit = off",
    # the load's own connections keep the cores busy: a parallel index build would only add
    # worker processes and spill its sorts to shared temporary files (measured: 1 to 2 s at scale 10)
    "SET max_parallel_maintenance_workers = 0",
    "SET maintenance_work_mem = '256MB'",  # each index's sort in memory
)


def connect(pg_uri: str):
    return postgres.connect(pg_uri, SESSION)


def load_types(model: ModelSpec | None, columns: list[str]) -> dict[str, Kind]:
    """Column -> kind; a junction's two columns are uuids."""
    if model is None:
        return {c: Kind.OBJECT_ID for c in columns}
    return {f.name: f.kind for f in model.fields}


def _json(column: pa.Array) -> pa.Array:
    """Arrow's JSON type, which ADBC's binary COPY writes into a jsonb column."""
    return pa.ExtensionArray.from_storage(pa.json_(pa.large_string()), column.cast(pa.large_string()))


COPY_AS = {"uuid": uuid_binary, "json": _json}
"""A kind's `copy` fact -> the conversion of its clean values into what binary COPY accepts."""


def to_arrow(frame: pl.DataFrame, kinds: dict[str, Kind]) -> pa.Table:
    """The Arrow types PostgreSQL's binary COPY accepts for each column kind (a list's elements
    converted one by one)."""
    arrays = []
    for name, kind in kinds.items():
        column = frame[name].to_arrow()
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        copy = KINDS[kind].copy
        if copy and kind in LIST_KINDS:
            column = in_lists(COPY_AS[copy], column)
        elif copy:
            column = COPY_AS[copy](column)
        arrays.append(column)
    return pa.Table.from_arrays(arrays, names=list(kinds))


def staged_safe(conn, pg_uri: str, staging: Staging, models, junctions, stage: str, overwrite: bool = False) -> None:
    """What stops a load of the staged rows into the app's tables before it writes anything
    (none applies on --replace): each a likely mistake that would delete or clash with rows."""
    manifests = {m.source: read_json(staging.manifest(m.source)) for m in models}
    absent = [m for m in models if manifests[m.source].get("absent")]
    empty = [m for m in models if not manifests[m.source].get("absent") and not manifests[m.source]["documents"]]
    preflight_target.emptied_but_loaded(pg_uri, absent, empty, stage)
    preflight_target.another_source(pg_uri, staging, models, stage)
    preflight_target.unrecorded(conn, staging, models, stage)
    preflight_target.older_extract(conn, staging, stage)
    kept = {m.table: kept_changed(conn, staging, m, overwrite) for m in models if any(f.unique for f in m.fields)}
    preflight_target.staged_clash(pg_uri, staging, models, kept)
    if not overwrite:
        no_deleted_parent(conn, staging, models, junctions, stage)


def kept_changed(conn, staging: Staging, model: ModelSpec, overwrite: bool) -> pl.Series:
    """Ids of the rows of `model` the migration wrote that someone else changed since and the
    load leaves as they are (`Owned.kept`): their unique values stay, as another's would."""
    if overwrite or not preflight_target.exists(conn, owned_table(model.table)):
        return pl.Series("id", [], pl.String)
    owned = owned_rows(conn, model.table, ["id"], overwrite)
    staged = _staged_rows(_parts(staging, model.table), ["id"], [f.name for f in model.fields])
    return owned.kept(compare(staged, owned.rows, ["id"]))["id"]


def no_deleted_parent(conn, staging: Staging, models, junctions, stage: str) -> None:
    """No row to write points at a row the migration wrote that someone else deleted since:
    the load leaves that row deleted, so its foreign key would refuse the row halfway through."""
    kinds = _kinds(models, junctions)
    for parent, pointing in pointing_at(models, junctions).items():
        gone = _deleted_since(conn, parent)
        if not gone:
            continue
        for child, column, keys in pointing:
            if not preflight_target.exists(conn, owned_table(child)):
                continue
            read = list(dict.fromkeys([*keys, column]))
            staged = pl.concat([_digested(p, list(kinds[child]), read) for p in _parts(staging, child)], how="diagonal")
            staged = staged.filter(pl.col(column).is_in(gone))
            if staged.height:  # not written: those unchanged, and those someone else deleted (left deleted)
                owned = _owned_rows(conn, child, keys)
                staged = staged.join(owned, on=[*keys, DIGEST], how="anti")
                staged = staged.join(owned.filter(pl.col("m2pg_deleted")), on=keys, how="anti")
            if staged.height:
                row = staged.row(0, named=True)
                raise ConfigError(
                    f'row {row[column]} of "{parent}", which this migration wrote and someone else deleted since, '
                    f'is referenced by "{child}".{column} of row {" ".join(row[k] for k in keys)} to load',
                    stage=stage,
                    hint="nothing was written; make the deleted row again as the source holds it with "
                    "--overwrite-changed (or change or delete the referencing document in the source), then run again",
                )


def _deleted_since(conn, table: str) -> list[str]:
    """Ids of the rows of `table` the migration wrote that someone else deleted since."""
    if not preflight_target.exists(conn, owned_table(table)):
        return []
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT o.id::text FROM {owned_table(table)} o WHERE NOT EXISTS "
            f"(SELECT FROM {quote(table)} t WHERE t.id = o.id)"
        )
        return [found for (found,) in cur.fetchall()]


def ensure_target(
    conn,
    pg_uri: str,
    models,
    junctions,
    replace: bool,
    staging: Staging | None = None,
    stage: str = "load",
    enums=None,
    overwrite: bool = False,
    reports_of: Staging | None = None,
) -> None:
    """Check the target first (its schema; on --replace that emptying the app's tables reaches
    no other table; else that no row of someone else clashes with a staged one), and only then
    remove the reports of the target as it was from `reports_of`, create the ledger and the
    owned rows' tables and, on --replace, empty the app's tables and m2pg's own in one statement
    that never cascades."""
    preflight_target.schema_matches(pg_uri, models, junctions, stage, enums)
    tables = preflight_target.tables_of(models, junctions)
    if replace:
        preflight_target.may_empty(conn, tables, stage)
        if stage != "reset":  # reset asks first, and says how many rows are not the migration's
            preflight_target.may_replace(conn, keys_of(models, junctions), stage)
    elif staging is not None:
        staged_safe(conn, pg_uri, staging, models, junctions, stage, overwrite)
    if reports_of is not None:  # checked: from here on the target changes, and a stop leaves it halfway
        forget_reports_of_the_target(reports_of)
    keys = keys_of(models, junctions)
    with conn.cursor() as cur:
        for statement in LEDGER_DDL:
            cur.execute(statement)
        for table, columns in keys.items():
            key = ", ".join(map(quote, columns))
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {owned_table(table)} ("
                + "".join(f"{quote(c)} uuid NOT NULL, " for c in columns)
                + f"{DIGEST} bigint NOT NULL, PRIMARY KEY ({key}))"
            )
        if replace:
            cur.execute(
                "TRUNCATE "
                + ", ".join(
                    [*map(quote, tables), LEDGER, preflight_target.EXTRACTS, UNDER_WAY, *map(owned_table, tables)]
                )
            )
        if stage == "load":  # a load killed before is under way still: its writes are counted with this one's
            cur.execute(f"INSERT INTO {UNDER_WAY} SELECT now() WHERE NOT EXISTS (SELECT FROM {UNDER_WAY})")
            cur.execute(f"UPDATE {UNDER_WAY} SET finished_at = NULL")  # of a run killed after its load: going on
        extract = read_json(staging.root / "raw" / "run.json") if staging is not None else {}
        if extract.get("extracted_at"):
            cur.execute(
                f"INSERT INTO {preflight_target.EXTRACTS} (run, extracted_at) VALUES ($1, $2::timestamptz) "
                "ON CONFLICT (run) DO NOTHING",
                parameters=(extract["run"], extract["extracted_at"]),
            )
    conn.commit()
    interrupt.crash_point("target-ready")  # emptied on --replace (or by reset), nothing loaded yet


def keys_of(models, junctions) -> dict[str, list[str]]:
    """Table -> the columns that name a row: a model's id, a junction's two ends."""
    keys = {m.table: ["id"] for m in models}
    keys.update({j.table: [j.left.column, j.right.column] for j in junctions})
    return keys


def _owned_rows(conn, table: str, keys: list[str]) -> pl.DataFrame:
    """Keys and digest of every row the migration wrote, and whether someone else changed
    (`m2pg_changed`) or deleted (`m2pg_deleted`) it since. A row and its record are written in
    one transaction, so they share `xmin`: a row changed since has another one."""
    columns = ", ".join(f"o.{quote(k)}::text AS {quote(k)}" for k in keys)
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {columns}, o.{DIGEST}, coalesce(t.xmin <> o.xmin, false) AS m2pg_changed, "
            f"t.{quote(keys[0])} IS NULL AS m2pg_deleted "
            f"FROM {owned_table(table)} o LEFT JOIN {quote(table)} t ON {_matching('t', 'o', keys)}"
        )
        rows = pl.DataFrame(cur.fetch_arrow_table())
    return rows.with_columns(pl.col(DIGEST).cast(pl.Int64))


@dataclass(frozen=True)
class Owned:
    """The owned rows as the comparison takes them (keys, digest), and the keys of those someone
    else changed or deleted since m2pg wrote them. Left as they are unless `overwrite`: then a
    changed row's digest is given another value, so the load writes it again as the source holds
    it, and a deleted one is left out, so it is inserted again."""

    rows: pl.DataFrame
    changed: pl.DataFrame
    deleted: pl.DataFrame
    overwrite: bool

    def left(self, changes: Changes | None) -> int:
        """How many of them the load leaves unlike the source: without `overwrite`, a changed row
        is written only when its document changed or went too, a deleted one only deleted."""
        if self.overwrite or changes is None:
            return 0
        keys = self.changed.columns
        delete = changes.delete.select(keys)
        return self.kept(changes).height + self.deleted.join(delete, on=keys, how="anti").height

    def kept(self, changes: Changes) -> pl.DataFrame:
        """The keys of the changed rows the load leaves as they are."""
        if self.overwrite:
            return self.changed.clear()
        keys = self.changed.columns
        written = pl.concat([changes.update.select(keys), changes.delete.select(keys)])
        return self.changed.join(written, on=keys, how="anti")


def owned_rows(conn, table: str, keys: list[str], overwrite: bool) -> Owned:
    found = _owned_rows(conn, table, keys)
    changed, deleted = pl.col("m2pg_changed"), pl.col("m2pg_deleted")
    others = found.filter(changed).select(keys), found.filter(deleted).select(keys)
    if overwrite:
        found = found.filter(~deleted).with_columns(
            pl.when(changed).then(pl.col(DIGEST).xor(pl.lit(1, pl.Int64))).otherwise(pl.col(DIGEST)).alias(DIGEST)
        )
    return Owned(found.select(*keys, DIGEST), *others, overwrite)


def forget_deleted(conn, table: str, keys: list[str]) -> None:
    """Drop the records of rows someone else deleted from the table since the load wrote them."""
    with conn.cursor() as cur:
        cur.execute(
            f"DELETE FROM {owned_table(table)} o WHERE NOT EXISTS "
            f"(SELECT FROM {quote(table)} t WHERE {_matching('t', 'o', keys)})"
        )
    conn.commit()


def _digested(path: Path, columns: list[str], keys: list[str] | None = None) -> pl.DataFrame:
    """A clean part's rows (only `keys`, if given) with their digests: as transform staged
    them, or taken here from `columns` for a part staged without."""
    staged = DIGEST in pq.read_schema(path).names
    if staged and keys is not None:
        return pl.read_parquet(path, columns=[*keys, DIGEST])
    frame = pl.read_parquet(path)
    return frame if staged else with_digests(frame, columns)


def _staged_rows(parts: list[Path], keys: list[str], columns: list[str]) -> pl.DataFrame:
    """Keys, digest and place (`part`, `row`) of every staged row, one part in memory at a time."""
    found = []
    for number, path in enumerate(parts):
        frame = _digested(path, columns, keys)
        found.append(
            frame.select(
                *keys,
                DIGEST,
                pl.lit(number, pl.UInt32).alias("part"),
                pl.int_range(frame.height, dtype=pl.UInt32).alias("row"),
            )
        )
    return pl.concat(found) if found else pl.DataFrame()


def plan_table(
    conn, staging: Staging, table: str, keys: list[str], columns: list[str], overwrite: bool = False
) -> tuple[Changes, int]:
    """What the load must write to `table`, and how many rows someone else changed it leaves."""
    owned = owned_rows(conn, table, keys, overwrite)
    changes = compare(_staged_rows(_parts(staging, table), keys, columns), owned.rows, keys)
    return changes, owned.left(changes)


def refused_among(staging: Staging, collection: str | None, gone: pl.DataFrame) -> int:
    """How many of the rows to delete are of documents the source still holds but a rule now
    refuses (they are in the quarantine), as against documents gone from the source; none for a
    junction table (`collection` None), whose rows are no documents."""
    refused = refused_ids(staging, collection) if gone.height else None
    return 0 if refused is None else gone.join(refused, on="id", how="semi").height


def refused_ids(staging: Staging, collection: str | None) -> pl.DataFrame | None:
    """The ids (column `id`, text) of the documents of `collection` in the quarantine; None when
    it holds none, or for a junction table (`collection` None), whose rows are no documents."""
    if collection is None or not (parts := staging.quarantine_parts(collection)):
        return None
    refused = pl.concat([pl.read_parquet(checked(p), columns=["object_id"]) for p in parts])
    ids = pl.read_parquet(checked(staging.idmap(collection)), columns=["object_id", "id"])
    return ids.join(refused, on="object_id", how="semi").select("id")


def _rows_in(paths: list[Path]) -> int:
    """The rows of Parquet files, from their footers alone."""
    return sum(pq.read_metadata(p).num_rows for p in paths)


def _parts(staging: Staging, table: str) -> list[Path]:
    """The table's clean parts, each checked to be as transform wrote it."""
    parts = staging.clean_parts(table)
    if not parts:
        raise ConfigError(
            f"{staging.clean(table)} holds no clean parts", stage="load", hint="run `m2pg transform` first"
        )
    for part in parts:
        checked_digest(part)
    return parts


def _ingest(
    cur, table: str, frame: pl.DataFrame, kinds: dict[str, Kind], schema: str | None = None, temporary: bool = False
) -> int:
    rows = to_arrow(frame, kinds)
    if schema:
        return cur.adbc_ingest(table, rows, mode="append", db_schema_name=schema)
    return cur.adbc_ingest(table, rows, mode="append", temporary=temporary)


def _scratch(cur, table: str, like: str) -> str:
    """A temporary table shaped like `like`, empty, emptied again at each commit."""
    name = f"m2pg_{hashlib.md5(table.encode()).hexdigest()[:12]}"
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} (LIKE {like}) ON COMMIT DELETE ROWS")
    cur.execute(f"DELETE FROM {name}")  # an earlier batch of the same transaction left its rows
    return name


def _matching(alias: str, other: str, keys: list[str]) -> str:
    return " AND ".join(f"{alias}.{quote(k)} = {other}.{quote(k)}" for k in keys)


def write_batch(
    conn,
    table: str,
    kind: str,
    rows: pl.DataFrame,
    keys: list[str],
    kinds: dict[str, Kind],
    adopt: bool = False,
    refused: int = 0,
) -> int:
    """One transaction: insert, update or delete a batch of rows, keep the owned rows in step and
    record the batch in the ledger. The number of rows PostgreSQL wrote. `adopt`, `refused`: see `_apply`."""
    try:
        with conn.cursor() as cur:
            written = _apply(cur, table, kind, rows, keys, kinds, adopt, refused)
        conn.commit()
    except pgdbapi.IntegrityError as error:
        conn.rollback()
        raise ConfigError(
            f'PostgreSQL refused to {kind} a batch of {counted(rows.height, "row")} of "{table}": '
            f"{server_message(error)}",
            stage="load",
            hint="nothing of that batch was written; a row this migration did not write holds "
            "that key or value: change or delete it, or load afresh with --replace",
        ) from None
    interrupt.crash_point("load-batch")
    return written


def _apply(
    cur,
    table: str,
    kind: str,
    rows: pl.DataFrame,
    keys: list[str],
    kinds: dict[str, Kind],
    adopt: bool = False,
    refused: int = 0,
) -> int:
    """A batch's rows, owned rows and ledger line written in the open transaction; the number
    of rows PostgreSQL wrote. `adopt` (a junction's pairs): a pair someone else wrote that the
    source now holds too is the same fact; it is written over with its own values, so that it and
    its record share `xmin` (`_owned_rows`), and is not counted as written. `refused`: how many
    rows of a batch to delete are of documents a rule refuses now (the ledger counts them)."""
    key_kinds = {k: Kind.OBJECT_ID for k in keys}
    owned_kinds = {**key_kinds, DIGEST: Kind.INT}
    mine = owned_table(table)
    if kind == "insert" and adopt:
        values = _scratch(cur, table, quote(table))
        _ingest(cur, values, rows, kinds, temporary=True)
        same = f"{quote(keys[0])} = excluded.{quote(keys[0])}"
        cur.execute(
            f"INSERT INTO {quote(table)} SELECT * FROM {values} ON CONFLICT ({', '.join(map(quote, keys))}) "
            f"DO UPDATE SET {same} RETURNING xmax = 0"  # true for a row inserted, false for one taken
        )
        written = sum(inserted for (inserted,) in cur.fetchall())
        _ingest(cur, "owned_" + table, rows, owned_kinds, schema="m2pg")
    elif kind == "insert":
        written = _ingest(cur, table, rows, kinds)
        _ingest(cur, "owned_" + table, rows, owned_kinds, schema="m2pg")
    else:
        scratch = _scratch(cur, "owned_" + table, mine)
        _ingest(
            cur,
            scratch,
            rows if kind == "update" else rows.with_columns(pl.lit(0, pl.Int64).alias(DIGEST)),
            owned_kinds,
            temporary=True,
        )
        if kind == "update":
            values = _scratch(cur, table, quote(table))
            _ingest(cur, values, rows, kinds, temporary=True)
            written_over = [c for c in kinds if c not in keys] or keys[:1]  # a row of keys only: written as it is
            assign = ", ".join(f"{quote(c)} = s.{quote(c)}" for c in written_over)
            cur.execute(f"UPDATE {quote(table)} t SET {assign} FROM {values} s WHERE {_matching('t', 's', keys)}")
            written = cur.rowcount
            cur.execute(f"UPDATE {mine} o SET {DIGEST} = s.{DIGEST} FROM {scratch} s WHERE {_matching('o', 's', keys)}")
        else:
            cur.execute(f"DELETE FROM {quote(table)} t USING {scratch} s WHERE {_matching('t', 's', keys)}")
            written = cur.rowcount
            cur.execute(f"DELETE FROM {mine} o USING {scratch} s WHERE {_matching('o', 's', keys)}")
    counts = {"insert": (written, 0, 0), "update": (0, written, 0), "delete": (0, 0, written)}[kind]
    cur.execute(
        f"INSERT INTO {LEDGER} (table_name, digest, rows, inserted, updated, deleted, refused)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        parameters=(table, _batch_digest(kind, rows, keys), rows.height, *counts, refused),
    )
    interrupt.crash_point("load-copy")
    return written


UNIQUE_SQL = """
SELECT format('DROP INDEX %I.%I', n.nspname, i.relname), pg_get_indexdef(x.indexrelid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace
WHERE x.indrelid = to_regclass($1) AND x.indisunique AND NOT x.indisprimary
  AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = x.indexrelid)
UNION ALL
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', $1, k.conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', $1, k.conname, pg_get_constraintdef(k.oid))
FROM pg_constraint k
WHERE k.conrelid = to_regclass($1) AND k.contype = 'u'
  AND NOT EXISTS (SELECT FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = k.conindid)
"""


def unique_indexes(conn, table: str) -> list[tuple[str, str]]:
    """(drop, create) of each unique index and constraint of `table` besides its primary key
    (those a foreign key depends on left out: they cannot be dropped)."""
    with conn.cursor() as cur:
        cur.execute(UNIQUE_SQL, parameters=(quote(table),))
        return [(drop, create) for drop, create in cur.fetchall()]


def parking(models) -> dict[str, list[str]]:
    """Table -> an UPDATE per unique column that moves the value of a row about to be deleted
    (ids in $1) out of the way when another row holds it too: NULL where the column allows it,
    else, in a text column, the row's own id as text. Another kind of column keeps its value, and
    the index built again names the duplicate. The rows moved have their records written in the
    same statement, so a later load does not take them for rows someone else changed, and their
    digests' last bit flipped (unlike the rows as loaded): a load stopped before deleting such a row
    (killed, or at a row the app wrote that names it) leaves it unlike its document, and should the
    document come back unchanged, the next load writes the row again instead of calling it equal."""
    statements: dict[str, list[str]] = {}
    for m in models:
        for f in m.fields:
            if not f.unique or f.key == "_id":
                continue
            column, table = quote(f.name), quote(m.table)
            value = "NULL" if f.nullable else "t.id::text"
            if f.nullable or f.kind is Kind.TEXT:
                statements.setdefault(m.table, []).append(
                    f"WITH moved AS (UPDATE {table} t SET {column} = {value} WHERE t.id = ANY($1::uuid[]) "
                    f"AND EXISTS (SELECT FROM {table} o WHERE o.{column} = t.{column} AND o.id <> t.id) "
                    "RETURNING t.id) "
                    f"UPDATE {owned_table(m.table)} w SET {DIGEST} = w.{DIGEST} # 1 FROM moved WHERE w.id = moved.id"
                )
    return statements


def write_together(
    conn,
    table: str,
    writes,
    keys: list[str],
    kinds: dict[str, Kind],
    unique,
    parked: list[str],
    gone: list,
    progress,
    task,
) -> dict:
    """Every batch of a table with unique values in one transaction, its unique indexes dropped
    first and built again last. PostgreSQL checks a unique index row by row, so two rows that
    swap a value, or one taking the value another gives up later, would collide if written one
    after the other. A row to be deleted later in the load (its document gone or quarantined)
    whose unique value another row now holds gives it up first (`parked`, see `parking`); built again over
    the final rows, the index refuses only a true duplicate."""
    written = {"update": 0, "insert": 0}
    try:
        with conn.cursor() as cur:
            for drop, _ in unique:
                cur.execute(drop)
            for kind, batch in writes:
                written[kind] += _apply(cur, table, kind, batch, keys, kinds)
                progress.update(task, advance=batch.height)
            for statement in parked if gone else ():
                cur.execute(statement, parameters=(gone,))
            interrupt.crash_point("load-unique")  # the rows written, the indexes not yet built again
            for _, create in unique:
                cur.execute(create)
        conn.commit()
    except (pgdbapi.IntegrityError, pgdbapi.DataError) as error:
        conn.rollback()
        raise ConfigError(
            f'PostgreSQL refused the changed rows of "{table}": {server_message(error)}',
            stage="load",
            hint="nothing of them was written; a row this migration did not write holds that value (or, in a "
            "column that takes neither NULL nor text, the row of a document deleted or quarantined since): "
            "change or delete it, or load afresh with --replace",
        ) from None
    interrupt.crash_point("load-batch")
    return written


def _batch_digest(kind: str, rows: pl.DataFrame, keys: list[str]) -> str:
    """Names the batch in the ledger: what it did to which rows, and when (the same rows may
    be deleted and inserted again by a later load)."""
    content = digests(rows, [*keys, DIGEST] if DIGEST in rows.columns else keys).to_numpy().tobytes()
    return f"{kind}:{hashlib.sha256(content).hexdigest()[:32]}:{time.time_ns()}"


def _live_indexes(conn, table: str, names: list[str]) -> dict[str, str]:
    """Of the indexes `names`, those the table has: name -> its definition as the target holds it."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = $1"
            " AND indexname = ANY($2::text[])",
            parameters=(table, names),
        )
        return dict(cur.fetchall())


def _set_aside(conn, table: str) -> dict[str, str]:
    """The table's plain indexes a bulk load dropped and has not built again: name -> definition."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT name, definition FROM {SET_ASIDE} WHERE table_name = $1", parameters=(table,))
        return dict(cur.fetchall())


def _owned_key(conn, table: str) -> str | None:
    """The name of the primary key of the table's owned rows; None while a bulk load has it
    dropped (or before the owned rows' table exists)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'p'",
            parameters=(owned_table(table),),
        )
        found = cur.fetchone()
    return found[0] if found else None


def _bulk(conn, table: str, indexes: dict[str, str], empty: bool) -> bool:
    """Into an empty table (or one whose plain indexes or owned rows' key a crashed bulk load
    dropped), drop the plain indexes and the owned rows' primary key now and build them once
    the rows are in: one sort each instead of an insertion into a btree for every row. Each index
    is kept as the target defines it (a later migration of the app's may have redefined one under
    its name), in the transaction that drops it, and built again from that."""
    aside, key = _set_aside(conn, table), _owned_key(conn, table)
    if not (empty or aside or key is None):
        return False
    live = _live_indexes(conn, table, list(indexes))
    with conn.cursor() as cur:
        for name, definition in live.items():
            cur.execute(
                f"INSERT INTO {SET_ASIDE} (table_name, name, definition) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                parameters=(table, name, definition),
            )
            cur.execute(f"DROP INDEX {quote(name)}")
        if key:
            cur.execute(f"ALTER TABLE {owned_table(table)} DROP CONSTRAINT {quote(key)}")
    conn.commit()
    return True


def _rebuild(conn, table: str, indexes: dict[str, str], keys: list[str]) -> None:
    """The plain indexes and the owned rows' primary key a bulk load dropped, built again: each
    index as the target defined it. Of a bulk load by a version of m2pg that kept no definition
    (its owned rows' key dropped with them), the declared `indexes` the table lacks."""
    unkeyed = _owned_key(conn, table) is None and preflight_target.exists(conn, owned_table(table))
    aside = _set_aside(conn, table)
    if not aside and unkeyed:
        live = _live_indexes(conn, table, list(indexes))
        aside = {name: statement for name, statement in indexes.items() if name not in live}
    present = _live_indexes(conn, table, list(aside))
    with conn.cursor() as cur:
        for name, definition in aside.items():
            if name not in present:
                cur.execute(definition)
        cur.execute(f"DELETE FROM {SET_ASIDE} WHERE table_name = $1", parameters=(table,))
        if unkeyed:
            cur.execute(f"ALTER TABLE {owned_table(table)} ADD PRIMARY KEY ({', '.join(map(quote, keys))})")
    conn.commit()


def load_table(
    conn,
    staging: Staging,
    table: str,
    keys: list[str],
    kinds: dict[str, Kind],
    batch_size: int,
    progress,
    indexes: dict[str, str],
    parked: list[str],
    overwrite: bool = False,
) -> tuple[dict, pl.DataFrame]:
    """Update the table's changed rows and insert its new ones, batch by batch, one staged part
    in memory at a time; (its summary, the owned keys to delete once no row points at them).
    `overwrite`: see `Owned`.
    Into a table the migration has not written yet every row is new: each part is read once.
    Where unique values may change hands (rows updated, or rows inserted while others go), all
    is written in one transaction (`write_together`); `parked`: see `parking`."""
    started, columns = time.perf_counter(), list(kinds)
    parts, owned = _parts(staging, table), owned_rows(conn, table, keys, overwrite)
    if overwrite and owned.deleted.height:
        forget_deleted(conn, table, keys)
    changes = None if owned.rows.is_empty() else compare(_staged_rows(parts, keys, columns), owned.rows, keys)
    left = owned.left(changes)
    if left:
        log.warning(
            'load: "%s": %s m2pg wrote %s changed or deleted in the target by someone else since, and %s left '
            "unlike the source (--overwrite-changed makes such rows as the source holds them)",
            table,
            counted(left, "row"),
            were(left),
            are(left),
        )
    elif overwrite and (others := owned.changed.height + owned.deleted.height):
        log.warning(
            'load: "%s": %s m2pg wrote %s changed or deleted in the target by someone else since: '
            "made again as in the source (--overwrite-changed)",
            table,
            counted(others, "row"),
            were(others),
        )
    total = _rows_in(parts) if changes is None else changes.insert.height + changes.update.height
    with conn.cursor() as cur:
        cur.execute(f"SELECT NOT EXISTS (SELECT FROM {quote(table)})")
        empty = cur.fetchone()[0]
    bulk = _bulk(conn, table, indexes, empty=empty and (changes is None or changes.insert.height > 0))
    task = progress.add_task(f"load {table}", total=total)
    written, committed, adopted = {"update": 0, "insert": 0}, 0, 0
    # a junction the app may have written pairs into: one m2pg wrote before, or one that holds rows
    # though m2pg wrote none into it yet (its trial staged no pair)
    adopt = len(keys) > 1 and (changes is not None or not empty)
    writes = _writes(parts, changes, columns, batch_size)
    gone = changes.delete if changes else pl.DataFrame()
    moving = changes is not None and (changes.update.height or (changes.insert.height and gone.height))
    unique = unique_indexes(conn, table) if moving else []
    if unique:
        leaving = gone["id"].to_list() if parked and gone.height else []
        written = write_together(conn, table, writes, keys, kinds, unique, parked, leaving, progress, task)
        interrupt.check("load", f"{table}: {counted(total, 'row')} written", "the remaining tables")
    else:
        for kind, batch in writes:
            done = write_batch(conn, table, kind, batch, keys, kinds, adopt)
            written[kind] += done
            adopted += batch.height - done if adopt and kind == "insert" else 0
            committed += batch.height
            progress.update(task, advance=batch.height)
            interrupt.check("load", f"{table}: {committed} of {total} rows written", "the remaining batches and tables")
    if bulk:
        _rebuild(conn, table, indexes, keys)
    if adopted:
        log.warning(
            'load: "%s": %s someone else wrote %s in the source now too: kept, and the migration\'s from now on',
            table,
            counted(adopted, "pair"),
            are(adopted),
        )
    unchanged = changes.unchanged if changes else 0
    summary = {
        "table": table,
        "rows": total + unchanged,
        "inserted": written["insert"],
        "updated": written["update"],
        "deleted": 0,
        "unchanged": unchanged + adopted,  # nothing written: the target held them already
        "left_changed": left,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return summary, gone


def _writes(parts: list[Path], changes: Changes | None, columns: list[str], batch_size: int):
    """(kind, a batch of rows with their digests) to write, one part in memory at a time. When
    nothing was written before (`changes` None) every row of each part is inserted. Else the
    changed rows of all parts gather into batches of `batch_size`, so a few changes spread over
    many parts take a few transactions, not one per part; the updates left over go before the
    inserts left over, as a value one row gives up another may take."""
    if changes is None:
        for path in parts:
            yield from (("insert", batch) for batch in batches(_digested(path, columns), batch_size))
        return
    pending: dict[str, list[pl.DataFrame]] = {"update": [], "insert": []}
    for number, path in enumerate(parts):
        places = {kind: rows.filter(pl.col("part") == number) for kind, rows in _by_kind(changes)}
        if not any(place.height for place in places.values()):
            continue
        frame = pl.read_parquet(path)
        for kind, place in places.items():
            pending[kind].append(frame[place["row"]].with_columns(place[DIGEST]))
            gathered = pl.concat(pending[kind])
            full = gathered.height - gathered.height % batch_size
            yield from ((kind, batch) for batch in batches(gathered.head(full), batch_size))
            pending[kind] = [gathered.slice(full)]
    for kind, _ in _by_kind(changes):
        left = pl.concat(pending[kind]) if pending[kind] else pl.DataFrame()
        yield from ((kind, batch) for batch in batches(left, batch_size))


def _by_kind(changes: Changes) -> tuple[tuple[str, pl.DataFrame], ...]:
    """The staged rows to write, updates first."""
    return ("update", changes.update), ("insert", changes.insert)


def delete_rows(
    conn,
    table: str,
    keys: list[str],
    gone: pl.DataFrame,
    batch_size: int,
    pointing: list[tuple[str, str, list[str]]],
    progress,
    refused: pl.DataFrame | None = None,
) -> dict[str, int]:
    """Delete the rows whose documents are gone or now refused (the ids `refused`), batch by
    batch, once the rows that pointed at them have been changed or deleted; stop, naming it, at a
    row the migration did not write that still points at one. The numbers deleted and refused."""
    deleted, refused_rows = 0, 0
    if gone.is_empty():
        return {"deleted": 0, "deleted_refused": 0}
    task = progress.add_task(f"delete from {table}", total=gone.height)
    for batch in batches(gone, batch_size):
        _not_pointed_at(conn, table, batch, pointing)
        among = batch.join(refused, on="id", how="semi").height if refused is not None else 0
        deleted += write_batch(conn, table, "delete", batch, keys, {}, refused=among)
        refused_rows += among
        progress.update(task, advance=batch.height)
        interrupt.check("load", f"{table}: {deleted} of {gone.height} rows deleted", "the remaining deletions")
    return {"deleted": deleted, "deleted_refused": refused_rows}


def _not_pointed_at(
    conn, table: str, batch: pl.DataFrame, pointing: list[tuple[str, str, list[str]]], changed: bool = True
) -> None:
    """No row of someone else points at a row about to be deleted (its foreign key would delete
    it, set it to NULL or refuse the deletion): neither one the migration did not write nor one
    it wrote that someone else changed since (its `xmin` is not its record's, `_owned_rows`),
    which the load leaves as it is. By the time a parent's rows are deleted, its children's
    changed rows whose documents changed too have been written again (their `xmin` is their
    record's once more), and those whose documents are gone have been deleted. A table the app
    does not declare (no key columns: `outside_pointing`) holds no row of the migration's.
    Without `changed` (the plan, before the load wrote any child again), only rows the migration
    never wrote count."""
    if not pointing:
        return
    ids = batch["id"].to_list()
    same = " AND o.xmin = c.xmin" if changed else ""
    with conn.cursor() as cur:
        for child, column, child_keys in pointing:
            theirs = " AND ".join(f"o.{quote(k)} = c.{quote(k)}" for k in child_keys)
            cur.execute(
                f"SELECT c.{quote(column)}::text, c.{quote(child_keys[0])}::text FROM {quote(child)} c "
                f"WHERE c.{quote(column)} = ANY($1::uuid[]) AND NOT EXISTS "
                f"(SELECT FROM {owned_table(child)} o WHERE {theirs}{same}) LIMIT 1"
                if child_keys
                else f"SELECT c.{quote(column)}::text, c::text FROM {child} c "
                f"WHERE c.{quote(column)} = ANY($1::uuid[]) LIMIT 1",
                parameters=(ids,),
            )
            found = cur.fetchone()
            if found:
                raise ConfigError(
                    f'row {found[0]} of "{table}", whose document is gone from the source, is referenced by '
                    f"{quote(child) if child_keys else child}.{column} of row {found[1]}, which this migration did "
                    "not write (or someone else changed since it wrote it)",
                    stage="load",
                    hint=f'nothing more was deleted from "{table}"; change or delete that row (or, if m2pg wrote it, '
                    "make it as the source holds it with --overwrite-changed), then run again",
                )


def pointing_at(models, junctions) -> dict[str, list[tuple[str, str, list[str]]]]:
    """Table -> (table, column, its key columns) of each foreign key pointing at it."""
    tables, keys = {m.name: m.table for m in models}, keys_of(models, junctions)
    found: dict[str, list] = {}
    for m in models:
        for f in m.references:
            found.setdefault(tables[f.parent.model], []).append((m.table, f.name, keys[m.table]))
    for j in junctions:
        for side in (j.left, j.right):
            found.setdefault(tables[side.model], []).append((j.table, side.column, keys[j.table]))
    return found


OUTSIDE_POINTING_SQL = """
SELECT f.relname::text, format('%I.%I', n.nspname, r.relname), a.attname::text
FROM pg_constraint k
JOIN pg_class r ON r.oid = k.conrelid
JOIN pg_namespace n ON n.oid = r.relnamespace
JOIN pg_class f ON f.oid = k.confrelid
JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
WHERE k.contype = 'f' AND cardinality(k.conkey) = 1 AND f.relnamespace = 'public'::regnamespace
  AND f.relname IN ({0}) AND NOT (r.relnamespace = 'public'::regnamespace AND r.relname IN ({0}))
ORDER BY 1, 2, 3
"""


def outside_pointing(conn, tables: list[str]) -> dict[str, list[tuple[str, str, list[str]]]]:
    """Table -> (table as SQL names it, column, no key columns) of each foreign key from a table
    the app does not declare (one a later migration of the app added, say) pointing at it."""
    with conn.cursor() as cur:
        cur.execute(OUTSIDE_POINTING_SQL.format(", ".join(map(literal, tables))))
        found: dict[str, list] = {}
        for table, child, column in cur.fetchall():
            found.setdefault(table, []).append((child, column, []))
    return found


def defer_foreign_keys(conn, tables: list[str]) -> bool:
    """Whether this load runs without some foreign keys among `tables`.

    Into empty tables, all of them: the live ones are stored and dropped in one transaction (a
    stopped restore may have put some back). Into tables holding rows, those by which a table
    references itself, as a row may point at one a later batch writes (or an update at one
    inserted after it), and those a deferred load stopped before restoring; the others stay,
    and check each row.
    """
    with conn.cursor() as cur:
        cur.execute("SELECT " + " OR ".join(f"EXISTS (SELECT FROM {quote(t)})" for t in tables))
        own = " AND k.conrelid = k.confrelid" if cur.fetchone()[0] else ""
        live = FOREIGN_KEYS_SQL.format(", ".join(map(literal, tables))) + own
        cur.execute(f"INSERT INTO {DEFERRED} {live} ON CONFLICT DO NOTHING")
        cur.execute(live)
        for table, name, _ in cur.fetchall():
            cur.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
        cur.execute(f"SELECT EXISTS (SELECT FROM {DEFERRED})")
        deferred = cur.fetchone()[0]
    conn.commit()
    return deferred


def checking(conn, tables: list[str]) -> dict[str, set[str]]:
    """Table -> the tables its live foreign keys point to (NOT VALID ones too: they check
    every row written), among `tables`."""
    with conn.cursor() as cur:
        cur.execute(CHECKING_SQL.format(", ".join(map(literal, tables))))
        found: dict[str, set[str]] = {}
        for table, parent in cur.fetchall():
            if parent != table:  # a self-reference is no wait
                found.setdefault(table, set()).add(parent)
    return found


def _attempt(conn, statements: list[tuple[str, tuple | None]]) -> str | None:
    """Run the statements in one transaction; PostgreSQL's message if it rolled back."""
    try:
        with conn.cursor() as cur:
            for sql, parameters in statements:
                cur.execute(sql, parameters=parameters)
        conn.commit()
    except pgdbapi.Error as error:
        conn.rollback()
        return server_message(error)
    return None


def stored_foreign_keys(conn) -> dict[str, list[tuple[str, str, bool]]]:
    """Table -> (name, definition, live) of each foreign key that waits in the store."""
    with conn.cursor() as cur:
        cur.execute(STORED_SQL)
        rows = cur.fetchall()
    by_table: dict[str, list] = {}
    for table, name, definition, live in rows:
        by_table.setdefault(table, []).append((name, definition, live))
    return by_table


def target_progress(pg_uri: str) -> dict:
    """What loads have left in the target: batches and rows the ledger records per table, the
    foreign keys stored and the plain indexes set aside by a load that stopped before putting them
    back (or one running now: the session `writing`, None when no m2pg command writes to it), and
    when the last load began if it has not finished (`unfinished_load`)."""
    with connect(pg_uri) as conn:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL, to_regclass($3) IS NOT NULL",
                parameters=(LEDGER, DEFERRED, SET_ASIDE),
            )
            has_ledger, has_store, has_aside = cur.fetchone()
            loaded, aside = {}, {}
            if has_ledger:
                cur.execute(
                    f"SELECT table_name, count(*), sum(inserted) - sum(deleted) FROM {LEDGER} GROUP BY 1 ORDER BY 1"
                )
                loaded = {table: {"batches": batches, "rows": int(rows)} for table, batches, rows in cur.fetchall()}
            if has_aside:
                cur.execute(f"SELECT table_name, array_agg(name ORDER BY name) FROM {SET_ASIDE} GROUP BY 1 ORDER BY 1")
                aside = dict(cur.fetchall())
        waiting = stored_foreign_keys(conn) if has_store else {}
        writer = preflight_target.writer_session(conn)
        unfinished = preflight_target.unfinished_load(conn)
    return {
        "loaded": loaded,
        "stored_foreign_keys": {t: [name for name, *_ in keys] for t, keys in waiting.items()},
        "set_aside_indexes": aside,
        "writing": preflight_target.session_words(writer) if writer else None,
        "unfinished_load": unfinished,
    }


def restore_table(
    conn, table: str, stored: list[tuple[str, str, bool]], adding: threading.Lock, progress, task
) -> dict:
    """Put a table's stored foreign keys back; PostgreSQL's message for each it refused.

    Each is added NOT VALID first (no scan; new rows are checked from then on), then validated
    in the transaction that deletes its stored row. ADD FOREIGN KEY locks the table and the one
    it points to, so the additions of all tables take turns (`adding`); VALIDATE locks only its
    own table, so tables validate side by side.
    """
    failed, valid = {}, []
    with adding:
        for name, definition, live in stored:
            add = definition if definition.endswith(NOT_VALID) else definition + NOT_VALID
            failed[table, name] = (
                None
                if live
                else _attempt(conn, [(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {add}", None)])
            )
            if failed[table, name]:
                progress.update(task, advance=1)
            else:
                valid.append((name, definition))
    failed.update(_validate(conn, table, valid, progress, task))
    return {key: message for key, message in failed.items() if message}


def _validate(conn, table: str, constraints: list[tuple[str, str]], progress, task) -> dict:
    """Validate a table's foreign keys, each deleting its stored row in its transaction."""
    failed = {}
    for name, definition in constraints:
        forget = (f"DELETE FROM {DEFERRED} WHERE table_name = $1 AND name = $2", (table, name))
        check = (
            []
            if definition.endswith(NOT_VALID)
            else [  # else it was NOT VALID before the load
                (f"ALTER TABLE {quote(table)} VALIDATE CONSTRAINT {quote(name)}", None)
            ]
        )
        failed[table, name] = _attempt(conn, [*check, forget])
        if not failed[table, name]:
            interrupt.crash_point("load-restore")
        progress.update(task, advance=1)
        interrupt.check("load", f"foreign keys of {table} restored", "the remaining foreign keys")
    return {key: message for key, message in failed.items() if message}


@contextmanager
def borrowed(connections: queue.SimpleQueue):
    """One of the load's connections, given back when the work with it ends, however it ends."""
    conn = connections.get()
    try:
        yield conn
    finally:
        connections.put(conn)


def refused(failed: dict, total: int) -> ConfigError:
    return ConfigError(
        f"{len(failed)} of {total} foreign keys could not be restored after the load:\n  "
        + "\n  ".join(f"{quote(t)}.{quote(n)}: {m}" for (t, n), m in sorted(failed.items())),
        stage="load",
        hint="fix or delete the rows PostgreSQL names, then run `m2pg load` again; "
        f"the definitions stay in {DEFERRED} until restored (meanwhile a key "
        "PostgreSQL could add is in place NOT VALID: it checks new rows only)",
    )


def parents(models, junctions) -> dict[str, set[str]]:
    """Table -> the tables its foreign keys point to, which must be loaded before it."""
    tables = {m.name: m.table for m in models}
    needs = {m.table: {tables[f.parent.model] for f in m.references} - {m.table} for m in models}
    needs.update({j.table: {tables[j.left.model], tables[j.right.model]} for j in junctions})
    return needs


def put_back_if_untouched(pg_uri: str, models, junctions) -> bool:
    """After a load that stopped before its first row: the plain indexes a bulk load dropped
    built again, and every stored foreign key put back as it was, each with its stored row
    deleted in one transaction. Whether that was the case."""
    tables = preflight_target.tables_of(models, junctions)
    try:
        with connect(pg_uri) as conn:
            with conn.cursor() as cur:
                cur.execute("SELECT " + " OR ".join(f"EXISTS (SELECT FROM {quote(t)})" for t in tables))
                if cur.fetchone()[0]:
                    return False
            key_columns = keys_of(models, junctions)
            for table, indexes in secondary_indexes(models, junctions).items():
                _rebuild(conn, table, indexes, key_columns[table])
            for table, keys in stored_foreign_keys(conn).items():
                for name, definition, live in keys:
                    alter = f"ALTER TABLE {quote(table)} "
                    add: list[tuple[str, tuple | None]] = (
                        [] if live else [(f"{alter}ADD CONSTRAINT {quote(name)} {definition}", None)]
                    )
                    check: list[tuple[str, tuple | None]] = (
                        [(f"{alter}VALIDATE CONSTRAINT {quote(name)}", None)]
                        if (live and not definition.endswith(NOT_VALID))
                        else []
                    )
                    forget: list[tuple[str, tuple | None]] = [
                        (f"DELETE FROM {DEFERRED} WHERE table_name = $1 AND name = $2", (table, name))
                    ]
                    if _attempt(conn, add + check + forget):
                        return False
    except (pgdbapi.Error, ConfigError):  # the server is gone: the next load restores them
        return False
    return True


def load(
    staging: Staging,
    pg_uri: str,
    models,
    junctions,
    batch_size: int = BATCH_SIZE,
    replace: bool = False,
    workers: int = WORKERS,
    overwrite: bool = False,
    enums=None,
    in_run: bool = False,
) -> LoadReport:
    """Make every table's migrated rows equal its staged rows: inserts and updates parents
    first, deletions children first; tables whose turn has come load side by side, each worker on
    a connection of its own, so PostgreSQL works on both cores. Deferred foreign keys are restored
    on the same connections as soon as their tables are done, beside the loading of the rest.

    Nothing is deferred or emptied before the staged inputs and the target are checked; a load
    that stops before its first row puts the foreign keys back as they were. `in_run`: the load
    of `m2pg run`, which stays under way (finished) until the run ends (`run_ended`)."""
    preflight_target.staged_inputs(staging, models, junctions)
    preflight_target.usable_target(pg_uri, "load", preflight_target.tables_of(models, junctions))
    with preflight_target.only_writer(pg_uri, "load"):
        return _load_checked(staging, pg_uri, models, junctions, batch_size, replace, workers, overwrite, enums, in_run)


def _load_checked(
    staging: Staging,
    pg_uri: str,
    models,
    junctions,
    batch_size: int,
    replace: bool,
    workers: int,
    overwrite: bool,
    enums=None,
    in_run: bool = False,
) -> LoadReport:
    with connect(pg_uri) as conn:
        ensure_target(
            conn, pg_uri, models, junctions, replace, staging, enums=enums, overwrite=overwrite, reports_of=staging
        )
        earlier = _earlier_writes(conn)
        deferred = defer_foreign_keys(conn, preflight_target.tables_of(models, junctions))
    try:
        done, failed, restoring, order = _load_all(
            staging, pg_uri, models, junctions, batch_size, workers, deferred, overwrite
        )
    except BaseException:
        if deferred and put_back_if_untouched(pg_uri, models, junctions):
            log.warning("load: stopped before its first row; the foreign keys are back as they were")
        elif deferred:
            log.warning("load: foreign keys not yet restored stay in %s; the next `m2pg load` restores them", DEFERRED)
        raise
    if failed:
        raise refused(failed, restoring)
    tables = [_with_earlier(done[t], earlier.get(t)) for t in order]
    total = {key: sum(t[key] for t in tables) for key in ("rows", *WRITES, "deleted_refused")}
    report: LoadReport = {
        "target": redact(pg_uri),
        "tables": tables,
        "rows": total["rows"],
        "inserted": total["inserted"],
        "updated": total["updated"],
        "deleted": total["deleted"],
        "deleted_refused": total["deleted_refused"],
        "unchanged": total["unchanged"],
        "left_changed": sum(t["left_changed"] for t in tables),
        "foreign_keys_restored": restoring,
    }
    write_json(report, staging.report("load.json"))
    if in_run:  # a run killed before its last line: the next one reports these writes too
        with connect(pg_uri) as conn, conn.cursor() as cur:
            cur.execute(f"UPDATE {UNDER_WAY} SET finished_at = now()")
            conn.commit()
    else:
        run_ended(pg_uri)
    return report


def run_ended(pg_uri: str) -> None:
    """The load, and the run it was part of, reported: the next load is a new one."""
    with connect(pg_uri) as conn, conn.cursor() as cur:
        cur.execute(f"DELETE FROM {UNDER_WAY}")
        conn.commit()


EARLIER = ("inserted", "updated", "deleted", "deleted_refused")


def _earlier_writes(conn) -> dict[str, dict[str, int]]:
    """Table -> the rows that loads stopped before they finished wrote (none after a finished
    load): this load goes on with their work, and reports it as one load that never stopped."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT l.table_name, sum(l.inserted), sum(l.updated), sum(l.deleted), sum(l.refused) "
            f"FROM {LEDGER} l JOIN {UNDER_WAY} u ON l.loaded_at >= u.started_at GROUP BY 1"
        )
        return {table: dict(zip(EARLIER, map(int, counts), strict=True)) for table, *counts in cur.fetchall()}


def _with_earlier(summary: dict, earlier: dict[str, int] | None) -> dict:
    """A table's summary with the writes of the stopped loads added: the rows they inserted or
    updated, which this load found as the source holds them, are not unchanged but written."""
    if not earlier:
        return summary
    written = earlier["inserted"] + earlier["updated"]
    return {
        **summary,
        **{key: summary[key] + earlier[key] for key in EARLIER},
        "unchanged": max(summary["unchanged"] - written, 0),
    }


# What the load and the commands after it report of the target, which a load about to write makes
# untrue: a load stopped halfway (--replace having emptied the tables) left the last one's
# load.json, reconcile.json and verify.json in place, and `m2pg status` and the HTML report said
# "rows loaded 19,579" and "verification pass" of a target holding 2,059 rows.
OF_THE_TARGET = ("plan.json", "load.json", "reconcile.json", "verify.json", "report.html")


def forget_reports_of_the_target(staging: Staging) -> None:
    """Remove the reports of the target as it was: once the checks have passed and the load is
    about to write, they describe a target that is going; the load writes its own when it ends."""
    for name in OF_THE_TARGET:
        staging.report(name).unlink(missing_ok=True)


WRITES = ("inserted", "updated", "deleted", "unchanged")
PLANNED = ("insert", "update", "delete", "unchanged")


def plan(staging: Staging, pg_uri: str, models, junctions, overwrite: bool = False, enums=None) -> PlanReport:
    """What a load would write to each table, found without writing anything: the staged rows
    compared with the rows the migration wrote before (none in a target without the app's
    tables, which a run would create)."""
    preflight_target.staged_inputs(staging, models, junctions)
    preflight_target.usable_target(pg_uri, "plan", preflight_target.tables_of(models, junctions), writes=False)
    created = has_schema(pg_uri, models, junctions)
    if created:
        preflight_target.schema_matches(pg_uri, models, junctions, "plan", enums)
    keys, sources = keys_of(models, junctions), {m.table: m.source for m in models}
    tables: list[dict] = []
    stop, pointing = None, pointing_at(models, junctions)
    with connect(pg_uri) as conn:
        if created:
            try:
                staged_safe(conn, pg_uri, staging, models, junctions, "plan", overwrite)
            except ConfigError as error:  # the plan still shows what the load would have written
                hint = f"; hint: {error.hint}" if error.hint else ""
                stop = f"a load would stop before writing anything: {error.args[0]}{hint}"
            for table, outside in outside_pointing(conn, list(keys)).items():
                pointing[table] = [*pointing.get(table, []), *outside]
        for table, kinds in _kinds(models, junctions).items():
            source = sources.get(table)
            quarantined = _rows_in(staging.quarantine_parts(source)) if source else 0
            if created and preflight_target.exists(conn, owned_table(table)):
                changes, left = plan_table(conn, staging, table, keys[table], list(kinds), overwrite)
                if stop is None and changes.delete.height:  # the load would stop at this deletion
                    try:
                        _not_pointed_at(conn, table, changes.delete, pointing.get(table, []), changed=False)
                    except ConfigError as error:
                        stop = (
                            f'a load would stop at its deletions from "{table}", after writing the inserts and '
                            f"updates before them: {error.args[0]}; hint: change or delete that row (or, if m2pg "
                            "wrote it, make it as the source holds it with --overwrite-changed) before the load"
                        )
                refused = refused_among(staging, source, changes.delete)
                counts = {**changes.counts(), "delete_refused": refused, "left_changed": left}
                if len(keys[table]) > 1 and changes.insert.height:  # a junction: pairs to keep, not insert
                    kept = present(conn, table, changes.insert, keys[table])
                    counts |= {"insert": counts["insert"] - kept, "unchanged": counts["unchanged"] + kept}
            else:  # nothing loaded yet: every staged row is new
                rows = _rows_in(staging.clean_parts(table))
                counts = dict.fromkeys((*PLANNED, "delete_refused", "left_changed"), 0) | {"insert": rows}
            tables.append({"table": table, **counts, "quarantined": quarantined})
    total = {key: sum(t[key] for t in tables) for key in (*PLANNED, "delete_refused", "left_changed")}
    report: PlanReport = {
        "target": redact(pg_uri),
        "tables": tables,
        "insert": total["insert"],
        "update": total["update"],
        "delete": total["delete"],
        "delete_refused": total["delete_refused"],
        "unchanged": total["unchanged"],
        "left_changed": total["left_changed"],
    }
    if stop:
        report["stop"] = stop
    return report


def present(conn, table: str, rows: pl.DataFrame, keys: list[str]) -> int:
    """How many of these rows the table holds already (pairs someone else wrote, which a load
    keeps: `_apply`); nothing is left behind."""
    with conn.cursor() as cur:
        scratch = _scratch(cur, "owned_" + table, owned_table(table))
        marked = rows.select(keys).with_columns(pl.lit(0, pl.Int64).alias(DIGEST))
        _ingest(cur, scratch, marked, {**{k: Kind.OBJECT_ID for k in keys}, DIGEST: Kind.INT}, temporary=True)
        cur.execute(f"SELECT count(*) FROM {quote(table)} t JOIN {scratch} s ON {_matching('t', 's', keys)}")
        found = cur.fetchone()[0]
    conn.rollback()
    return found


def _kinds(models, junctions) -> dict[str, dict[str, Kind]]:
    """Table -> its columns' kinds, in load order (parents before children as declared)."""
    kinds = {m.table: load_types(m, []) for m in models}
    kinds.update({j.table: load_types(None, [j.left.column, j.right.column]) for j in junctions})
    return kinds


def schedule(
    order: list[str], needs: dict[str, set[str]], stored, checked: dict[str, set[str]], sizes: dict[str, int]
) -> tuple[list, dict]:
    """The load's jobs in the order they are preferred, and what each waits for. A table's
    inserts and updates wait for the parents its live foreign keys check (`checked`; none
    while a bulk load has them dropped), the largest table first among those ready (`sizes`),
    so it does not start last and finish alone; a table's deletions once its children are done
    with the rows (changed, or deleted themselves); the stored foreign keys go back once every
    table is loaded: adding one locks both its tables against writes and index builds, so
    added while others load, each waited for them, holding a connection that could load
    (deleting rows nothing points at any more breaks no key). A table's keys also wait for its
    own deletions: a bulk load stopped with a child's rows written before their parents' leaves
    rows naming parents never loaded, and where those documents are gone since, the child's
    rows are deleted, not written again."""
    children = {t: {c for c in order if t in needs[c] and c != t} for t in order}
    largest_first = sorted(order, key=lambda t: -sizes[t])
    jobs = [("load", t) for t in largest_first] + [("delete", t) for t in order] + [("restore", t) for t in stored]
    waits = {("load", t): {("load", p) for p in needs[t] & checked.get(t, set())} for t in order}
    waits.update(
        {("delete", t): {("load", t)} | {(step, c) for c in children[t] for step in ("load", "delete")} for t in order}
    )
    own = {t: {("delete", t)} if t in children else set() for t in stored}  # a table the app lacks has none
    waits.update({("restore", t): {("load", p) for p in order} | own[t] for t in stored})
    return jobs, waits


def _load_all(
    staging: Staging, pg_uri: str, models, junctions, batch_size: int, workers: int, deferred: bool, overwrite: bool
) -> tuple[dict, dict, int, list[str]]:
    """Run the loads, deletions and restores: (table -> its summary, the foreign keys PostgreSQL
    refused to restore, the number restored or tried, the tables in load order)."""
    kinds, keys, sources = _kinds(models, junctions), keys_of(models, junctions), {m.table: m.source for m in models}
    plain, needs, pointing, parked = (
        secondary_indexes(models, junctions),
        parents(models, junctions),
        pointing_at(models, junctions),
        parking(models),
    )
    order = list(kinds)
    connections: queue.SimpleQueue = queue.SimpleQueue()
    try:
        for _ in range(workers):
            connections.put(connect(pg_uri))
        with borrowed(connections) as conn:
            stored = stored_foreign_keys(conn) if deferred else {}
            checked = checking(conn, order)
            for table, outside in outside_pointing(conn, order).items():
                pointing[table] = [*pointing.get(table, []), *outside]
        sizes = {t: sum(p.stat().st_size for p in staging.clean_parts(t)) for t in order}
        jobs, waits = schedule(order, needs, stored, checked, sizes)
        adding, failed, restoring = threading.Lock(), {}, sum(map(len, stored.values()))
        gone: dict[str, pl.DataFrame] = {}

        def one(job: tuple[str, str], progress, task) -> dict | int:
            kind, table = job
            with borrowed(connections) as conn:
                if kind == "load":
                    summary, gone[table] = load_table(
                        conn,
                        staging,
                        table,
                        keys[table],
                        kinds[table],
                        batch_size,
                        progress,
                        plain[table],
                        parked.get(table, []),
                        overwrite,
                    )
                    return summary
                if kind == "delete":
                    rows = gone.pop(table)
                    refused = refused_ids(staging, sources.get(table)) if rows.height else None
                    return delete_rows(
                        conn, table, keys[table], rows, batch_size, pointing.get(table, []), progress, refused
                    )
                return restore_table(conn, table, stored[table], adding, progress, task)

        done: dict[tuple[str, str], dict] = {}
        with bars() as progress, ThreadPoolExecutor(workers) as pool:
            task = progress.add_task("restore foreign keys", total=restoring)
            running: dict = {}
            while len(done) < len(jobs):
                for job in jobs:  # loads first: they come first in `jobs`
                    if job not in done and job not in running.values() and waits[job] <= set(done):
                        running[pool.submit(one, job, progress, task)] = job
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    done[running.pop(future)] = future.result()
    finally:
        while not connections.empty():
            connections.get().close()
    for job, result in done.items():
        if job[0] == "restore":
            failed.update(result)
    loads = {table: result for (kind, table), result in done.items() if kind == "load"}
    for table in order:
        loads[table].update(done["delete", table])
    return loads, failed, restoring, order
