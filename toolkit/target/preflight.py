"""Checks made before the load writes to the target, each a ConfigError (exit 2) naming what is
wrong and the fix: the staged inputs are whole and current, the target's schema is the app's,
emptying the app's tables would reach no other table, and no row the migration does not own
holds a unique value of a row it loads.

Here a row is the source's when its id is one this migration's id map gives (a junction pair:
when both its ends are). A row to load thus never clashes with another's primary key: its id is
in the id map, so whatever holds that id is the migration's own row. Only unique values can
clash, with rows written by someone else: the migration's own rows of documents deleted or
quarantined since give their values up in the load itself (`load.parking`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import adbc_driver_postgresql.dbapi as pgdbapi
import polars as pl
from bson import ObjectId
from bson.codec_options import CodecOptions, DatetimeConversion

from toolkit.declarations.spec import Junction, ModelSpec
from toolkit.documents import index as bt
from toolkit.documents.ids import uuid_for
from toolkit.reports.words import counted, were
from toolkit.runtime.errors import ConfigError
from toolkit.runtime.preflight import listed
from toolkit.stages.transform.fingerprint import other_rules
from toolkit.staging.layout import Staging, checked_digest, read_json, transform_predates_extract
from toolkit.target import duck
from toolkit.target.postgres import connect
from toolkit.target.schema import check_target, has_schema, literal, quote

MS: CodecOptions = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_MS)  # any year decodes
OUTSIDE_REFERENCES_SQL = """
SELECT r.relnamespace::regnamespace::text, r.relname::text, k.conname::text, f.relname::text
FROM pg_constraint k
JOIN pg_class r ON r.oid = k.conrelid
JOIN pg_class f ON f.oid = k.confrelid
WHERE k.contype = 'f' AND f.relnamespace = 'public'::regnamespace AND f.relname IN ({0})
  AND NOT (r.relnamespace = 'public'::regnamespace AND r.relname IN ({0}))
ORDER BY 1, 2, 3
"""


def tables_of(models: Sequence[ModelSpec], junctions: Sequence[Junction]) -> list[str]:
    return [m.table for m in models] + [j.table for j in junctions]


# --- Staged inputs --------------------------------------------------------------------------


def staged_inputs(staging: Staging, models: Sequence[ModelSpec], junctions: Sequence[Junction]) -> None:
    """Every table's clean parts are there, one per raw part, intact, made by a transform of the
    extract now staged: else the load would write a part of the data, or stale data."""
    root = staging.root
    transform = f"run `m2pg transform --staging {root}`"
    if not root.is_dir():
        raise ConfigError(
            f"the staging folder {root} does not exist",
            stage="load",
            hint=f"check --staging; to stage the data run `m2pg extract --staging {root}`, then transform",
        )
    run = root / "raw" / "run.json"
    if not run.exists() or not read_json(run).get("complete"):
        raise ConfigError(
            f"{root} holds no finished extract",
            stage="load",
            hint=f"check --staging, or run `m2pg extract --staging {root}`, then transform",
        )
    report = staging.report("transform.json")
    if not report.exists():
        raise ConfigError(f"{root} has not been transformed: no clean rows to load", stage="load", hint=transform)
    if transform_predates_extract(staging):
        raise ConfigError(f"the clean rows in {root / 'clean'} predate the last extract", stage="load", hint=transform)
    if other_rules(staging):
        raise ConfigError(
            f"the clean rows in {root / 'clean'} were made by another version of m2pg", stage="load", hint=transform
        )
    documents = {c["collection"]: c["documents"] for c in read_json(report)["collections"]}
    for model in models:
        missing = _missing_parts(staging, model)
        if missing:
            raise ConfigError(f"{staging.clean(model.table)} is incomplete: {missing}", stage="load", hint=transform)
        extracted = read_json(staging.manifest(model.source)).get("documents", 0)
        if documents.get(model.source) != extracted:
            raise ConfigError(
                f"the clean rows of {model.source} were made from another extract "
                f"({counted(documents.get(model.source) or 0, 'document')}, {extracted} extracted now)",
                stage="load",
                hint=transform,
            )
    for j in junctions:
        if not staging.clean_parts(j.table):
            raise ConfigError(f"{staging.clean(j.table)} holds no clean part", stage="load", hint=transform)
    for table in tables_of(models, junctions):  # each part as transform wrote it (read once a process)
        for part in staging.clean_parts(table):
            checked_digest(part)


def _missing_parts(staging: Staging, model: ModelSpec) -> str | None:
    """What is missing of a model's clean parts (one per raw part, at least one), or None."""
    raw = staging.manifest(model.source)
    if not raw.exists():
        return f"{model.source} was not extracted"
    expected = {f"part-{n:05d}.parquet" for n in range(max(len(read_json(raw)["parts"]), 1))}
    manifest = staging.clean(model.table) / "manifest.json"
    listed = set(read_json(manifest)["parts"]) if manifest.exists() else set()
    present = {p.name for p in staging.clean_parts(model.table)}
    done = expected & listed & present
    return None if done == expected else f"{len(done)} of {len(expected)} parts transformed"


# --- The target -----------------------------------------------------------------------------


def schema_matches(
    pg_uri: str,
    models: Sequence[ModelSpec],
    junctions: Sequence[Junction],
    stage: str,
    enums: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """The target holds the app's tables, as declared."""
    if not has_schema(pg_uri, models, junctions):
        raise ConfigError(
            "the target database has none of the app's tables",
            stage=stage,
            hint="create them with `m2pg schema` (or the app's migration), or use `m2pg run`",
        )
    problems = check_target(pg_uri, models, junctions, enums)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(
            f"the target schema differs from the app's: {problems[0]}{more}",
            stage=stage,
            hint="fix the target schema, or point --pg-uri at the app's database; nothing was written",
        )


WRITER_LOCK = 0x6D327067  # "m2pg": the advisory lock the one command writing to a target holds
LOCK_NOT_AVAILABLE = "55P03"
WRITER_WAIT = "3s"  # how long a second writer waits: a killed command's session takes a moment to end


def usable_target(pg_uri: str, stage: str, tables: Sequence[str], writes: bool = True, ledger: bool = True) -> None:
    """The target must take what m2pg writes, checked before anything is: a schema public
    (`public_schema`), UTF8 text (binary COPY hands PostgreSQL text as UTF-8 bytes, which a
    database in another encoding stores unconverted, so the app's client would read them garbled,
    and verify, reading the same bytes back, would not see it), a role that may make the app's
    `tables` and, with `ledger`, m2pg's own (`privileged`) and rows reaching them as written
    (`unaltered`), and writes at all (`writable`) unless the command only plans (`writes` False): a
    plan reads only the catalog, as it may on a replica, and ends where the command would."""
    with connect(pg_uri) as conn:
        public_schema(conn, stage)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()")
            encoding = cur.fetchone()[0]
        if encoding != "UTF8":
            raise ConfigError(
                f"the target database's encoding is {encoding}, not UTF8: the text m2pg copies would be stored "
                "as UTF-8 bytes unconverted, and the app's client would read it garbled",
                stage=stage,
                hint="create the target database with ENCODING 'UTF8' (CREATE DATABASE ... ENCODING 'UTF8' "
                "TEMPLATE template0); nothing was written",
            )
        if writes:
            writable(conn, stage)
        privileged(conn, stage, tables, ledger)
        if ledger:
            unaltered(conn, stage, tables)


def ascii_case_only(pg_uri: str) -> str | None:
    """Why the app's case-insensitive searches would miss accented letters in the target, or None.
    Prisma's `mode: 'insensitive'` is ILIKE on PostgreSQL, which folds case by the database's
    locale: under LC_CTYPE C it folds ASCII letters only, so 'ČERNÝ' no longer finds 'Černý'.
    Asked of the server itself (ILIKE on two letters), whatever its version or locale provider."""
    with connect(pg_uri) as conn, conn.cursor() as cur:
        cur.execute("SELECT 'É' ILIKE 'é', datctype FROM pg_database WHERE datname = current_database()")
        folds, ctype = cur.fetchone()
        conn.rollback()
    if folds:
        return None
    return (
        f"the target database folds case in ASCII letters only (its LC_CTYPE is {ctype}): the app's "
        "case-insensitive searches (Prisma's mode: 'insensitive', ILIKE) will not find 'É' by 'é'; a database "
        "created with a UTF-8 locale (LC_CTYPE 'C.UTF-8', or an ICU locale) does"
    )


def holds_app(pg_uri: str, stage: str, tables: Sequence[str]) -> None:
    """A check of the target (reconcile, verify) needs the app's tables there, written by an m2pg
    load: a database holding none of them (--pg-uri naming another database), or only tables no
    load wrote to (another app's of the same names, one the schema alone was made in) would fail
    every table with the server's words or DuckDB's, so it stops first, in one line."""
    with connect(pg_uri) as conn:
        public_schema(conn, stage)
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relname = ANY($1::text[])",
                parameters=(list(tables),),
            )
            present = cur.fetchone()[0]
        loaded = exists(conn, LEDGER)
        conn.rollback()
    hint = (
        "point --pg-uri at the database m2pg loaded (its name is the URI's path), or run "
        "`m2pg run` (or `m2pg load`) into this one first"
    )
    if not present:
        raise ConfigError(
            f"the target database holds none of the app's {len(tables)} tables: there is nothing to check",
            stage=stage,
            hint=hint,
        )
    if not loaded:
        raise ConfigError(
            f"the target database holds {present} of the app's {len(tables)} tables, but no m2pg load ever wrote "
            f"to it (it has no {LEDGER}): there is no migration there to check",
            stage=stage,
            hint=hint,
        )


def public_schema(conn, stage: str) -> None:
    """The app's tables live in schema public (Prisma's migration makes them there, its client reads
    them there): a database without it (dropped by hand) fails every later query with the
    server's words, so it stops first, in one line."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regnamespace('public') IS NOT NULL")
        present = cur.fetchone()[0]
    conn.rollback()
    if not present:
        raise ConfigError(
            "the target database has no schema public, where the app's tables go (Prisma's migration "
            "creates them there, and the app reads them there)",
            stage=stage,
            hint="create it as the database's owner (CREATE SCHEMA public), or point --pg-uri at the app's "
            "database; nothing was written",
        )


def writable(conn, stage: str) -> None:
    """A target that refuses every write (a standby replica, or a database whose sessions are
    read-only by default) stops the command before its first write, in one line, rather than
    at that write with the driver's message."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_is_in_recovery(), current_setting('transaction_read_only') = 'on'")
        standby, read_only = cur.fetchone()
    conn.rollback()
    if standby:
        why, fix = "it is a standby in recovery (a read replica)", "point --pg-uri at the primary server"
    elif read_only:
        why, fix = (
            "its sessions are read-only (default_transaction_read_only is on)",
            "point --pg-uri at a database that takes writes, or turn it off for the migration "
            "(ALTER DATABASE ... SET default_transaction_read_only = off)",
        )
    else:
        return
    raise ConfigError(f"the target takes no writes: {why}", stage=stage, hint=f"{fix}; nothing was written")


PRIVILEGES_SQL = """
SELECT current_user,
       (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname = ANY($1::text[])),
       has_schema_privilege('public', 'CREATE'),
       CASE WHEN to_regnamespace('m2pg') IS NULL THEN has_database_privilege(current_database(), 'CREATE')
            ELSE has_schema_privilege('m2pg', 'CREATE') END,
       array(SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND NOT pg_has_role(c.relowner, 'USAGE')
               AND ((n.nspname = 'public' AND c.relname = ANY($1::text[])) OR (n.nspname = 'm2pg' AND $2))
             ORDER BY 1)
"""


def privileged(conn, stage: str, tables: Sequence[str], ledger: bool) -> None:
    """The role of --pg-uri must be allowed what the command does, checked before it writes:
    create the app's `tables` in `public` while none exists, own those that do (a load drops and
    builds again their indexes and foreign keys, which only an owner may) and, with `ledger`,
    create m2pg's own schema or tables in it and own those it holds. PostgreSQL would refuse each
    at its statement, with the work before it done."""
    with conn.cursor() as cur:
        cur.execute(PRIVILEGES_SQL, parameters=(list(tables), ledger))
        user, present, creates_app, creates_own, not_owned = cur.fetchone()
    conn.rollback()
    lacks = []
    if not present and not creates_app:
        lacks.append("it may not create tables in schema public, where the app's tables go")
    if ledger and not creates_own:
        lacks.append("it may not create m2pg's own schema m2pg, or tables in it (the record of the rows m2pg writes)")
    if not_owned:
        lacks.append(
            f"it does not own {listed(not_owned)} (a load drops and builds again their indexes and foreign keys, "
            "which only their owner may)"
        )
    if lacks:
        raise ConfigError(
            f"the role {user} of --pg-uri lacks privileges m2pg needs: {'; '.join(lacks)}",
            stage=stage,
            hint="connect as the role that owns the app's tables (the one Prisma's migration ran as), or grant "
            f"that role to {user}; nothing was written",
        )


PASSING_SQL = """
SELECT array(SELECT format('%I.%I', c.relname, t.tgname) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
             WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1::text[])
               AND NOT t.tgisinternal AND t.tgenabled IN ('O', 'A') AND t.tgtype & 1 = 1
             ORDER BY 1),
       array(SELECT format('%I', c.relname) FROM pg_class c
             WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1::text[])
               AND c.relkind IN ('r', 'p') AND row_security_active(c.oid)
             ORDER BY 1),
       array(SELECT format('%I.%I', c.relname, r.rulename) FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
             WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1::text[])
               AND r.rulename <> '_RETURN' AND r.ev_enabled IN ('O', 'A')
             ORDER BY 1)
"""


def unaltered(conn, stage: str, tables: Sequence[str]) -> None:
    """The rows a load writes must reach the app's tables as staged, checked before it writes: a
    row trigger of the target's own on one of them (not a key's) may rewrite a row (the load then
    said the target equals the source, and every later run that nothing changed), skip it, or
    refuse it halfway through the load, its foreign keys dropped; row-level security in force for
    the role makes PostgreSQL refuse COPY into the table, halfway too; a rule of the target's own
    rewrites the load's UPDATE and DELETE statements into others or none (`DO INSTEAD NOTHING`:
    the load said it made the rows as the source holds them, and wrote nothing). (A statement
    trigger sees no row: it may only refuse a whole batch, which the load reports and resumes
    from.)"""
    with conn.cursor() as cur:
        cur.execute(PASSING_SQL, parameters=(list(tables),))
        triggers, secured, rules = cur.fetchone()
    conn.rollback()
    if triggers:
        raise ConfigError(
            f"the app's tables carry {counted(len(triggers), 'row trigger')} of the target's own "
            f"({listed(triggers)}), which would act on every row m2pg writes: rewrite it, skip it or refuse it",
            stage=stage,
            hint="disable them for the migration (ALTER TABLE ... DISABLE TRIGGER name) and enable them after, "
            "or drop them; nothing was written",
        )
    if rules:
        raise ConfigError(
            f"the app's tables carry {counted(len(rules), 'rule')} of the target's own ({listed(rules)}), "
            "which would rewrite the statements m2pg runs on them into others, or none",
            stage=stage,
            hint="disable them for the migration (ALTER TABLE ... DISABLE RULE name) and enable them after, "
            "or drop them; nothing was written",
        )
    if secured:
        raise ConfigError(
            f"row-level security is in force for this role on {listed(secured)}: PostgreSQL refuses COPY into "
            "such a table, and its policies would hide rows from the load's checks",
            stage=stage,
            hint="connect as a role with BYPASSRLS, or lift it for the migration (ALTER TABLE ... NO FORCE ROW "
            "LEVEL SECURITY, as the tables' owner); nothing was written",
        )


@contextmanager
def only_writer(pg_uri: str, stage: str) -> Iterator[None]:
    """Hold the target's writer lock while writing: a second load into the same database
    (another terminal, another staging folder) stops with one line instead of racing the first.
    The lock belongs to the session, so it goes when the command ends, however it ends."""
    with connect(pg_uri, (f"SET lock_timeout = '{WRITER_WAIT}'",)) as conn:
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock($1)", parameters=(WRITER_LOCK,))
            conn.commit()
        except pgdbapi.Error as error:
            if error.sqlstate != LOCK_NOT_AVAILABLE:
                raise
            conn.rollback()
            raise _writing(conn, stage) from None
        yield


def writer_session(conn) -> tuple[int, str, str] | None:
    """(pid, client, since) of the session holding the writer lock, an m2pg command writing to the
    target now; None when no command writes."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT a.pid, coalesce(a.client_addr::text, 'this machine'), a.backend_start::timestamptz(0)::text "
            "FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objid::bigint = $1",
            parameters=(WRITER_LOCK,),
        )
        return cur.fetchone()


def session_words(session: tuple[int, str, str]) -> str:
    pid, client, since = session
    return f"PostgreSQL session {pid}, from {client}, since {since}"


def _writing(conn, stage: str) -> ConfigError:
    holder = writer_session(conn)
    who = f" ({session_words(holder)})" if holder else ""
    pid = holder[0] if holder else "PID"
    return ConfigError(
        f"another m2pg command is writing to this target{who}",
        stage=stage,
        hint="nothing was written; wait for it to end and run again; if that command is gone (its machine "
        f"lost), end its session with `SELECT pg_terminate_backend({pid})`",
    )


def owned_table(table: str) -> str:
    """Where the target keeps the key and digest of each row of `table` the migration wrote."""
    return f"m2pg.{quote('owned_' + table)}"


def with_owner(table: str, keys: Sequence[str], select: str, where: str = "") -> str:
    """PostgreSQL SQL running `select` over the rows `t` of `table`, each beside its record `o` if
    the load wrote it (`keys`: the columns naming a row); PostgreSQL joins them on its own keys."""
    on = " AND ".join(f"o.{quote(k)} = t.{quote(k)}" for k in keys)
    return f"SELECT {select} FROM {quote(table)} t LEFT JOIN {owned_table(table)} o ON {on}{where}"


def exists(conn, name: str) -> bool:
    """Whether the target has the table `name` (schema-qualified and quoted as SQL writes it)."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass($1) IS NOT NULL", parameters=(name,))
        return cur.fetchone()[0]


def loaded_rows(conn, table: str) -> int:
    """Rows of `table` an earlier load of this migration wrote and keeps as its own (0 before any)."""
    if not exists(conn, owned_table(table)):
        return 0
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {owned_table(table)}")
        return cur.fetchone()[0]


def emptied_but_loaded(pg_uri: str, absent: Sequence[ModelSpec], empty: Sequence[ModelSpec], stage: str) -> None:
    """A collection the source lacks or holds empty, of which an earlier load wrote rows: far more
    often a wrong source (a dump of some collections only, a mongodump that failed) than a
    collection dropped or emptied for good, and a load would delete every one of those rows.
    Stop before anything is written."""
    if not absent and not empty:
        return
    with connect(pg_uri) as conn:
        for model in [*absent, *empty]:
            rows = loaded_rows(conn, model.table)
            if rows:
                holds = f"no {model.source} collection" if model in absent else f"{model.source} with no document"
                raise ConfigError(
                    f"the source holds {holds}, but the target holds {counted(rows, 'row')} of "
                    f'"{model.table}" migrated from it: a load would delete every one of them and quarantine the '
                    "records that must reference them",
                    stage=stage,
                    hint="nothing was written; check the source (a mongodump of some collections only, or one "
                    "that failed?); if the collection is gone or empty in MongoDB for good, load afresh with --replace",
                )


SHARED_SAMPLE = 1_000  # ids of each collection looked up among the rows loaded before


def another_source(pg_uri: str, staging: Staging, models: Sequence[ModelSpec], stage: str) -> None:
    """Not one document of the staged source among the rows an earlier load wrote, in any table:
    the source is another database (a staging copy, a mistyped URI), and a catch-up would delete
    every migrated row and load the other database's. Stop before anything is written. The first
    SHARED_SAMPLE ids of each collection are looked up: a real catch-up shares most of them."""
    loaded, shared = 0, 0
    with connect(pg_uri) as conn:
        for model in models:
            path = staging.idmap(model.source)
            rows = loaded_rows(conn, model.table) if path.exists() else 0
            ids = pl.read_parquet(path, columns=["id"], n_rows=SHARED_SAMPLE)["id"].to_list() if rows else []
            if not ids:
                continue
            with conn.cursor() as cur:
                cur.execute(
                    f"SELECT count(*) FROM {owned_table(model.table)} WHERE id = ANY($1::uuid[])", parameters=(ids,)
                )
                loaded, shared = loaded + rows, shared + cur.fetchone()[0]
    if loaded and not shared:
        raise ConfigError(
            f"not one document of the source is among the {counted(loaded, 'row')} an earlier run loaded into the "
            "target: "
            "the source looks like another database, and a load would delete every one of those rows",
            stage=stage,
            hint="nothing was written; check --mongo-uri and --mongo-db (or --dump), or --pg-uri; to replace "
            "the target's rows with this source's, load afresh with --replace",
        )


def unrecorded(conn, staging: Staging, models: Sequence[ModelSpec], stage: str) -> None:
    """Rows of the app's tables with the ids of staged documents, of which m2pg keeps no record (a
    copy of schema public alone restored, without m2pg's schema): the load would insert them again
    and fail on their keys, as if someone else held them. m2pg cannot prove it wrote them, so it
    stops before writing, saying so. The first SHARED_SAMPLE ids of each collection are looked up."""
    for model in models:
        path = staging.idmap(model.source)
        if not path.exists() or exists(conn, owned_table(model.table)):
            continue
        ids = pl.read_parquet(path, columns=["id"], n_rows=SHARED_SAMPLE)["id"].to_list()
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT (SELECT count(*) FROM {quote(model.table)} WHERE id = ANY($1::uuid[])), "
                "to_regnamespace('m2pg') IS NOT NULL",
                parameters=(ids,),
            )
            found, kept = cur.fetchone()
        if found:
            missing = owned_table(model.table) if kept else "schema m2pg"
            raise ConfigError(
                f'the target holds rows of "{model.table}" with the ids of the source\'s documents ({found} of the '
                f"first {len(ids)} looked up) but not m2pg's record of the rows it wrote (no {missing}: a copy of "
                "schema public alone, restored?): m2pg cannot tell them from rows someone else wrote, and does not "
                "write over them",
                stage=stage,
                hint="nothing was written; restore m2pg's schema m2pg from the same database too (pg_dump -n m2pg) "
                "and run once with --overwrite-changed (every restored row counts as changed), or, if every row "
                "of the app's tables there came from m2pg, empty them yourself (reset will not: nothing says m2pg "
                "wrote them) and run again",
            )


LEDGER = "m2pg.ledger"  # each batch a load committed: its table, digest and counts
EXTRACTS = "m2pg.extracts"  # each extract a load took its rows from, and when it was made
UNDER_WAY = "m2pg.load_under_way"  # one row, when a load began (and finished, in a run), until it is reported


def unfinished_load(conn) -> str | None:
    """When the last load into the target began (UTC), if it has not finished: it stopped halfway
    (killed, refused) or is running now. None once it finished (in a run not yet ended too), or
    before any load."""
    if not exists(conn, UNDER_WAY):
        return None
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT to_char(min(started_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM {UNDER_WAY} "
            "WHERE finished_at IS NULL"
        )
        return cur.fetchone()[0]


def older_extract(conn, staging: Staging, stage: str) -> None:
    """The staged extract is not older than one an earlier load took its rows from: loading it
    would take back every change the source made in between (a staging folder kept from the
    trial, loaded after the catch-up). Stop before anything is written."""
    staged = read_json(staging.root / "raw" / "run.json")
    if not staged.get("extracted_at") or not exists(conn, EXTRACTS):
        return
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT to_char(extracted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM {EXTRACTS} "
            "WHERE run <> $1 AND extracted_at > $2::timestamptz ORDER BY extracted_at DESC LIMIT 1",
            parameters=(staged["run"], staged["extracted_at"]),
        )
        newer = cur.fetchone()
    if newer:
        made = staged["extracted_at"][:19].replace("T", " ")
        raise ConfigError(
            f"the staging folder {staging.root} holds an extract made {made} UTC, older than the one the target "
            f"was loaded from ({newer[0]} UTC): a load would take back every change the source made in between",
            stage=stage,
            hint="nothing was written; extract afresh (`m2pg run`, or `m2pg extract` and the stages after it) or "
            "point --staging at the newer folder; to go back to this extract on purpose, load it with --replace",
        )


def outside_references(conn, tables: Sequence[str]) -> list[tuple[str, str, str, str]]:
    """(schema, table, constraint, referenced table) of each foreign key from a table the app
    does not declare into one it does: emptying the app's tables would have to empty it too."""
    with conn.cursor() as cur:
        cur.execute(OUTSIDE_REFERENCES_SQL.format(", ".join(map(literal, tables))))
        return cur.fetchall()


def may_empty(conn, tables: Sequence[str], stage: str) -> None:
    """Emptying the app's tables touches no other table, or stop before anything is emptied."""
    found = outside_references(conn, tables)
    if found:
        schema, table, name, target = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        instead = "" if stage == "reset" else f", or {stage} without --replace"
        raise ConfigError(
            f'table "{schema}"."{table}" is not the app\'s and references "{target}" '
            f"(constraint {name}){more}: the app's tables cannot be emptied without emptying it too",
            stage=stage,
            hint=f"nothing was emptied; drop that foreign key or empty that table yourself first{instead}",
        )


def not_the_migrations(conn, keys: dict[str, list[str]]) -> dict[str, int]:
    """Table -> its rows m2pg did not write, or changed by someone else since it wrote them
    (a row and its record share `xmin`): after a cut-over, the app's data."""
    present = [table for table in keys if exists(conn, quote(table))]
    found, recorded = {}, {table for table in present if exists(conn, owned_table(table))}
    with conn.cursor() as cur:
        for table in present:
            columns = keys[table]
            if table in recorded:
                on = " AND ".join(f"o.{quote(c)} = t.{quote(c)}" for c in columns)
                cur.execute(
                    f"SELECT count(*) FILTER (WHERE o.{quote(columns[0])} IS NULL OR t.xmin <> o.xmin) "
                    f"FROM {quote(table)} t LEFT JOIN {owned_table(table)} o ON {on}"
                )
            else:
                cur.execute(f"SELECT count(*) FROM {quote(table)}")
            rows = cur.fetchone()[0]
            if rows:
                found[table] = rows
    return found


def may_replace(conn, keys: dict[str, list[str]], stage: str) -> None:
    """--replace empties only what the migration wrote: a row someone else wrote or changed
    stops it before anything is emptied (after a cut-over, those rows are the app's data)."""
    found = not_the_migrations(conn, keys)
    if found:
        tables = [f'"{t}" {n}' for t, n in sorted(found.items(), key=lambda item: -item[1])]
        others = sum(found.values())
        raise ConfigError(
            f"the target holds {counted(others, 'row')} this migration did not write, or that {were(others)} "
            f"changed since it wrote them ({listed(tables)}): --replace would delete them",
            stage=stage,
            hint="nothing was emptied; run without --replace (only what changed in the source is written), "
            "or, if those rows may go, empty the tables with `m2pg reset --stage load` first",
        )


def unique_clash(
    pg_uri: str, model: ModelSpec, rows: pl.DataFrame, owned: pl.Series, kept: pl.Series | None = None
) -> tuple | None:
    """(column, value, id, count) of a row the migration does not own whose unique value equals
    one in `rows` (columns id and the unique fields), the first of `count`; None when there is none.
    The migration owns the rows of `owned` (ids) and those an earlier load wrote: the row of a
    document deleted or quarantined since gives its value up in the load (`load.parking`). Of
    them, those of `kept` (ids: someone else changed them since, and the load leaves them as they
    are) keep their values, as another's rows do."""
    unique = [f.name for f in model.fields if f.unique]
    if not unique or rows.is_empty():
        return None
    with connect(pg_uri) as conn:
        earlier = exists(conn, owned_table(model.table))
    kept = pl.Series("id", [], pl.String) if kept is None else kept
    with duck.connect(pg_uri) as con:
        con.register("m2pg_rows", rows.select("id", *unique).to_arrow())
        con.register("m2pg_owned", pl.DataFrame({"id": owned.unique()}).to_arrow())
        con.register("m2pg_kept", pl.DataFrame({"id": kept.unique()}).to_arrow())
        wrote = f"LEFT JOIN pg.{owned_table(model.table)} w ON w.id = t.id " if earlier else ""
        for column in unique:
            c = quote(column)
            found = con.execute(
                f"SELECT CAST(t.{c} AS VARCHAR) AS v, CAST(t.id AS VARCHAR) AS id, count(*) OVER () "
                f"FROM pg.{quote(model.table)} t JOIN m2pg_rows r ON r.{c} = t.{c} "
                # a join, not a correlated NOT EXISTS: DuckDB runs that one as a delim join, a
                # hundred times slower (1.3 s for 10,000 users)
                f"LEFT JOIN m2pg_owned o ON o.id = CAST(t.id AS VARCHAR) {wrote}"
                "LEFT JOIN m2pg_kept k ON k.id = CAST(t.id AS VARCHAR) "
                f"WHERE (o.id IS NULL {'AND w.id IS NULL' if earlier else ''}) OR (k.id IS NOT NULL AND r.id <> k.id) "
                f"ORDER BY v LIMIT 1"
            ).fetchone()
            if found:
                return (column, *found)
    return None


def refuse_clash(model: ModelSpec, clash: tuple, stage: str) -> ConfigError:
    column, value, row_id, count = clash
    more = f" (and {count - 1} more)" if count > 1 else ""
    return ConfigError(
        f'"{model.table}".{column} {value!r} is held by row {row_id}, which this migration did not write '
        f"(or someone else changed since it wrote it), and a row to load has it too{more}",
        stage=stage,
        hint=f"nothing was written; change or delete that row in the target (or the {model.source} document "
        "in the source; or, if m2pg wrote it, make it as the source holds it with --overwrite-changed), "
        "or load afresh with --replace, then run again",
    )


def holds_rows(pg_uri: str, table: str) -> bool:
    with connect(pg_uri) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT EXISTS (SELECT FROM {quote(table)})")
        return cur.fetchone()[0]


def staged_clash(
    pg_uri: str, staging: Staging, models: Sequence[ModelSpec], kept: Mapping[str, pl.Series] | None = None
) -> None:
    """No row to load shares a unique value with a row of the target the migration does not own,
    or with one it wrote that the load leaves as someone else changed it (`kept`, by table)."""
    for model in models:
        unique = [f.name for f in model.fields if f.unique]
        if not unique or not holds_rows(pg_uri, model.table):
            continue
        rows = pl.read_parquet(staging.clean_parts(model.table), columns=["id", *unique])
        owned = pl.read_parquet(staging.idmap(model.source), columns=["id"])["id"]
        clash = unique_clash(pg_uri, model, rows, owned, (kept or {}).get(model.table))
        if clash:
            raise refuse_clash(model, clash, "load")


def source_clash(pg_uri: str, source, models: Sequence[ModelSpec]) -> None:
    """The same, read from the source before anything is extracted: a document's unique value
    held in the target by a row that is not one of this source's documents."""
    for model in models:
        unique = [f for f in model.fields if f.unique]
        if not unique or not holds_rows(pg_uri, model.table):
            continue
        ids: list = []
        values: dict[str, list] = {f.name: [] for f in unique}
        for chunk in source.chunks(model.source, 10_000):
            for _, document, _ in bt.decoded(chunk, MS):
                if document is None:  # bytes the transform quarantines: their values count for nothing
                    continue
                if isinstance(document.get("_id"), ObjectId):
                    ids.append(uuid_for(str(document["_id"])))
                    for f in unique:
                        value = document.get(f.key)
                        values[f.name].append(value if isinstance(value, str) else None)
        rows = pl.DataFrame({"id": ids, **values}, schema={"id": pl.String, **{n: pl.String for n in values}})
        clash = unique_clash(pg_uri, model, rows, rows["id"])
        if clash:
            raise refuse_clash(model, clash, "run")
