"""Reconcile on a real PostgreSQL: counts add up or the table is named, orphans are counted,
and a password never reaches the report or the console."""

import io
import json
import uuid
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
from rich.console import Console

from toolkit.reports.console import print_reconcile
from toolkit.runtime.errors import ConfigError
from toolkit.stages.reconcile import reconcile
from toolkit.staging.layout import Staging, read_json, write_json, write_parquet
from toolkit.target.schema import create_schema
from transforms import APP, JUNCTIONS, MODELS

PASSWORD = "Rec0ncile-s3cret"


@pytest.fixture
def database(pg_uri) -> str:
    """A new database holding the whole NextCRM schema, derived from the declarations."""
    create_schema(pg_uri, APP.models, APP.junctions, APP.enums)
    return pg_uri


def uid(n: int) -> str:
    return str(uuid.UUID(int=n))


USERS = [uid(1), uid(2)]
KEYS = [uid(11), uid(12)]
ACCOUNT = uid(21)
QUARANTINED = uid(3)  # the Users document that was quarantined
MISSING = uid(999)
APP_USER = uid(50)  # a user the app wrote itself, not the migration
IDMAP = {"Users": [*USERS, QUARANTINED], "openAi_keys": KEYS, "crm_Accounts": [ACCOUNT]}


def stage(root: Path) -> None:
    """Users: 3 documents, 1 quarantined; openAi_keys: 2 in two parts, no quarantine file;
    crm_Accounts: 1; AccountWatchers: 2 pairs; every other junction staged empty; the id map
    of every collection; the extract's manifest of each."""
    staging = Staging(root)
    for m in MODELS:
        ids = IDMAP.get(m.source, [])
        write_parquet(
            pa.table(
                {
                    "collection": [m.source] * len(ids),
                    "object_id": ["0" * 24] * len(ids),
                    "id": pa.array(ids, pa.string()),
                }
            ),
            staging.idmap(m.source),
        )
    parts = {"Users": [3], "openAi_keys": [1, 1], "crm_Accounts": [1]}
    for m in MODELS:
        sizes = parts.get(m.source, [])
        for n, size in enumerate(sizes):
            ids = [f"{m.source}-{n}-{i}" for i in range(size)]
            write_parquet(pa.table({"_id": ids}), staging.raw_dir(m.source) / f"part-{n:05d}.parquet")
        write_json({"complete": True, "documents": sum(sizes)}, staging.manifest(m.source))
    write_parquet(
        pa.table(
            {
                "collection": ["Users"],
                "object_id": [None],
                "source_id": ['"not an oid"'],
                "field": ["_id"],
                "rule": ["object_id"],
                "reason": ["_id is a string"],
                "document": ['{"_id": "not an oid"}'],
            },
            schema=pa.schema(
                [
                    (c, pa.string())
                    for c in ("collection", "object_id", "source_id", "field", "rule", "reason", "document")
                ]
            ),
        ),
        staging.quarantine("Users") / "part-00000.parquet",
    )
    for j in JUNCTIONS:
        pairs = [[ACCOUNT, ACCOUNT], USERS] if j.table == "AccountWatchers" else [[], []]
        write_parquet(
            pa.table({j.left.column: pa.array(pairs[0], pa.string()), j.right.column: pa.array(pairs[1], pa.string())}),
            staging.clean(j.table) / "part-00000.parquet",
        )


def load(uri: str) -> None:
    with psycopg.connect(uri, autocommit=True) as conn:
        for n, user in enumerate(USERS):
            conn.execute('INSERT INTO "Users" (id, email) VALUES (%s, %s)', (user, f"u{n}@example.com"))
        for key, user in zip(KEYS, USERS, strict=False):
            conn.execute(
                'INSERT INTO "openAi_keys" (id, __v, "user", organization_id, api_key) '
                "VALUES (%s, 0, %s, 'org', 'sk')",
                (key, user),
            )
        conn.execute('INSERT INTO "crm_Accounts" (id, __v, name) VALUES (%s, 0, %s)', (ACCOUNT, "Acme"))
        for user in USERS:
            conn.execute('INSERT INTO "AccountWatchers" VALUES (%s, %s)', (ACCOUNT, user))


def run_sql(uri: str, *statements: str) -> None:
    with psycopg.connect(uri, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def rendered(report: dict) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    print_reconcile(report, console)
    return console.file.getvalue()


def test_a_balanced_migration_passes(tmp_path, database):
    stage(tmp_path)
    load(database)

    report = reconcile(APP, tmp_path, database)

    assert report["ok"], report
    assert read_json(tmp_path / "reports" / "reconcile.json") == report
    rows = {r["table"]: r for r in report["tables"]}
    assert rows["Users"] | {"ok": None} == {
        "table": "Users",
        "kind": "model",
        "collection": "Users",
        "source": 3,
        "quarantined": 1,
        "loaded": 2,
        "other_rows": 0,
        "quarantined_rows": 0,
        "stale_rows": 0,
        "ok": None,
    }
    assert (rows["openAi_keys"]["source"], rows["openAi_keys"]["quarantined"]) == (2, 0)
    assert rows["AccountWatchers"] == {
        "table": "AccountWatchers",
        "kind": "junction",
        "staged": 2,
        "loaded": 2,
        "other_rows": 0,
        "ok": True,
    }
    assert rows["Tasks"]["source"] == rows["Tasks"]["loaded"] == 0
    assert {"table": "openAi_keys", "column": "user", "references": "Users", "orphans": 0, "ok": True} in report[
        "orphans"
    ]
    assert "every document is loaded or quarantined" in rendered(report)


@pytest.mark.parametrize("folder", ["back\\slash", 'it\'s "quoted" 100% $HOME ü'])
def test_a_staging_folder_whose_path_holds_odd_characters_reconciles_the_same(tmp_path, database, folder):
    """DuckDB read the staged parts by a glob, in which a backslash escapes the next character: in
    a staging folder whose path held one, every junction table and every quarantine FAILED with
    "No files found that match the pattern", and `m2pg run` said the target does NOT equal the
    source while verify passed."""
    load(database)
    reports = {}
    for name in ("plain", folder):
        stage(tmp_path / name)
        reports[name] = reconcile(APP, tmp_path / name, database)

    assert reports[folder]["tables"] == reports["plain"]["tables"], reports[folder]
    assert reports[folder]["orphans"] == reports["plain"]["orphans"]
    rows = {r["table"]: r for r in reports[folder]["tables"]}
    assert reports[folder]["ok"] and reports["plain"]["ok"]
    assert rows["Users"]["quarantined"] == 1
    assert (rows["AccountWatchers"]["staged"], rows["AccountWatchers"]["loaded"]) == (2, 2)


def test_rows_the_app_wrote_are_counted_apart(tmp_path, database):
    stage(tmp_path)
    load(database)
    run_sql(
        database,
        f"""INSERT INTO "Users" (id, email) VALUES ('{APP_USER}', 'app@example.com')""",
        f"""INSERT INTO "AccountWatchers" VALUES ('{ACCOUNT}', '{APP_USER}')""",
    )

    report = reconcile(APP, tmp_path, database)

    assert report["ok"], report
    rows = {r["table"]: r for r in report["tables"]}
    assert (rows["Users"]["loaded"], rows["Users"]["other_rows"]) == (2, 1)
    assert (rows["AccountWatchers"]["loaded"], rows["AccountWatchers"]["other_rows"]) == (2, 1)
    assert "2 rows in the target are not this migration's" in rendered(report)


@pytest.mark.parametrize(
    "statement, table",
    [
        (f"""DELETE FROM "openAi_keys" WHERE id = '{KEYS[1]}'""", "openAi_keys"),
        (f"""INSERT INTO "Users" (id, email) VALUES ('{QUARANTINED}', 'extra@example.com')""", "Users"),
        (f"""DELETE FROM "AccountWatchers" WHERE user_id = '{USERS[0]}'""", "AccountWatchers"),
    ],
)
def test_a_count_that_does_not_add_up_names_its_table(tmp_path, database, statement, table):
    stage(tmp_path)
    load(database)
    run_sql(database, statement)

    report = reconcile(APP, tmp_path, database)

    assert not report["ok"]
    assert [r["table"] for r in report["tables"] if not r["ok"]] == [table]
    assert all(o["ok"] for o in report["orphans"])
    assert f"FAILED in {table}\n" in rendered(report)


@pytest.mark.parametrize(
    "statement, table, column",
    [
        (f"""UPDATE "openAi_keys" SET "user" = '{MISSING}' WHERE id = '{KEYS[0]}'""", "openAi_keys", "user"),
        # a user of the migration, yet not loaded: the pair is still the migration's, and dangles
        (
            f"""UPDATE "AccountWatchers" SET user_id = '{QUARANTINED}' WHERE user_id = '{USERS[0]}'""",
            "AccountWatchers",
            "user_id",
        ),
    ],
)
def test_an_orphan_key_is_counted(tmp_path, database, statement, table, column):
    stage(tmp_path)
    load(database)
    # replica mode skips the foreign key triggers, as a load with constraints off would
    run_sql(database, "SET session_replication_role = replica; " + statement)

    report = reconcile(APP, tmp_path, database)

    assert not report["ok"]
    assert all(r["ok"] for r in report["tables"])
    assert [(o["table"], o["column"], o["orphans"]) for o in report["orphans"] if not o["ok"]] == [(table, column, 1)]
    assert f"1 orphan {column} (no such " in rendered(report)


def test_a_missing_staged_junction_or_table_fails_with_a_reason(tmp_path, database):
    stage(tmp_path)
    load(database)
    (tmp_path / "clean" / "BoardWatchers" / "part-00000.parquet").unlink()
    run_sql(database, 'DROP TABLE "DocumentsToTasks"')

    report = reconcile(APP, tmp_path, database)

    failing = {r["table"]: r for r in report["tables"] if not r["ok"]}
    assert set(failing) == {"BoardWatchers", "DocumentsToTasks"}
    assert "BoardWatchers is missing" in failing["BoardWatchers"]["error"]
    assert failing["DocumentsToTasks"]["loaded"] is None
    assert "DocumentsToTasks" in failing["DocumentsToTasks"]["error"]


def test_the_password_never_appears(tmp_path, database):
    stage(tmp_path)
    load(database)
    run_sql(
        database,
        f"CREATE ROLE reader LOGIN PASSWORD '{PASSWORD}'",
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader",
    )
    uri = database.replace("postgres:@", f"reader:{PASSWORD}@")
    assert PASSWORD in uri

    report = reconcile(APP, tmp_path, uri)

    assert report["ok"], report
    assert report["database"] == database.replace("postgres:@", "reader:***@")
    assert PASSWORD not in json.dumps(report)
    assert PASSWORD not in (tmp_path / "reports" / "reconcile.json").read_text()
    assert PASSWORD not in rendered(report)

    with pytest.raises(ConfigError) as refused:
        reconcile(APP, tmp_path, uri.replace("/test_", "/no_such_db_"))
    assert PASSWORD not in str(refused.value) and "***" in str(refused.value)
