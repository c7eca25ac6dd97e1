"""Load: staged clean rows -> PostgreSQL by ADBC bulk ingest (binary COPY), parents first.

Each batch is copied into a temporary table and inserted with ON CONFLICT DO NOTHING, and the
batch is recorded in the ledger `m2pg.ledger` in the same transaction: a batch is either
loaded and recorded or not at all, a resumed load skips recorded batches, and a re-run never
duplicates a row (the UUIDs are deterministic).

Into empty tables the foreign keys are deferred: row-level RI triggers take half the time of
a bulk load, while validating a whole table once at the end is a single join. One transaction
stores the definitions in `m2pg.deferred_constraints` and drops the constraints; a constraint's
row is deleted only in the transaction that validates it again. A crash at any moment thus
leaves every foreign key live or stored, and the next `m2pg load` restores what is stored.

Nothing is deferred, emptied or created before the staged inputs and the target are checked
(preflight_target); --replace empties the app's tables only, never cascading.
"""
from __future__ import annotations

import hashlib
import queue
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager

import adbc_driver_postgresql.dbapi as pgdbapi
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from toolkit import interrupt, postgres, preflight_target
from toolkit.errors import ConfigError
from toolkit.ids import in_lists, uuid_binary
from toolkit.progress import bars, console
from toolkit.redact import redact
from toolkit.schema import literal, quote, secondary_indexes
from toolkit.spec import Kind, ModelSpec
from toolkit.staging import Staging, checked_digest, write_json

BATCH_SIZE = 20_000
WORKERS = 2
LEDGER = "m2pg.ledger"
DEFERRED = "m2pg.deferred_constraints"
LEDGER_DDL = (
    "CREATE SCHEMA IF NOT EXISTS m2pg",
    f"CREATE TABLE IF NOT EXISTS {LEDGER} (table_name text NOT NULL, digest text NOT NULL,"
    " rows integer NOT NULL, inserted integer NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (table_name, digest))",
    f"CREATE TABLE IF NOT EXISTS {DEFERRED} (table_name text NOT NULL, name text NOT NULL,"
    " definition text NOT NULL, PRIMARY KEY (table_name, name))",
)
FOREIGN_KEYS_SQL = """
SELECT r.relname::text, k.conname::text, pg_get_constraintdef(k.oid)
FROM pg_constraint k
JOIN pg_class r ON r.oid = k.conrelid
JOIN pg_class f ON f.oid = k.confrelid
WHERE k.contype = 'f' AND r.relnamespace = 'public'::regnamespace
  AND f.relnamespace = 'public'::regnamespace AND r.relname IN ({0}) AND f.relname IN ({0})
"""
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


def to_arrow(frame: pl.DataFrame, kinds: dict[str, Kind]) -> pa.Table:
    """The Arrow types PostgreSQL's binary COPY accepts for each column kind."""
    arrays = []
    for name, kind in kinds.items():
        column = frame[name].to_arrow()
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if kind is Kind.OBJECT_ID:
            column = uuid_binary(column)
        elif kind is Kind.UUID_LIST:
            column = in_lists(uuid_binary, column)
        elif kind is Kind.JSON:
            column = pa.ExtensionArray.from_storage(pa.json_(pa.large_string()), column.cast(pa.large_string()))
        arrays.append(column)
    return pa.Table.from_arrays(arrays, names=list(kinds))


def ensure_target(conn, pg_uri: str, models, junctions, replace: bool, staging: Staging | None = None,
                  stage: str = "load") -> None:
    """Check the target first (its schema; on --replace that emptying the app's tables reaches
    no other table; else that no row of someone else clashes with a staged one), and only then
    create the ledger and, on --replace, empty the app's tables and the ledger in one statement
    that never cascades."""
    preflight_target.schema_matches(pg_uri, models, junctions, stage)
    tables = preflight_target.tables_of(models, junctions)
    if replace:
        preflight_target.may_empty(conn, tables, stage)
    elif staging is not None:
        preflight_target.staged_clash(pg_uri, staging, models)
    with conn.cursor() as cur:
        for statement in LEDGER_DDL:
            cur.execute(statement)
        if replace:
            cur.execute("TRUNCATE " + ", ".join([*map(quote, tables), LEDGER]))
    conn.commit()


def recorded(conn, table: str) -> dict[str, int]:
    """Digest -> rows inserted, for every batch of `table` the ledger holds."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT digest, inserted FROM {LEDGER} WHERE table_name = $1", parameters=(table,))
        return dict(cur.fetchall())


def only_ours(conn, table: str, done: dict[str, int], digests: set[str]) -> bool:
    """Whether every row in the table came from recorded batches of the current clean parts.

    Then no row of an unrecorded batch can be there yet, and the batch may be copied straight
    into the table; otherwise (a re-run over changed parts) new rows go through ON CONFLICT.
    """
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {quote(table)}")
        present = cur.fetchone()[0]
    return present == sum(n for d, n in done.items() if d in digests)


def load_batch(conn, table: str, batch: pa.Table, digest: str, direct: bool) -> int:
    """One transaction: insert the batch's new rows and record the batch in the ledger."""
    scratch = f"m2pg_{hashlib.md5(table.encode()).hexdigest()[:12]}"
    with conn.cursor() as cur:
        if direct:
            inserted = cur.adbc_ingest(table, batch, mode="append")
        else:
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {scratch} (LIKE {quote(table)}) ON COMMIT DELETE ROWS")
            cur.adbc_ingest(scratch, batch, mode="append", temporary=True)
            cur.execute(f"INSERT INTO {quote(table)} SELECT * FROM {scratch} ON CONFLICT DO NOTHING")
            inserted = cur.rowcount
        cur.execute(f"INSERT INTO {LEDGER} (table_name, digest, rows, inserted) VALUES ($1, $2, $3, $4)",
                    parameters=(table, digest, batch.num_rows, inserted))
        interrupt.crash_point("load-copy")
    conn.commit()
    interrupt.crash_point("load-batch")
    return inserted


def _live_indexes(conn, table: str) -> set[str]:
    with conn.cursor() as cur:
        cur.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = $1",
                    parameters=(table,))
        return {row[0] for row in cur.fetchall()}


def _bulk(conn, table: str, indexes: dict[str, str], empty: bool) -> bool:
    """Into an empty table (or one whose plain indexes a crashed bulk load dropped), drop the
    plain indexes now and build them once the rows are in."""
    missing = set(indexes) - _live_indexes(conn, table)
    if not (empty or missing):
        return False
    with conn.cursor() as cur:
        for name in indexes:
            cur.execute(f"DROP INDEX IF EXISTS {quote(name)}")
    conn.commit()
    return True


def _rebuild(conn, indexes: dict[str, str]) -> None:
    with conn.cursor() as cur:
        for statement in indexes.values():
            cur.execute(statement.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
    conn.commit()


def load_table(conn, staging: Staging, table: str, kinds, batch_size: int, progress,
               indexes: dict[str, str]) -> dict:
    """Load a table's clean parts batch by batch; batches the ledger records are skipped."""
    parts = staging.clean_parts(table)
    if not parts:
        raise ConfigError(f"{staging.clean(table)} holds no clean parts", stage="load",
                          hint="run `m2pg transform` first")
    contents = [(checked_digest(p), p, pq.read_metadata(p).num_rows) for p in parts]
    done = recorded(conn, table)
    digests = {f"{content}:{offset}:{min(batch_size, height - offset)}"
               for content, _, height in contents for offset in range(0, height, batch_size)}
    direct = only_ours(conn, table, done, digests)
    bulk = _bulk(conn, table, indexes, empty=not done and direct)
    total = sum(height for *_, height in contents)
    task = progress.add_task(f"load {table}", total=total)
    started, inserted, skipped, committed = time.perf_counter(), 0, 0, 0
    for content, path, height in contents:  # one part in memory at a time
        frame = None
        for offset in range(0, height, batch_size):
            rows = min(batch_size, height - offset)
            digest = f"{content}:{offset}:{rows}"
            if digest in done:
                skipped += rows
            else:
                frame = pl.read_parquet(path) if frame is None else frame
                inserted += load_batch(conn, table, to_arrow(frame.slice(offset, rows), kinds), digest, direct)
            committed += rows
            progress.update(task, advance=rows)
            interrupt.check("load", f"{table}: {committed} of {total} rows committed",
                            "the remaining batches and tables")
    if bulk:
        _rebuild(conn, indexes)
    return {"table": table, "rows": total, "inserted": inserted, "already_loaded": skipped,
            "seconds": round(time.perf_counter() - started, 3)}


def defer_foreign_keys(conn, tables: list[str]) -> bool:
    """Whether this load runs without the foreign keys among `tables`.

    Into empty tables, yes: the live ones are stored and dropped in one transaction (a
    stopped restore may have put some back). Into tables holding rows, only if a deferred
    load stopped before restoring them; otherwise they stay, and check each row.
    """
    with conn.cursor() as cur:
        cur.execute("SELECT " + " OR ".join(f"EXISTS (SELECT FROM {quote(t)})" for t in tables))
        if cur.fetchone()[0]:
            cur.execute(f"SELECT EXISTS (SELECT FROM {DEFERRED})")
            return cur.fetchone()[0]
        live = FOREIGN_KEYS_SQL.format(", ".join(map(literal, tables)))
        cur.execute(f"INSERT INTO {DEFERRED} {live} ON CONFLICT DO NOTHING")
        cur.execute(live)
        for table, name, _ in cur.fetchall():
            cur.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
    conn.commit()
    return True


def _attempt(conn, statements: list[tuple[str, tuple | None]]) -> str | None:
    """Run the statements in one transaction; PostgreSQL's message if it rolled back."""
    try:
        with conn.cursor() as cur:
            for sql, parameters in statements:
                cur.execute(sql, parameters=parameters)
        conn.commit()
    except pgdbapi.Error as error:
        conn.rollback()
        return _message(error)
    return None


def _message(error: pgdbapi.Error) -> str:
    """PostgreSQL's own message and detail, without the driver's wrapping."""
    fields = {key.decode(): value.decode(errors="replace") for key, value in error.details or []}
    said = [fields.get(f"PG_DIAG_MESSAGE_{part}") for part in ("PRIMARY", "DETAIL")]
    return ". ".join(filter(None, said)) or str(error).strip()


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
    """What loads have left in the target: batches and rows the ledger records per table, and
    the foreign keys stored by a load that stopped before putting them back."""
    with connect(pg_uri) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL", parameters=(LEDGER, DEFERRED))
            has_ledger, has_store = cur.fetchone()
            loaded = {}
            if has_ledger:
                cur.execute(f"SELECT table_name, count(*), sum(inserted) FROM {LEDGER} GROUP BY 1 ORDER BY 1")
                loaded = {table: {"batches": batches, "rows": int(rows)} for table, batches, rows in cur.fetchall()}
        waiting = stored_foreign_keys(conn) if has_store else {}
    return {"loaded": loaded, "stored_foreign_keys": {t: [name for name, *_ in keys] for t, keys in waiting.items()}}


def restore_table(conn, table: str, stored: list[tuple[str, str, bool]], adding: threading.Lock,
                  progress, task) -> dict:
    """Put a table's stored foreign keys back; PostgreSQL's message for each it refused.

    Each is added NOT VALID first (no scan; new rows are checked from then on), then validated
    in the transaction that deletes its stored row. ADD FOREIGN KEY locks the table and the one
    it points to, so the additions of all tables take turns (`adding`); VALIDATE locks only its
    own table, so tables validate side by side with each other and with the loading.
    """
    failed, valid = {}, []
    with adding:
        for name, definition, live in stored:
            add = definition if definition.endswith(NOT_VALID) else definition + NOT_VALID
            failed[table, name] = None if live else _attempt(
                conn, [(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {add}", None)])
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
        check = [] if definition.endswith(NOT_VALID) else [  # else it was NOT VALID before the load
            (f"ALTER TABLE {quote(table)} VALIDATE CONSTRAINT {quote(name)}", None)]
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
        stage="load", hint="fix or delete the rows PostgreSQL names, then run `m2pg load` again; "
                           f"the definitions stay in {DEFERRED} until restored (meanwhile a key "
                           "PostgreSQL could add is in place NOT VALID: it checks new rows only)")


def parents(models, junctions) -> dict[str, set[str]]:
    """Table -> the tables its foreign keys point to, which must be loaded before it."""
    tables = {m.name: m.table for m in models}
    needs = {m.table: {tables[f.references.model] for f in m.references} - {m.table} for m in models}
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
            for indexes in secondary_indexes(models, junctions).values():
                _rebuild(conn, indexes)
            for table, keys in stored_foreign_keys(conn).items():
                for name, definition, live in keys:
                    alter = f"ALTER TABLE {quote(table)} "
                    add = [] if live else [(f"{alter}ADD CONSTRAINT {quote(name)} {definition}", None)]
                    check = [(f"{alter}VALIDATE CONSTRAINT {quote(name)}", None)] if (
                        live and not definition.endswith(NOT_VALID)) else []
                    forget = [(f"DELETE FROM {DEFERRED} WHERE table_name = $1 AND name = $2", (table, name))]
                    if _attempt(conn, add + check + forget):
                        return False
    except (pgdbapi.Error, ConfigError):  # the server is gone: the next load restores them
        return False
    return True


def load(staging: Staging, pg_uri: str, models, junctions, batch_size: int = BATCH_SIZE,
         replace: bool = False, workers: int = WORKERS) -> dict:
    """Load every table, parents before children; tables whose parents are in load side by side,
    each worker on a connection of its own, so PostgreSQL works on both cores. A table's deferred
    foreign keys are restored on the same connections as soon as it and the tables they point to
    are loaded, beside the loading of the rest.

    Nothing is deferred or emptied before the staged inputs and the target are checked; a load
    that stops before its first row puts the foreign keys back as they were."""
    preflight_target.staged_inputs(staging, models, junctions)
    for table in preflight_target.tables_of(models, junctions):  # each part as transform wrote it
        for part in staging.clean_parts(table):
            checked_digest(part)
    with connect(pg_uri) as conn:
        ensure_target(conn, pg_uri, models, junctions, replace, staging)
        deferred = defer_foreign_keys(conn, preflight_target.tables_of(models, junctions))
    try:
        done, failed, restoring, order = _load_all(staging, pg_uri, models, junctions, batch_size, workers,
                                                   deferred)
    except BaseException:
        if deferred and put_back_if_untouched(pg_uri, models, junctions):
            console.print("[yellow]load: stopped before its first row; the foreign keys are back as they were[/]")
        elif deferred:
            console.print(f"[yellow]load: foreign keys not yet restored stay in {DEFERRED}; "
                          "the next `m2pg load` restores them[/]")
        raise
    if failed:
        raise refused(failed, restoring)
    tables = [done[t] for t in order]
    report = {"target": redact(pg_uri), "tables": tables, "rows": sum(t["rows"] for t in tables),
              "inserted": sum(t["inserted"] for t in tables),
              "already_loaded": sum(t["already_loaded"] for t in tables), "foreign_keys_restored": restoring}
    write_json(report, staging.report("load.json"))
    return report


def _load_all(staging: Staging, pg_uri: str, models, junctions, batch_size: int, workers: int,
              deferred: bool) -> tuple[dict, dict, int, list[str]]:
    """Run the loads and restores: (table -> its load's summary, the foreign keys PostgreSQL
    refused to restore, the number restored or tried, the tables in load order)."""
    kinds = {m.table: load_types(m, []) for m in models}
    kinds.update({j.table: load_types(None, [j.left.column, j.right.column]) for j in junctions})
    plain, needs = secondary_indexes(models, junctions), parents(models, junctions)
    order = list(kinds)
    connections = queue.SimpleQueue()
    try:
        for _ in range(workers):
            connections.put(connect(pg_uri))
        with borrowed(connections) as conn:
            stored = stored_foreign_keys(conn) if deferred else {}
        # a table's foreign keys go back once it and the tables they point to are loaded
        jobs = [("load", t) for t in order] + [("restore", t) for t in stored]
        waits = {("load", t): {("load", p) for p in needs[t]} for t in order}
        waits.update({("restore", t): {("load", p) for p in {t, *needs[t]} if p in kinds} if t in needs
                      else {("load", p) for p in order} for t in stored})
        adding, failed, restoring = threading.Lock(), {}, sum(map(len, stored.values()))

        def one(job: tuple[str, str], progress, task) -> dict:
            kind, table = job
            with borrowed(connections) as conn:
                if kind == "load":
                    return load_table(conn, staging, table, kinds[table], batch_size, progress, plain[table])
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
    return loads, failed, restoring, order
