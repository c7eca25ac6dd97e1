"""The target schema: DDL from the declarations reproduces Prisma's catalog, and checks see drift."""

import difflib
import json
import random
import string
import subprocess
import sys
import uuid
from pathlib import Path

import adbc_driver_postgresql.dbapi as pg
import psycopg
import pytest

from toolkit.declarations.kinds import KINDS
from toolkit.declarations.limits import BTREE_BYTES, longest_indexed_text
from toolkit.declarations.spec import ID, Field, Kind, ModelSpec, Reference
from toolkit.target import schema
from transforms import APP, ENUMS, JUNCTIONS, MODELS

TARGET = Path(__file__).parents[1] / "data" / "target-catalog.json"


def execute(uri: str, *statements: str) -> None:
    with pg.connect(uri, autocommit=True) as conn, conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def as_text(catalog: dict) -> list[str]:
    return json.dumps(catalog, sort_keys=True, indent=1).splitlines()


def test_create_schema_reproduces_target_catalog(pg_uri):
    schema.create_schema(pg_uri, APP.models, APP.junctions, APP.enums)
    expected, actual = json.loads(TARGET.read_text()), schema.read_catalog(pg_uri)
    diff = "\n".join(
        difflib.unified_diff(as_text(expected), as_text(actual), "target-catalog.json", "live", lineterm="")
    )
    assert not diff, f"live catalog differs from {TARGET.name}:\n{diff}"


def test_create_schema_is_one_transaction(pg_uri):
    without_task_status = {name: labels for name, labels in ENUMS.items() if name != "taskStatus"}
    with pytest.raises(pg.ProgrammingError, match="taskStatus"):  # fails after 24 tables
        schema.create_schema(pg_uri, APP.models, APP.junctions, without_task_status)
    assert schema.read_catalog(pg_uri) == {"enums": {}, "tables": {}}


def test_read_catalog_ignores_other_schemas(pg_uri):
    execute(
        pg_uri,
        "CREATE SCHEMA m2pg",
        "CREATE TABLE m2pg.ledger (id int PRIMARY KEY)",
        "CREATE TYPE m2pg.state AS ENUM ('a')",
    )
    assert schema.read_catalog(pg_uri) == {"enums": {}, "tables": {}}


def test_has_schema_false_then_true(pg_uri):
    assert not schema.has_schema(pg_uri, APP.models, APP.junctions)
    schema.create_schema(pg_uri, APP.models, APP.junctions, APP.enums)
    assert schema.has_schema(pg_uri, APP.models, APP.junctions)


def test_check_target_passes_after_create_schema(pg_uri):
    schema.create_schema(pg_uri, APP.models, APP.junctions, APP.enums)
    assert schema.check_target(pg_uri, MODELS, JUNCTIONS) == []


DRIFT = [  # (statements run after create_schema, problems check_target must report)
    (['DROP TABLE "tasksComments"'], ['table "tasksComments" is missing']),
    (['DROP TABLE "BoardWatchers"'], ['table "BoardWatchers" is missing']),
    (['ALTER TABLE "Users" DROP COLUMN "userLanguage"'], ['column "Users"."userLanguage" is missing']),
    (
        ['ALTER TABLE "Tasks" ALTER COLUMN "position" TYPE bigint'],
        ['column "Tasks"."position" has type bigint, declared integer'],
    ),
    (
        ['ALTER TABLE "Documents" ALTER COLUMN connected_documents TYPE uuid[] USING NULL'],
        ['column "Documents"."connected_documents" has type _uuid, declared _text'],
    ),
    (
        ['ALTER TABLE "Tasks" ALTER COLUMN "taskStatus" TYPE text'],
        ['column "Tasks"."taskStatus" has type text, declared taskStatus'],
    ),
    (
        ['ALTER TABLE "Users" ALTER COLUMN email DROP NOT NULL'],
        ['column "Users"."email" is nullable, declared NOT NULL'],
    ),
    (
        ['ALTER TABLE "Users" ALTER COLUMN avatar SET NOT NULL'],
        ['column "Users"."avatar" is NOT NULL, declared nullable'],
    ),
    (
        [
            'ALTER TABLE "AccountWatchers" DROP CONSTRAINT "AccountWatchers_user_id_fkey"',
            'ALTER TABLE "AccountWatchers" ALTER COLUMN user_id TYPE text',
        ],
        [
            'column "AccountWatchers"."user_id" has type text, declared uuid',
            'the foreign key "AccountWatchers"."user_id" -> "Users" is missing',
        ],
    ),
    # a target without a key the app's schema has would take rows the app's schema forbids
    (['DROP INDEX "Users_email_key"'], ['the unique index on "Users" ("email") is missing']),
    (
        ['DROP INDEX "Users_email_key"', 'CREATE UNIQUE INDEX "Users_email_key" ON "Users" (email, name)'],
        [
            'the unique index on "Users" ("email") is missing',
            'unique index "Users_email_key" on "Users" is not the app\'s: it may refuse rows the app takes',
        ],
    ),
    # a guard of the target's own refused rows the app takes halfway through the load, its foreign
    # keys dropped by then, with a hint blaming a row of someone else's
    (
        ['ALTER TABLE "Tasks" ADD CONSTRAINT title_short CHECK (length(title) < 60)'],
        ['check constraint "title_short" on "Tasks" is not the app\'s: it may refuse rows the app takes'],
    ),
    (
        ['CREATE UNIQUE INDEX tasks_priority ON "Tasks" (priority)'],
        ['unique index "tasks_priority" on "Tasks" is not the app\'s: it may refuse rows the app takes'],
    ),
    (
        ['CREATE UNIQUE INDEX users_email_lower ON "Users" (lower(email))'],
        ['unique index "users_email_lower" on "Users" is not the app\'s: it may refuse rows the app takes'],
    ),
    (['CREATE INDEX tasks_title ON "Tasks" (title)', "CREATE TABLE notes (n int CHECK (n > 0))"], []),
    (
        ['ALTER TABLE "crm_Accounts" DROP CONSTRAINT "crm_Accounts_assigned_to_fkey"'],
        ['the foreign key "crm_Accounts"."assigned_to" -> "Users" is missing'],
    ),
    (
        ['ALTER TABLE "AccountWatchers" DROP CONSTRAINT "AccountWatchers_pkey"'],
        ['the primary key of "AccountWatchers" ("account_id", "user_id") is missing'],
    ),
    (  # a key an interrupted load stored, to put it back, is the load's to restore
        [
            "CREATE SCHEMA m2pg",
            "CREATE TABLE m2pg.deferred_constraints (table_name text, name text, definition text)",
            "INSERT INTO m2pg.deferred_constraints SELECT 'crm_Accounts', conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE conname = 'crm_Accounts_assigned_to_fkey'",
            'ALTER TABLE "crm_Accounts" DROP CONSTRAINT "crm_Accounts_assigned_to_fkey"',
        ],
        [],
    ),
    # Prisma's migration makes timestamp(3) columns; m2pg's earlier `timestamp` means microseconds
    (
        ['ALTER TABLE "Tasks" ALTER COLUMN "createdAt" TYPE timestamp'],
        ['column "Tasks"."createdAt" has precision 6, declared 3'],
    ),
    (
        ['ALTER TABLE "Invoices" ALTER COLUMN "date_due" TYPE timestamp(0)'],
        ['column "Invoices"."date_due" has precision 0, declared 3'],
    ),
]


@pytest.mark.parametrize(("change", "problems"), DRIFT, ids=[c[-1] for c, _ in DRIFT])
def test_check_target_names_the_drift(pg_uri, change, problems):
    schema.create_schema(pg_uri, APP.models, APP.junctions, APP.enums)
    execute(pg_uri, *change)
    assert schema.check_target(pg_uri, MODELS, JUNCTIONS) == problems


def test_ddl_is_deterministic_and_creates_every_table():
    statements = schema.ddl(MODELS, JUNCTIONS, ENUMS)
    assert statements == schema.ddl(MODELS, JUNCTIONS, ENUMS)
    created = {s.split('"')[1] for s in statements if s.startswith("CREATE TABLE")}
    assert created == {m.table for m in MODELS} | {j.table for j in JUNCTIONS}
    assert len(created) == 39


def test_schema_command_warns_of_the_apps_own_bigint_drift(pg_uri):
    done = subprocess.run(
        [sys.executable, "-m", "toolkit.cli", "schema", "--pg-uri", pg_uri], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "BigInt" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: 12 columns are BigInt in the app's client")


@pytest.mark.parametrize("ctype, warned", [("C", True), ("C.UTF-8", False)])
def test_a_target_that_folds_case_in_ascii_only_is_warned_of(pg_server, dump, tmp_path, ctype, warned):
    """A target created with LC_CTYPE C took the migration without a word, and the app's
    case-insensitive searches (Prisma's mode: 'insensitive', ILIKE) no longer found 'Černý' by
    'ČERNÝ'. `schema` and `run` (once, by its load) say so; a UTF-8 locale is not warned of."""
    name = f"ctype_{ctype.replace('.', '_').replace('-', '').lower()}"
    execute(
        pg_server.get_uri(),
        f"CREATE DATABASE {name} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE '{ctype}' TEMPLATE template0",
    )
    uri = pg_server.get_uri(name)
    m2pg = [sys.executable, "-m", "toolkit.cli"]
    schema_only = subprocess.run([*m2pg, "schema", "--pg-uri", uri], capture_output=True, text=True, timeout=300)
    execute(uri, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public")  # run creates the schema itself
    run = subprocess.run(
        [*m2pg, "run", "--dump", str(dump), "--staging", str(tmp_path), "--pg-uri", uri],
        capture_output=True,
        text=True,
        timeout=600,
    )
    for done, code in ((schema_only, 0), (run, 3)):
        assert done.returncode == code, done.stdout + done.stderr
        said = " ".join((done.stdout + done.stderr).split())
        assert said.count("folds case in ASCII letters only") == warned, said
    if warned:
        assert f"(its LC_CTYPE is {ctype})" in said and "will not find 'É' by 'é'" in said


LAYOUTS = sorted(  # every btree index of the app that holds a text column, by its columns' kinds
    {
        tuple(kinds[c] for c in index)
        for m in MODELS
        for kinds in [{f.name: f.kind for f in m.fields}]
        for index in [*m.indexes, *((f.name,) for f in m.fields if f.unique)]
        if Kind.TEXT in (kinds[c] for c in index)
    }
    | {(Kind.OBJECT_ID, Kind.TEXT), (Kind.INT, Kind.TEXT, Kind.BOOL), (Kind.DATETIME, Kind.DATETIME, Kind.TEXT)}
)
PG_VALUE = {Kind.DATETIME: "2020-01-01", Kind.OBJECT_ID: str(uuid.UUID(int=1)), Kind.INT: 5, Kind.BOOL: True}


@pytest.mark.parametrize("kinds", LAYOUTS, ids=lambda kinds: "-".join(k.name for k in kinds))
def test_index_size_allows_the_longest_text_a_btree_entry_holds(pg_uri, kinds):
    """`index_size` lets through the texts an index entry holds, with every other column of the
    index present or NULL: one that does not compress must fit (a 2,700-byte one failed the index
    build, and the load with it; so did 2,685 bytes beside Invoices' date_created); one byte more
    must not fit in some row, or the rule would refuse texts PostgreSQL holds."""
    at = kinds.index(Kind.TEXT)
    longest = longest_indexed_text([KINDS[k].fixed for k in kinds], at)
    letters = random.Random(1).choices(string.ascii_letters + string.digits + string.punctuation, k=longest + 1)
    types = ["text" if k is Kind.TEXT else KINDS[k].pg_type for k in kinds]
    fitted = {}
    with psycopg.connect(pg_uri, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE texts ({', '.join(f'c{i} {t}' for i, t in enumerate(types))})")
        conn.execute(f"CREATE INDEX ON texts ({', '.join(f'c{i}' for i in range(len(kinds)))})")
        for size in (longest, longest + 1):
            fitted[size] = True
            for nulls in range(1 << len(kinds)):  # each other column present or NULL
                row = [
                    "".join(letters[:size]) if i == at else None if nulls >> i & 1 else PG_VALUE[k]
                    for i, k in enumerate(kinds)
                ]
                try:
                    conn.execute(f"INSERT INTO texts VALUES ({', '.join(['%s'] * len(kinds))})", row)
                except psycopg.errors.ProgramLimitExceeded:
                    fitted[size] = False
    assert fitted == {longest: True, longest + 1: False}
    if kinds == (Kind.TEXT,):
        assert longest == BTREE_BYTES


def test_long_names_are_cut_as_prisma_cuts_them_and_the_schema_is_made(pg_uri):
    """An index and a unique index on one long column, a long foreign key: PostgreSQL would cut
    each name to 63 bytes, suffix and all, and the two indexes would clash."""
    table, column = "Attachment_Metadata_Records_For_Archival_2024", "checksum_sha256_hex_lowercase"
    attachments = ModelSpec(
        "Attachment",
        (
            ID,
            Field(column, Kind.TEXT, unique=True),
            Field("postId_of_the_attachment", Kind.OBJECT_ID, references=Reference("Post")),
        ),
        indexes=((column,),),
        table_name=table,
    )
    posts = ModelSpec("Post", (ID,))
    schema.create_schema(pg_uri, (posts, attachments), (), {})
    catalog = schema.read_catalog(pg_uri)["tables"][table]
    names = {c["name"] for c in catalog["constraints"]} | {i["name"] for i in catalog["indexes"]}
    assert {
        "Attachment_Metadata_Records_For_Archival_2024_checksum_sha2_idx",
        "Attachment_Metadata_Records_For_Archival_2024_checksum_sha2_key",
        "Attachment_Metadata_Records_For_Archival_2024_postId_of_th_fkey",
        "Attachment_Metadata_Records_For_Archival_2024_pkey",
    } <= names
