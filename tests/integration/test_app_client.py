"""NextCRM's own Prisma 7 client (tests/app/check.mjs) reads what m2pg migrated: every model, every
row, the app's queries. A copy of a migrated database broken behind the migration's back must make
it fail, naming the model, the row and the field."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

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

    def run(uri: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["node", "check.mjs"],
            cwd=APP,
            env={**os.environ, "DATABASE_URL": uri},
            capture_output=True,
            text=True,
            timeout=600,
        )

    return run


def migrate(pg_server, root: Path, profile: str, exit_code: int) -> str:
    dump = root / profile
    done = m2pg("generate", profile, "--dump-out", str(dump))
    assert done.returncode == 0, done.stdout + done.stderr
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE app_{profile}")
    uri = pg_server.get_uri(f"app_{profile}")
    done = m2pg("run", "--dump", str(dump), "--pg-uri", uri, "--staging", str(root / f"st_{profile}"))
    assert done.returncode == exit_code, done.stdout + done.stderr
    return uri


@pytest.fixture(scope="module")
def migrated(pg_server, tmp_path_factory):
    """The sample and bad profiles, each migrated once by `m2pg run` from a dump."""
    root = tmp_path_factory.mktemp("app")
    return {"sample": migrate(pg_server, root, "sample", 0), "bad": migrate(pg_server, root, "bad", 3)}


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
