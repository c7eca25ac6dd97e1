"""NextCRM's own Prisma 7 client (tests/app/check.mjs) reads what m2pg migrated: every model, every
row, the app's queries. A copy of a migrated database broken behind the migration's back must make
it fail, naming the model, the row and the field. tests/app/queries.mjs runs the app's own queries
and writes and compares them with what the source documents say (app_queries_source.py)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from app_queries_source import plant_junction_cases, write_expected
from processes import m2pg

APP = Path(__file__).parents[1] / "app"
SCHEMA = APP / "schema.prisma"
GENERATED = [APP / "generated" / "dmmf.json", APP / "node_modules" / ".prisma" / "client" / "index.js"]
PRISMA_MODELS = re.findall(r"^model (\w+) \{", SCHEMA.read_text(), re.M)


def npm(*args: str) -> None:
    done = subprocess.run(["npm", *args], cwd=APP, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"npm {' '.join(args)} in {APP}:\n{done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def app_check():
    """Runs the check against a database; installs the packages and generates the client when needed."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not found: NextCRM's Prisma client needs Node.js to run")
    if not (APP / "node_modules").is_dir():
        npm("ci", "--ignore-scripts")
    if any(not p.exists() or p.stat().st_mtime < SCHEMA.stat().st_mtime for p in GENERATED):
        npm("run", "generate")

    def run(uri: str, script: str = "check.mjs", **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["node", script],
            cwd=APP,
            env={**os.environ, **env, "DATABASE_URL": uri},
            capture_output=True,
            text=True,
            timeout=600,
        )

    return run


def migrate(pg_server, root: Path, name: str, profile: str, exit_code: int, edit=None) -> tuple[str, Path, Path]:
    """`m2pg run` from a generated dump (edited first if asked): the URI, the dump's folder, the staging."""
    dump = root / name
    done = m2pg("generate", profile, "--dump-out", str(dump))
    assert done.returncode == 0, done.stdout + done.stderr
    if edit:
        edit(dump / "nextcrm")
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE app_{name}")
    uri = pg_server.get_uri(f"app_{name}")
    staging = root / f"st_{name}"
    done = m2pg("run", "--dump", str(dump), "--pg-uri", uri, "--staging", str(staging))
    assert done.returncode == exit_code, done.stdout + done.stderr
    return uri, dump / "nextcrm", staging


@pytest.fixture(scope="module")
def sources(pg_server, tmp_path_factory):
    """The sample and bad profiles, and the sample with the junctions' hard cases planted, each
    migrated once by `m2pg run` from a dump."""
    root = tmp_path_factory.mktemp("app")
    return {
        "sample": migrate(pg_server, root, "sample", "sample", 0),
        "bad": migrate(pg_server, root, "bad", "bad", 3),
        "planted": migrate(pg_server, root, "planted", "sample", 3, plant_junction_cases),
    }


@pytest.fixture(scope="module")
def migrated(sources):
    return {name: uri for name, (uri, _, _) in sources.items()}


def test_the_schema_declares_the_38_models():
    assert len(PRISMA_MODELS) == 38


@pytest.mark.parametrize("profile", ["sample", "bad"])
def test_the_app_reads_every_row_of_every_model(app_check, migrated, profile):
    done = app_check(migrated[profile])
    assert done.returncode == 0, done.stdout + done.stderr
    unread = [m for m in PRISMA_MODELS if not re.search(rf"^ok\s+{m}\s+rows\s+\d+", done.stdout, re.M)]
    assert unread == [], done.stdout
    assert "app check: 38 models" in done.stdout and " 0 failure(s)" in done.stdout
    assert len(re.findall(r"^ok\s+app query: ", done.stdout, re.M)) == 6, done.stdout


BREAKS = [  # (what is broken, table whose first row is broken, SQL with {id}, line the check must print)
    (
        "enum value renamed",
        None,
        ["""ALTER TYPE "ActiveStatus" RENAME VALUE 'ACTIVE' TO 'ENABLED'"""],
        r"model=Users key=id=[0-9a-f-]{36} field=userStatus: P2023: Value 'ENABLED' not found in enum 'ActiveStatus'",
    ),
    (
        "a label the enum does not have",
        "Users",
        [
            'ALTER TABLE "Users" ALTER COLUMN "userStatus" DROP DEFAULT',
            'ALTER TABLE "Users" ALTER COLUMN "userStatus" TYPE text',
            """UPDATE "Users" SET "userStatus" = 'SUSPENDED' WHERE id = '{id}'""",
        ],
        r"model=Users key=id={id} field=userStatus: P2023: Value 'SUSPENDED' not found in enum 'ActiveStatus'",
    ),
    (
        "a date of year 20000",
        "Invoices",
        ["""UPDATE "Invoices" SET date_due = '20000-01-01' WHERE id = '{id}'"""],
        r"model=Invoices key=id={id} field=date_due: not a valid Date.*Invalid Date .*20000-01-01",
    ),
    (
        "a junction table renamed",
        None,
        ['ALTER TABLE "DocumentsToAccounts" RENAME TO "DocumentsToAccounts_old"'],
        r"model=DocumentsToAccounts key=- field=-: count\(\): P2021: .*DocumentsToAccounts",
    ),
    (
        "a null in a required field",
        "crm_Accounts",
        [
            'ALTER TABLE "crm_Accounts" ALTER COLUMN name DROP NOT NULL',
            """UPDATE "crm_Accounts" SET name = NULL WHERE id = '{id}'""",
        ],
        r"model=crm_Accounts key=id={id} field=name: null in a required field",
    ),
]


@pytest.mark.parametrize("what, table, statements, line", BREAKS, ids=[b[0] for b in BREAKS])
def test_a_broken_copy_fails_by_name(app_check, migrated, pg_server, what, table, statements, line):
    name = "broken_" + re.sub(r"\W", "_", what)
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE app_sample")
    uri = pg_server.get_uri(name)
    with psycopg.connect(uri, autocommit=True) as conn:
        key = conn.execute(f'SELECT min(id::text) FROM "{table}"').fetchone()[0] if table else None
        for statement in statements:
            conn.execute(statement.replace("{id}", str(key)))
    done = app_check(uri)
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(line.replace("{id}", str(key)), done.stdout), done.stdout
    model = re.search(r"model=(\w+)", line)[1]
    assert re.search(rf"^FAIL {model}\s+rows", done.stdout, re.M), done.stdout


APP_QUERIES = 20  # reads, each over the parents of the source (tests/app/queries.mjs)
APP_WRITES = 18  # the app's writes, in a transaction rolled back


@pytest.mark.parametrize("name", ["sample", "bad", "planted"])
def test_the_apps_queries_and_writes_agree_with_the_source(app_check, sources, tmp_path, name):
    uri, dump, staging = sources[name]
    expected = write_expected(dump, staging, tmp_path / "expected.json")
    done = app_check(uri, "queries.mjs", EXPECTED=str(expected))
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(re.findall(r"^ok {3}(?!write:)", done.stdout, re.M)) == APP_QUERIES, done.stdout
    assert len(re.findall(r"^ok {3}write: ", done.stdout, re.M)) == APP_WRITES, done.stdout
    with psycopg.connect(uri) as conn:  # the writes were rolled back
        assert conn.execute("""SELECT count(*) FROM "Users" WHERE email = 'new.user@example.test'""").fetchone()[0] == 0


QUERY_BREAKS = [  # (what is broken, SQL on a copy of the planted migration, the queries run, the line they print)
    (
        "a junction pair lost",
        [
            """DELETE FROM "DocumentsToTasks"
               WHERE task_id = (SELECT min(task_id::text)::uuid FROM "DocumentsToTasks")"""
        ],
        "^documents of",
        r"^FAIL documents of a task \(where tasks: some task_id\): task [0-9a-f-]{36}: \d+ missing",
    ),
    (
        "a contact moved to another account",
        [
            """UPDATE "crm_Contacts" SET "accountsIDs" = (SELECT max(id::text)::uuid FROM "crm_Accounts")
               WHERE "accountsIDs" = (SELECT min("accountsIDs"::text)::uuid FROM "crm_Contacts")"""
        ],
        "^getAccount",
        r"^FAIL getAccount: .*: account\.contacts of [0-9a-f-]{36}: \d+ missing",
    ),
    (
        "a junction's foreign key without its ON DELETE CASCADE",
        [
            """ALTER TABLE "DocumentsToAccounts" DROP CONSTRAINT "DocumentsToAccounts_account_id_fkey",
               ADD CONSTRAINT "DocumentsToAccounts_account_id_fkey"
                   FOREIGN KEY (account_id) REFERENCES "crm_Accounts"(id)"""
        ],
        "^write: delete",
        r"^FAIL write: delete a migrated account .*: P2003",
    ),
    (
        "the unique index upsert and sign-up rely on",
        ['DROP INDEX "Users_email_key"'],
        "^write: users",
        r"^FAIL write: users\.create with a migrated email fails on the unique index \(P2002\): a second user",
    ),
]


@pytest.mark.parametrize("what, statements, only, line", QUERY_BREAKS, ids=[b[0] for b in QUERY_BREAKS])
def test_the_apps_queries_fail_on_a_broken_copy(app_check, sources, pg_server, tmp_path, what, statements, only, line):
    _, dump, staging = sources["planted"]
    name = ("queries_" + re.sub(r"\W", "_", what)).lower()  # as CREATE DATABASE folds it
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE app_planted")
    uri = pg_server.get_uri(name)
    with psycopg.connect(uri, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
    expected = write_expected(dump, staging, tmp_path / "expected.json")
    done = app_check(uri, "queries.mjs", EXPECTED=str(expected), ONLY=only)
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(line, done.stdout, re.M), done.stdout
