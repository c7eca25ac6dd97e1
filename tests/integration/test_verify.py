"""Verify on a real migration: the clean database passes, in full and sampled; each deliberate
corruption in PostgreSQL fails and is named (table, ObjectId or pair, field)."""

import io
import itertools
import json
import shutil

import polars as pl
import psycopg
import pytest
from rich.console import Console

from toolkit.declarations.spec import Kind
from toolkit.documents.ids import object_id_of, uuid_for
from toolkit.generate import sample as generate
from toolkit.pipeline import run_all, verify_stage
from toolkit.reports.console import print_verify
from toolkit.sources.readers import DumpSource
from toolkit.stages.reconcile import reasons as reconcile_reasons
from toolkit.stages.reconcile import reconcile
from toolkit.stages.verify import records as verify_records
from toolkit.stages.verify import run as verify_run
from toolkit.stages.verify import source as verify_source
from toolkit.stages.verify.compare import type_issue
from toolkit.stages.verify.oracle import canonical_json
from toolkit.stages.verify.run import verify
from toolkit.staging.layout import Staging, read_json
from transforms import APP

BASE = "verify_base"
PASSWORD = "Ver1fy-s3cret"
_copies = itertools.count()


@pytest.fixture(scope="module")
def migrated(tmp_path_factory, pg_server):
    """The demo dump migrated once by the real pipeline into a database the cases copy."""
    root = tmp_path_factory.mktemp("verify")
    generate.write_dump(root / "dump", "nextcrm", generate.demo_dataset(APP, 7))
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {BASE}")
    code = run_all(
        APP,
        DumpSource(root / "dump"),
        pg_server.get_uri(BASE),
        root / "staging",
        20000,
        False,
        Console(file=io.StringIO()),
    )
    assert code == 3  # migrated, with the demo's bad records quarantined (README: exit codes)
    return {"dump": root / "dump", "staging": root / "staging"}


@pytest.fixture
def database(pg_server, migrated) -> str:
    """A fresh copy of the migrated database, so a corruption never leaks into another case."""
    name = f"verify_case_{next(_copies)}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {BASE}")
    return pg_server.get_uri(name)


def run_verify(migrated, uri: str, **options) -> tuple[dict, str]:
    report = verify(APP, DumpSource(migrated["dump"]), migrated["staging"], uri, **options)
    console = Console(file=io.StringIO(), width=240, color_system=None)
    print_verify(report, console)
    return report, console.file.getvalue()


def one(conn, sql: str, *params):
    return conn.execute(sql, params or None).fetchone()


# --- corruptions: each changes PostgreSQL and says what verify must name ----------------------


def changed_text(conn):
    (uuid,) = one(conn, """SELECT id::text FROM "crm_Accounts" WHERE name NOT LIKE 'X%' ORDER BY id LIMIT 1""")
    conn.execute("""UPDATE "crm_Accounts" SET name = 'X' || substr(name, 2) WHERE id = %s""", [uuid])
    oid = object_id_of(uuid)
    return {
        "full": [("records", "crm_Accounts", {"object_id": oid, "field": "name"})],
        "sample": None,
    }  # same length: only a row-by-row comparison can see it


def deleted_row(conn):
    (uuid,) = one(conn, 'SELECT id::text FROM "crm_Contracts" ORDER BY id LIMIT 1')
    conn.execute('DELETE FROM "crm_Contracts" WHERE id = %s', [uuid])
    oid = object_id_of(uuid)
    return {
        "full": [
            ("counts", "crm_Contracts", {}),
            ("records", "crm_Contracts", {"object_id": oid, "problem": "missing in PostgreSQL"}),
        ],
        "sample": [("counts", "crm_Contracts", {})],
    }


def unwatched(conn) -> tuple[str, str]:
    """A migrated account and a migrated user that no AccountWatchers pair links."""
    return one(
        conn,
        """
        SELECT a.id::text, u.id::text FROM "crm_Accounts" a CROSS JOIN "Users" u
        WHERE NOT EXISTS (SELECT 1 FROM "AccountWatchers" w WHERE w.account_id = a.id AND w.user_id = u.id)
        ORDER BY a.id, u.id LIMIT 1""",
    )


def extra_junction_row(conn):
    """A pair the load wrote (recorded among the rows it owns) that no source document names."""
    account, user = unwatched(conn)
    conn.execute('INSERT INTO "AccountWatchers" (account_id, user_id) VALUES (%s, %s)', [account, user])
    conn.execute('INSERT INTO m2pg."owned_AccountWatchers" VALUES (%s, %s, 0)', [account, user])
    pair = {"account_id": object_id_of(account), "user_id": object_id_of(user)}
    named = [("counts", "AccountWatchers", {}), ("records", "AccountWatchers", {"pair": pair})]
    return {"full": named, "sample": named}


def stale_row(conn):
    """A row the load wrote of a document no longer in the source (deleted there since): a copy of
    a contract under an id of the migration's form that no source document has."""
    (uuid,) = one(conn, 'SELECT id::text FROM "crm_Contracts" ORDER BY id LIMIT 1')
    gone = uuid_for("0" * 23 + "1")
    columns = ", ".join(f'"{c}"' for (c,) in conn.execute(COLUMNS, ["crm_Contracts"]).fetchall() if c != "id")
    conn.execute(
        f'INSERT INTO "crm_Contracts" (id, {columns}) SELECT %s, {columns} FROM "crm_Contracts" WHERE id = %s',
        [gone, uuid],
    )
    conn.execute('INSERT INTO m2pg."owned_crm_Contracts" (id, m2pg_digest) VALUES (%s, 0)', [gone])
    stale = (
        "counts",
        "crm_Contracts",
        {
            "problem": "1 row the migration wrote of documents no longer in the source "
            "(the load of a fresh extract deletes such rows)"
        },
    )
    extra = (
        "records",
        "crm_Contracts",
        {"object_id": "0" * 23 + "1", "problem": "in PostgreSQL but not expected from the source"},
    )
    return {"full": [stale, extra], "sample": [stale]}


def keys_left_out(conn):
    """What a load stopped before putting the foreign keys back leaves (them in its store), and
    what a hand dropping a unique index, a NOT NULL or a primary key leaves: every row as
    migrated, nothing guarding them. Verify and reconcile passed on all of them."""
    (definition,) = one(
        conn, """SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'Tasks_section_fkey'"""
    )
    conn.execute(
        "INSERT INTO m2pg.deferred_constraints (table_name, name, definition) VALUES (%s, %s, %s)",
        ["Tasks", "Tasks_section_fkey", definition],
    )
    conn.execute('ALTER TABLE "Tasks" DROP CONSTRAINT "Tasks_section_fkey"')
    conn.execute('DROP INDEX "Users_email_key"')
    conn.execute('ALTER TABLE "crm_Contracts" ALTER COLUMN title DROP NOT NULL')
    conn.execute('ALTER TABLE "AccountWatchers" DROP CONSTRAINT "AccountWatchers_pkey"')
    named = [
        ("integrity", "Tasks", {"problem": 'the foreign key "Tasks"."section" -> "Sections" is missing'}),
        ("integrity", "Users", {"problem": 'the unique index on "Users" ("email") is missing'}),
        ("integrity", "crm_Contracts", {"problem": 'column "crm_Contracts"."title" is nullable, declared NOT NULL'}),
        (
            "integrity",
            "AccountWatchers",
            {"problem": 'the primary key of "AccountWatchers" ("account_id", "user_id") is missing'},
        ),
    ]
    return {"full": named, "sample": named}


def app_orphan(conn):
    """A task the app wrote (its own UUID) naming a user that does not exist, its foreign key gone:
    named by its id (it was named by an ObjectId of 26 hex digits read out of the app's UUID)."""
    conn.execute('ALTER TABLE "Tasks" DROP CONSTRAINT "Tasks_user_fkey"')
    (uuid,) = one(conn, 'SELECT id::text FROM "Tasks" ORDER BY id LIMIT 1')
    mine, nobody = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"
    columns = ", ".join(f'"{c}"' for (c,) in conn.execute(COLUMNS, ["Tasks"]).fetchall() if c not in ("id", "user"))
    conn.execute(
        f'INSERT INTO "Tasks" (id, "user", {columns}) SELECT %s, %s, {columns} FROM "Tasks" WHERE id = %s',
        [mine, nobody, uuid],
    )
    named = [
        ("integrity", "Tasks", {"id": mine, "field": "user"}),
        ("integrity", "Tasks", {"problem": 'the foreign key "Tasks"."user" -> "Users" is missing'}),
    ]
    return {"full": named, "sample": named}


def shifted_timestamp(conn):
    (uuid,) = one(conn, """SELECT id::text FROM "Tasks" WHERE "createdAt" IS NOT NULL ORDER BY id LIMIT 1""")
    conn.execute("""UPDATE "Tasks" SET "createdAt" = "createdAt" + interval '1 hour' WHERE id = %s""", [uuid])
    oid = object_id_of(uuid)
    return {
        "full": [
            ("records", "Tasks", {"object_id": oid, "field": "createdAt"}),
            (
                "types",
                "Tasks",
                {"object_id": oid, "field": "createdAt", "problem": "timestamp shifted by +1 h (a time zone applied?)"},
            ),
        ],
        "sample": [("types", "Tasks", {"field": "createdAt"})],
    }


def truncated_text(conn):
    (uuid,) = one(conn, 'SELECT id::text FROM "Documents" WHERE length(description) = 100000')
    conn.execute('UPDATE "Documents" SET description = left(description, 65535) WHERE id = %s', [uuid])
    oid = object_id_of(uuid)
    return {
        "full": [
            ("records", "Documents", {"object_id": oid, "field": "description"}),
            (
                "types",
                "Documents",
                {"object_id": oid, "field": "description", "problem": "text truncated from 100000 to 65535 characters"},
            ),
        ],
        "sample": [("types", "Documents", {"field": "description"})],
    }


CORRUPTIONS = [
    changed_text,
    deleted_row,
    extra_junction_row,
    stale_row,
    keys_left_out,
    app_orphan,
    shifted_timestamp,
    truncated_text,
]
COLUMNS = "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position"


def failures(report: dict, layer: str, table: str, where: dict) -> list[dict]:
    return [
        f for f in report["layers"][layer]["tables"][table]["failures"] if all(f.get(k) == v for k, v in where.items())
    ]


def assert_named(report: dict, text: str, expected: list[tuple[str, str, dict]]) -> None:
    assert report["status"] == "fail"
    assert set(report["summary"]["failed_tables"]) == {table for _, table, _ in expected}
    for layer, table, where in expected:
        assert failures(report, layer, table, where), (layer, table, where)
        assert report["tables"][table][layer] == "fail"
        for value in where.values():
            shown = " ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else str(value)
            assert shown in text, shown


# --- cases -----------------------------------------------------------------------------------


def test_full_verify_passes_on_the_clean_migration_and_hides_the_password(migrated, database):
    uri = database.replace("postgres:@", f"postgres:{PASSWORD}@", 1)
    assert PASSWORD in uri
    report, text = run_verify(migrated, uri, full=True)
    assert report["status"] == "pass", text
    assert report["summary"]["layers"] == dict.fromkeys(("counts", "records", "integrity", "types"), "pass")
    assert report["summary"]["quarantined"] == 18
    records = report["layers"]["records"]["tables"]
    assert records["Documents"]["compared"] == 800 and records["Documents"]["differing_rows"] == 0
    users = report["layers"]["counts"]["tables"]["Users"]
    assert (users["source"], users["quarantined"], users["loaded"]) == (402, 2, 400)
    one_sided = report["layers"]["integrity"]["tables"]["AccountWatchers"]["one_sided"]
    transform = {j["table"]: j for j in read_json(Staging(migrated["staging"]).report("transform.json"))["junctions"]}
    assert one_sided["count"] == transform["AccountWatchers"]["pairs_known_to_one_side_only"] > 0
    collection_of = {m.table: m.source for m in APP.models}
    by_transform = {
        c["collection"]: {name: sum(reasons.values()) for name, reasons in c["nulled_references"].items()}
        for c in read_json(Staging(migrated["staging"]).report("transform.json"))["collections"]
    }
    integrity = report["layers"]["integrity"]["tables"]
    by_verify = {collection_of[t]: integrity[t]["references_nulled"] for t in collection_of}
    assert by_verify == {c: by_transform.get(c, {}) for c in by_verify}  # the oracle's count, the transform's
    written = Staging(migrated["staging"]).report("verify.json").read_text()
    assert json.loads(written)["status"] == "pass"
    assert PASSWORD not in written and PASSWORD not in text
    assert "verify: PASS" in text


def test_sampled_verify_passes_on_the_clean_migration(migrated, database):
    report, text = run_verify(migrated, database, sample=100, seed=7)
    assert report["status"] == "pass", text
    assert report["summary"]["mode"] == "sample"
    assert report["layers"]["records"]["tables"]["Tasks"]["compared"] == 100
    assert report["layers"]["records"]["tables"]["crm_Industry_Type"]["compared"] == 100


def test_a_pair_the_app_wrote_between_migrated_rows_is_counted_apart(migrated, database):
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute('INSERT INTO "AccountWatchers" (account_id, user_id) VALUES (%s, %s)', unwatched(conn))
    for options in ({"full": True}, {"sample": 20}):
        report, text = run_verify(migrated, database, **options)
        assert report["status"] == "pass", text
        assert report["layers"]["counts"]["tables"]["AccountWatchers"]["other_rows"] == 1
        assert "1 row in the target is not this migration's" in text
    reconciled = reconcile(APP, migrated["staging"], database)
    watchers = next(t for t in reconciled["tables"] if t["table"] == "AccountWatchers")
    assert reconciled["ok"] and watchers["other_rows"] == 1, watchers


def test_a_row_someone_wrote_with_an_id_of_the_migrations_form_is_counted_apart(migrated, database):
    """Whose a row is, the load's record says: a row inserted by hand with an id of the form the
    migration gives (as a copy of a migrated row would have) was counted apart by reconcile and by
    verify's counts, and failed `verify --full` as "in PostgreSQL but not expected"."""
    theirs = uuid_for("65f0c0ffee0000000000beef")
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute('INSERT INTO "crm_Industry_Type" (id, "__v", name) VALUES (%s, 0, %s)', [theirs, "by hand"])
    for options in ({"full": True}, {"sample": 20}):
        report, text = run_verify(migrated, database, **options)
        assert report["status"] == "pass", text
        assert report["layers"]["counts"]["tables"]["crm_Industry_Type"]["other_rows"] == 1
    full, _ = run_verify(migrated, database, full=True)
    assert full["layers"]["records"]["tables"]["crm_Industry_Type"]["other_rows"] == 1
    reconciled = reconcile(APP, migrated["staging"], database)
    industries = next(t for t in reconciled["tables"] if t["table"] == "crm_Industry_Type")
    assert reconciled["ok"] and industries["other_rows"] == 1, industries


def test_the_targets_own_session_settings_do_not_change_what_is_checked(migrated, database):
    """A database whose sessions time out after 50 ms and look in another schema first (hardening
    advice drops `public` from search_path): verify stopped at its first long query ("canceling
    statement due to statement timeout", exit 1), and verify and reconcile found none of the app's
    tables ("cannot check: relation "Users" does not exist", 39 times)."""
    with psycopg.connect(database, autocommit=True) as conn:
        (name,) = one(conn, "SELECT current_database()")
        conn.execute("CREATE SCHEMA app")
        conn.execute(f"ALTER DATABASE {name} SET search_path = app")
        conn.execute(f"ALTER DATABASE {name} SET statement_timeout = '50ms'")
    with psycopg.connect(database, autocommit=True) as conn:
        assert one(conn, "SHOW statement_timeout") == ("50ms",)
    for options in ({"full": True}, {"sample": 20}):
        report, text = run_verify(migrated, database, **options)
        assert report["status"] == "pass", text
    assert reconcile(APP, migrated["staging"], database)["ok"]


def test_a_pair_the_source_holds_counts_as_loaded_whoever_wrote_it(migrated, database):
    """The app linked two migrated rows, and the source then held the same pair: the load found
    it in place and left it unrecorded. The target holds every pair of the source: verify passes."""
    with psycopg.connect(database, autocommit=True) as conn:
        (pairs,) = one(conn, 'SELECT count(*) FROM "AccountWatchers"')
        conn.execute(
            'DELETE FROM m2pg."owned_AccountWatchers" WHERE (account_id, user_id) IN '
            '(SELECT account_id, user_id FROM "AccountWatchers" ORDER BY 1, 2 LIMIT 1)'
        )
    for options in ({"full": True}, {"sample": 20}):
        report, text = run_verify(migrated, database, **options)
        assert report["status"] == "pass", text
        counts = report["layers"]["counts"]["tables"]["AccountWatchers"]
        assert (counts["loaded"], counts["other_rows"]) == (pairs, 0), counts
    reconciled = reconcile(APP, migrated["staging"], database)
    watchers = next(t for t in reconciled["tables"] if t["table"] == "AccountWatchers")
    assert reconciled["ok"] and (watchers["loaded"], watchers["other_rows"]) == (pairs, 0), watchers


def test_a_row_under_a_quarantined_documents_id_fails_the_counts(migrated, database):
    """A migrated row deleted and another standing under the id of a quarantined document: source
    = loaded + quarantined still held, so sampled verify passed."""
    parts = sorted((migrated["staging"] / "quarantine").glob("*/part-*.parquet"))
    held = pl.concat([pl.read_parquet(p, columns=["collection", "object_id"]) for p in parts])
    parents = {f.parent.model for m in APP.models for f in m.references} | {
        side.model for j in APP.junctions for side in (j.left, j.right)
    }
    tables = {m.source: m.table for m in APP.models if m.name not in parents}  # a row no other row names
    collection, object_id = next((c, o) for c, o in held.iter_rows() if c in tables and o and len(o) == 24)
    table = tables[collection]
    with psycopg.connect(database, autocommit=True) as conn:
        (uuid,) = one(conn, f'SELECT id::text FROM "{table}" ORDER BY id LIMIT 1')
        columns = ", ".join(f'"{c}"' for (c,) in conn.execute(COLUMNS, [table]).fetchall() if c != "id")
        conn.execute(
            f'INSERT INTO "{table}" (id, {columns}) SELECT %s, {columns} FROM "{table}" WHERE id = %s',
            [uuid_for(object_id), uuid],
        )
        conn.execute(f'DELETE FROM "{table}" WHERE id = %s', [uuid])
    for options in ({"full": True}, {"sample": 20}):
        report, text = run_verify(migrated, database, **options)
        assert failures(report, "counts", table, {"problem": "1 row of quarantined documents in the target"}), text


def test_reconcile_fails_on_a_row_the_migration_wrote_of_a_document_gone_from_the_source(migrated, database):
    """The staged state no longer has the document (deleted from the source since the load): the
    row is the migration's, not another's, and the target does not add up with the staging."""
    with psycopg.connect(database, autocommit=True) as conn:
        stale_row(conn)
    reconciled = reconcile(APP, migrated["staging"], database)
    contracts = next(t for t in reconciled["tables"] if t["table"] == "crm_Contracts")
    assert not reconciled["ok"] and not contracts["ok"], contracts
    assert (contracts["stale_rows"], contracts["other_rows"]) == (1, 0), contracts
    assert reconcile_reasons(contracts, []) == [
        "1 row the migration wrote of documents no longer in the source "
        "(the load of this staging folder deletes such rows)"
    ]


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=[c.__name__ for c in CORRUPTIONS])
def test_full_verify_names_each_corruption(migrated, database, corrupt):
    with psycopg.connect(database, autocommit=True) as conn:
        expected = corrupt(conn)
    report, text = run_verify(migrated, database, full=True)
    assert_named(report, text, expected["full"])


@pytest.mark.parametrize("corrupt", CORRUPTIONS[1:], ids=[c.__name__ for c in CORRUPTIONS[1:]])
def test_sampled_verify_catches_corruptions_that_change_counts_or_profiles(migrated, database, corrupt):
    with psycopg.connect(database, autocommit=True) as conn:
        expected = corrupt(conn)
    report, text = run_verify(migrated, database, sample=20)
    assert_named(report, text, expected["sample"])


def test_worker_processes_find_what_one_process_finds(migrated, database):
    """Reading and checking spread over two processes: the same report, failure for failure, on a
    database carrying every corruption (the findings travel home and merge in the tables' order)."""
    with psycopg.connect(database, autocommit=True) as conn:
        expected = [named for corrupt in CORRUPTIONS for named in corrupt(conn)["full"]]
    alone, text = run_verify(migrated, database, full=True, workers=1)
    spread, _ = run_verify(migrated, database, full=True, workers=2)
    assert_named(alone, text, expected)
    for report in (alone, spread):
        del report["summary"]["seconds"]
    assert spread == alone


def test_rows_read_and_compared_a_few_at_a_time_find_what_whole_tables_find(migrated, database, monkeypatch):
    """Every collection is read, and its rows and pairs handed over, a chunk at a time, and every
    row compared a slice at a time: chunks and slices of 7 find, failure for failure, what one of
    each per table finds (a table here holds at most a few hundred rows); so do PostgreSQL's rows
    read range of ids by range, as rows of megabytes are."""
    with psycopg.connect(database, autocommit=True) as conn:
        for corrupt in CORRUPTIONS:
            corrupt(conn)
    whole, _ = run_verify(migrated, database, full=True, workers=1)
    ranges = {}
    with monkeypatch.context() as patch:
        patch.setattr(verify_source, "DECODED_BYTES", 10_000)  # row groups of a few rows, where ranges are cut
        patch.setattr(verify_source, "RANGE_BYTES", 40_000)  # PostgreSQL's rows read in ranges of ids
        read_in_ranges = verify_source.id_ranges
        patch.setattr(
            verify_run, "id_ranges", lambda folder, model: ranges.setdefault(model.table, read_in_ranges(folder, model))
        )
        ranged, _ = run_verify(migrated, database, full=True, workers=1)
    monkeypatch.setattr(verify_run, "SLICE", 7)
    monkeypatch.setattr(verify_source, "CHUNK", 7)
    sliced, _ = run_verify(migrated, database, full=True, workers=1)
    for report in (whole, sliced, ranged):
        del report["summary"]["seconds"]
    assert sliced == whole and ranged == whole and whole["summary"]["failures"] > 5
    assert len(ranges["crm_Accounts"]) > 3 and len(ranges["Documents"]) > 3  # both hold a corrupted row


def test_a_sample_fetched_a_few_rows_at_a_time_finds_what_one_fetch_finds(migrated, database, monkeypatch):
    """A sample as large as the tables, so that every row is compared: fetched from PostgreSQL a
    couple of kilobytes at a time (as rows of megabytes are), the same report."""
    with psycopg.connect(database, autocommit=True) as conn:
        for corrupt in CORRUPTIONS:
            corrupt(conn)
    whole, _ = run_verify(migrated, database, sample=1_000_000, workers=1)
    monkeypatch.setattr(verify_records, "PART_BYTES", 2_000)
    sliced, _ = run_verify(migrated, database, sample=1_000_000, workers=1)
    for report in (whole, sliced):
        del report["summary"]["seconds"]
    assert sliced == whole
    assert failures(whole, "records", "crm_Accounts", {"field": "name"})  # a difference only a comparison sees


# --- the oracle's pieces, as tables ----------------------------------------------------------


@pytest.mark.parametrize(
    "source, loaded",
    [
        ('{"b": 1, "a": [1.0, "x"]}', '{"a": [1.0, "x"], "b": 1}'),  # jsonb reorders keys
        ('{"big": 1e+300}', '{"big": 1' + "0" * 300 + "}"),  # jsonb spells numbers out
        ('{"n": 1}', '{"n": 1.0}'),  # the same number for jsonb
        ('{"price": {"$numberDecimal": "-0.00"}}', '{"price": {"$numberDecimal": "-0.00"}}'),
    ],
)
def test_canonical_json_equal(source, loaded):
    assert canonical_json(source) == canonical_json(loaded)


@pytest.mark.parametrize(
    "source, loaded",
    [
        ('{"a": true}', '{"a": 1}'),
        ('{"a": "1"}', '{"a": 1}'),
        ("[1, 2]", "[2, 1]"),
        ('{"a.b": 1}', '{"a": {"b": 1}}'),
    ],
)
def test_canonical_json_different(source, loaded):
    assert canonical_json(source) != canonical_json(loaded)


@pytest.mark.parametrize(
    "kind, expected, actual, issue",
    [
        (Kind.DATETIME, "1700000000000", "1700003600000", "timestamp shifted by +1 h (a time zone applied?)"),
        (Kind.DATETIME, "1700000000000", "1699980200000", "timestamp shifted by -5.5 h (a time zone applied?)"),
        (Kind.DATETIME, "1700000000000", "1700000000001", "timestamp 1700000000001 ms instead of 1700000000000 ms"),
        (Kind.TEXT, "Zoë Ångström", "Zoë Å", "text truncated from 12 to 5 characters"),
        (Kind.TEXT, "Acme", "Xcme", None),
        (Kind.INT, "2147483647", "32767", "number 32767 instead of 2147483647"),
        (Kind.TEXT_LIST, '["a","b"]', '["a"]', "array of 1 element instead of 2"),
        (Kind.UUID_LIST, '["a","b"]', '["b","a"]', "array order changed"),
        (Kind.JSON, '{"a":1,"b":2}', '{"a":1}', "jsonb object of 1 instead of object of 2"),
        (Kind.JSON, '{"a":1}', '{"a":2}', None),
        (Kind.BOOL, "true", "false", None),
    ],
)
def test_type_issue(kind, expected, actual, issue):
    assert type_issue(kind, expected, actual) == issue


def test_verify_of_another_source_than_the_staged_one_says_so(migrated, database, tmp_path):
    """Every record the two sources differ in fails, and nothing said why."""
    other = tmp_path / "dump"
    shutil.copytree(migrated["dump"], other)
    texts = {}
    for dump in (migrated["dump"], other):
        out = Console(file=io.StringIO(), width=400, color_system=None)
        verify_stage(APP, DumpSource(dump), database, migrated["staging"], 10, False, 7, out)
        texts[dump] = out.file.getvalue()
    assert "extracted from" not in texts[migrated["dump"]], texts[migrated["dump"]]
    assert (
        f"warning: verify read mongodump {other / 'nextcrm'}, but the staging folder was extracted from "
        f"mongodump {migrated['dump'] / 'nextcrm'}: each record they differ in fails" in texts[other]
    ), texts[other]
    assert read_json(Staging(migrated["staging"]).report("verify.json"))["summary"]["staged_from"] == (
        f"mongodump {migrated['dump'] / 'nextcrm'}"
    )


def test_verify_removes_the_handover_folders_a_killed_verify_left(migrated, database):
    """A SIGKILLed verify leaves its handover folder in staging (megabytes of a large source): no
    later command removed them."""
    left = Staging(migrated["staging"]).root / ".verify-killed"
    (left / "collections").mkdir(parents=True)
    (left / "collections" / "Users.parquet").write_bytes(b"x" * 1000)
    report, text = run_verify(migrated, database, sample=5)
    assert report["status"] == "pass", text
    assert not left.exists() and not list(Staging(migrated["staging"]).root.glob(".verify-*"))
