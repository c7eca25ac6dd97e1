"""A second `m2pg run` after the source changed catches the target up: it then equals a fresh
migration of the changed source into an empty database, table by table and row by row, whatever
was killed on the way, and the rows the app wrote in between are left as they were."""

import hashlib
import signal
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import psycopg
import pytest
from pymongo import MongoClient

from catch_up_source import RENAMED, RETITLED, Cast, copy_of_the_first_run, edit, first_world, run_between
from exactly_once import assert_exactly_once
from exactly_once import ledger as ledger_of
from processes import m2pg
from toolkit.documents.ids import uuid_for
from toolkit.staging.layout import read_json
from transforms import JUNCTIONS, MODELS

DB = "catch_up"
BATCH = "5"  # several write batches in the catch-up, so there are places to kill it
KEYS = {m.table: ("id",) for m in MODELS} | {j.table: (j.left.column, j.right.column) for j in JUNCTIONS}
APP_USER, APP_ACCOUNT = str(uuid.uuid4()), str(uuid.uuid4())  # ids the migration never makes (version 4)
APP_ROWS = {"Users": 1, "crm_Accounts": 1, "AccountWatchers": 1}

Rows = dict[str, dict[tuple, str]]  # table -> key -> the row as text


@dataclass
class World:
    """The source after the edits; the target and staging of the first run, as the edits found
    them; the rows of a fresh migration of the edited source."""

    mongo_uri: str
    cast: Cast
    before_db: str
    before_staging: Path
    before: Rows
    app_rows: dict[str, list[str]]
    fresh: Rows
    fresh_staging: Path


def uuid_of(object_id) -> str:
    """The UUID the migration gives a document."""
    return uuid_for(str(object_id))


def migrated_rows(uri: str) -> Rows:
    """Every table's rows by key, without the app's (a key holding one of its ids)."""
    app = {APP_USER, APP_ACCOUNT}
    with psycopg.connect(uri) as conn:
        rows = {}
        for table, key in KEYS.items():
            columns = ", ".join(f'"{c}"::text' for c in key)
            found = conn.execute(f'SELECT {columns}, t::text FROM "{table}" t').fetchall()
            rows[table] = {r[:-1]: r[-1] for r in found if not app.intersection(r[:-1])}
        return rows


def digests(rows: Rows) -> dict[str, str]:
    return {t: hashlib.md5("\n".join(sorted(by_key.values())).encode()).hexdigest() for t, by_key in rows.items()}


def assert_same_rows(got: Rows, expected: Rows) -> None:
    """Equal digests per table; when not, the first rows that differ, by key."""
    if digests(got) == digests(expected):
        return
    problems = []
    for table in KEYS:
        keys = sorted(set(got[table]) | set(expected[table]))
        differ = [
            (k, got[table].get(k), expected[table].get(k)) for k in keys if got[table].get(k) != expected[table].get(k)
        ]
        problems += [f"{table} {k}: target {g!r}, fresh migration {e!r}" for k, g, e in differ[:3]]
    pytest.fail("the target differs from a fresh migration of the source:\n" + "\n".join(problems))


def changes(before: Rows, after: Rows) -> dict[str, dict[str, int]]:
    """What turns `before` into `after`, per table: rows inserted, updated, deleted, unchanged."""
    counts = {}
    for table in KEYS:
        was, now = before[table], after[table]
        kept = was.keys() & now.keys()
        counts[table] = {
            "inserted": len(now.keys() - was.keys()),
            "deleted": len(was.keys() - now.keys()),
            "updated": sum(was[k] != now[k] for k in kept),
            "unchanged": sum(was[k] == now[k] for k in kept),
        }
    return counts


def app_rows(uri: str) -> dict[str, list[str]]:
    """The app's rows, as text."""
    with psycopg.connect(uri) as conn:
        return {
            "Users": conn.execute('SELECT t::text FROM "Users" t WHERE id = %s', [APP_USER]).fetchall(),
            "crm_Accounts": conn.execute(
                'SELECT t::text FROM "crm_Accounts" t WHERE id = %s', [APP_ACCOUNT]
            ).fetchall(),
            "AccountWatchers": conn.execute(
                'SELECT t::text FROM "AccountWatchers" t WHERE account_id = %s', [APP_ACCOUNT]
            ).fetchall(),
        }


def write_as_the_app(uri: str, cast: Cast) -> None:
    """Rows the app creates after the first run: a user, an account assigned to a migrated user,
    and that user watching it."""
    with psycopg.connect(uri) as conn:
        conn.execute(
            """INSERT INTO "Users" (id, email, name, created_on, "userStatus")
                        VALUES (%s, 'signed.up.in.the.app@example.com', 'App User',
                                '2026-02-03 04:05:06.789', 'ACTIVE')""",
            [APP_USER],
        )
        conn.execute(
            """INSERT INTO "crm_Accounts" (id, __v, name, "createdAt", assigned_to)
                        VALUES (%s, 0, 'Opened in the app', '2026-02-03 04:05:07.123', %s)""",
            [APP_ACCOUNT, uuid_of(cast.kept_user)],
        )
        conn.execute(
            'INSERT INTO "AccountWatchers" (account_id, user_id) VALUES (%s, %s)',
            [APP_ACCOUNT, uuid_of(cast.kept_user)],
        )


def whole_database(uri: str) -> dict[str, list[str]]:
    """Every table of every schema but the system's, m2pg's own included, as sorted row text."""
    with psycopg.connect(uri) as conn:
        tables = conn.execute("""SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables
                                 WHERE table_type = 'BASE TABLE'
                                   AND table_schema NOT IN ('pg_catalog', 'information_schema')""").fetchall()
        return {t: sorted(r for (r,) in conn.execute(f"SELECT t::text FROM {t} t")) for (t,) in tables}


def catalog(uri: str) -> list[tuple]:
    """The app's indexes and constraints, as PostgreSQL defines them."""
    with psycopg.connect(uri) as conn:
        return conn.execute("""SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'
                               UNION ALL
                               SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint
                               WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2""").fetchall()


def ledger_rows(uri: str) -> int:
    with psycopg.connect(uri) as conn:
        return conn.execute("SELECT count(*) FROM m2pg.ledger").fetchone()[0]


def quarantine(staging: Path) -> pl.DataFrame:
    """Every quarantined record: object_id (hex, null when the `_id` is no ObjectId), rule, reason."""
    parts = sorted(staging.glob("quarantine/*/part-*.parquet"))
    return pl.concat([pl.read_parquet(p, columns=["object_id", "rule", "reason"]) for p in parts])


def quarantined(staging: Path) -> dict[str, tuple[str, str]]:
    """ObjectId (hex) -> (rule, reason) of every quarantined record that has one."""
    records = quarantine(staging).iter_rows(named=True)
    return {r["object_id"]: (r["rule"], r["reason"]) for r in records if r["object_id"]}


def refused(world: World) -> dict[str, int]:
    """Model table -> rows of the first run whose documents the changed source still holds but
    a rule now refuses: the catch-up deletes them and they join the quarantine."""
    held = {uuid_for(object_id) for object_id in quarantined(world.fresh_staging)}
    return {m.table: sum(key[0] in held for key in world.before[m.table]) for m in MODELS}


def said(result) -> str:
    """Standard output with its lines joined: a long summary line wraps on a narrow terminal."""
    return " ".join(result.stdout.split())


@pytest.fixture(scope="module")
def world(pg_server, tmp_path_factory) -> World:
    with first_world(pg_server, tmp_path_factory, DB, "catch_up") as places:
        mongo_uri, cast, before_db, fresh_db, before_staging = places
        first = run_between(mongo_uri, DB, before_db, before_staging, "--part-size", BATCH, "--batch-size", BATCH)
        assert first.returncode == 3, first.stdout + first.stderr
        write_as_the_app(before_db, cast)
        with MongoClient(mongo_uri) as client:
            edit(client[DB], cast)
        fresh_staging = tmp_path_factory.mktemp("fresh")
        fresh = m2pg(
            "run", "--mongo-uri", mongo_uri, "--mongo-db", DB, "--pg-uri", fresh_db, "--staging", str(fresh_staging)
        )
        assert fresh.returncode == 3, fresh.stdout + fresh.stderr
        yield World(
            mongo_uri,
            cast,
            before_db,
            before_staging,
            migrated_rows(before_db),
            app_rows(before_db),
            migrated_rows(fresh_db),
            fresh_staging,
        )


def target_before_the_catch_up(world: World, pg_server, tmp_path: Path, name: str) -> tuple[str, Path]:
    """A copy of the first run's target (app rows included) and of its staging folder."""
    return copy_of_the_first_run(pg_server, "catch_up", world.before_staging, tmp_path, name)


def catch_up(world: World, uri: str, staging: Path, *options: str, kill_at: str | None = None):
    return run_between(
        world.mongo_uri, DB, uri, staging, "--part-size", BATCH, "--batch-size", BATCH, *options, kill_at=kill_at
    )


@pytest.fixture(scope="module")
def caught_up(world, pg_server, tmp_path_factory):
    """(target URI, staging, the run) of one uninterrupted catch-up."""
    uri, staging = target_before_the_catch_up(world, pg_server, tmp_path_factory.mktemp("caught_up"), "caught_up")
    return uri, staging, catch_up(world, uri, staging)


def test_the_edits_reach_every_case(world):
    """The premise: the first run loaded what the edits then change, and the edits touch enough
    tables and kinds of write for the kill points below to fall inside the catch-up."""
    c, before, fresh = world.cast, world.before, world.fresh
    assert before["crm_Accounts"][uuid_of(c.orphaned_account),].count(uuid_of(c.deleted_user)) == 1
    assert before["Tasks"][uuid_of(c.loose_task),].count(uuid_of(c.orphaned_section)) == 1
    for table, role in (
        ("Boards", c.orphaned_board),
        ("Sections", c.orphaned_section),
        ("Sections", c.kept_section),
        ("crm_Opportunities", c.spoiled_opportunity),
        ("crm_Contacts", c.deleted_contact),
    ):
        assert (uuid_of(role),) in before[table], (table, role)
    for table, role in (("Users", c.fixed_user), ("Boards", c.fixed_board), ("Sections", c.fixed_section)):
        assert (uuid_of(role),) not in before[table] and (uuid_of(role),) in fresh[table], (table, role)
    linked = {(uuid_of(c.linked_document), uuid_of(t)) for t in c.account_tasks[:2]}
    assert linked <= before["DocumentsToCrmAccountsTasks"].keys()
    assert (uuid_of(c.kept_contact), uuid_of(c.spoiled_opportunity)) in before["ContactsToOpportunities"]
    writes = [
        (t, kind) for t, n in changes(before, fresh).items() for kind in ("inserted", "updated", "deleted") if n[kind]
    ]
    assert len(writes) >= 12, writes


def test_catch_up_equals_a_fresh_migration_of_the_changed_source(world, caught_up):
    uri, _, run = caught_up
    assert run.returncode == 3, run.stdout + run.stderr
    assert "target equals the source" in said(run), run.stdout
    assert_same_rows(migrated_rows(uri), world.fresh)


def test_catch_up_leaves_the_apps_rows_as_they_were(world, caught_up):
    uri, staging, _ = caught_up
    assert all(len(rows) == 1 for rows in world.app_rows.values()), world.app_rows
    assert app_rows(uri) == world.app_rows
    reconciled = {t["table"]: t["other_rows"] for t in read_json(staging / "reports" / "reconcile.json")["tables"]}
    assert reconciled == {t: APP_ROWS.get(t, 0) for t in KEYS}


def test_load_report_counts_what_the_catch_up_wrote(world, caught_up):
    _, staging, _ = caught_up
    report = read_json(staging / "reports" / "load.json")
    expected = changes(world.before, world.fresh)
    by_table = {t["table"]: t for t in report["tables"]}
    assert set(by_table) == set(KEYS)
    for table, counts in expected.items():
        assert {k: by_table[table][k] for k in counts} == counts, table
        assert by_table[table]["rows"] == len(world.fresh[table]), table
    for kind in ("inserted", "updated", "deleted", "unchanged"):
        assert report[kind] == sum(c[kind] for c in expected.values()), kind
    now_refused = refused(world)
    assert sum(now_refused.values()) >= 3, now_refused  # spoiled_user, spoiled_opportunity, orphaned_section
    assert {t: by_table[t]["deleted_refused"] for t in now_refused} == now_refused
    assert report["deleted_refused"] == sum(now_refused.values())
    last = said(caught_up[2]).rpartition("run: ")[2]  # the run's summary, its last line
    assert last.startswith(
        f"{report['inserted']} rows inserted, {report['updated']} updated, {report['deleted']} deleted "
        f"({report['deleted_refused']} of them refused by a rule now: quarantined, see `m2pg errors`), "
        f"{report['unchanged']} unchanged; the target equals the source"
    ), last
    assert m2pg("report", "--staging", str(staging)).returncode == 0
    page = (staging / "reports" / "report.html").read_text()
    assert f"({report['deleted_refused']:,} of the deleted refused by a rule now: quarantined)" in page


RULES_FOLLOWED = [  # (what the rules say, a query on the caught-up target, roles it names, its answer from the cast)
    (
        "a changed document updates its row",
        'SELECT name FROM "crm_Accounts" WHERE id = %s',
        ["renamed_account"],
        lambda c: RENAMED,
    ),
    (
        "a changed child updates its row",
        'SELECT title FROM "Tasks" WHERE id = %s',
        ["retitled_task"],
        lambda c: RETITLED,
    ),
    ("a new document inserts its row", 'SELECT count(*) FROM "Users" WHERE id = %s', ["new_user"], lambda c: 1),
    (
        "a new child points at a new parent",
        'SELECT assigned_to::text FROM "crm_Accounts" WHERE id = %s',
        ["new_account"],
        lambda c: uuid_of(c.new_user),
    ),
    (
        "a changed reference follows to a new parent",
        'SELECT "accountsIDs"::text FROM "crm_Contacts" WHERE id = %s',
        ["moved_contact"],
        lambda c: uuid_of(c.new_account),
    ),
    (
        "a deleted document deletes its row",
        'SELECT count(*) FROM "crm_Contacts" WHERE id = %s',
        ["deleted_contact"],
        lambda c: 0,
    ),
    ("a deleted parent deletes its row", 'SELECT count(*) FROM "Users" WHERE id = %s', ["deleted_user"], lambda c: 0),
    (
        "an optional reference to a deleted parent becomes NULL",
        'SELECT count(*) FROM "crm_Accounts" WHERE id = %s AND assigned_to IS NULL',
        ["orphaned_account"],
        lambda c: 1,
    ),
    (
        "a required reference to a deleted parent removes the row",
        'SELECT count(*) FROM "Boards" WHERE id = %s',
        ["orphaned_board"],
        lambda c: 0,
    ),
    (
        "a child of a removed row goes too",
        'SELECT count(*) FROM "Sections" WHERE id = %s',
        ["orphaned_section"],
        lambda c: 0,
    ),
    (
        "an optional reference to a removed row becomes NULL",
        'SELECT count(*) FROM "Tasks" WHERE id = %s AND section IS NULL',
        ["loose_task"],
        lambda c: 1,
    ),
    (
        "a child of a kept parent keeps its reference",
        'SELECT board::text FROM "Sections" WHERE id = %s',
        ["kept_section"],
        lambda c: uuid_of(c.kept_board),
    ),
    (
        "a record now refused by a rule leaves the target",
        'SELECT count(*) FROM "crm_Opportunities" WHERE id = %s',
        ["spoiled_opportunity"],
        lambda c: 0,
    ),
    (
        "a fixed record is loaded",
        'SELECT "userStatus"::text FROM "Users" WHERE id = %s',
        ["fixed_user"],
        lambda c: "ACTIVE",
    ),
    (
        "a fixed parent and the child it held back are loaded",
        'SELECT count(*) FROM "Sections" s JOIN "Boards" b ON b.id = s.board WHERE b.id = %s AND s.id = %s',
        ["fixed_board", "fixed_section"],
        lambda c: 1,
    ),
    (
        "a junction pair that appeared is inserted, one that disappeared is deleted",
        'SELECT array_agg(crm_accounts_task_id::text ORDER BY crm_accounts_task_id) FROM "DocumentsToCrmAccountsTasks" '
        "WHERE document_id = %s",
        ["linked_document"],
        lambda c: sorted(uuid_of(t) for t in c.account_tasks[1:]),
    ),
    (
        "a pair whose end was deleted is deleted",
        'SELECT array_agg(contact_id::text) FROM "DocumentsToContacts" WHERE document_id = %s',
        ["linked_document"],
        lambda c: [uuid_of(c.kept_contact)],
    ),
    (
        "a pair whose end is quarantined is deleted",
        'SELECT count(*) FROM "ContactsToOpportunities" WHERE opportunity_id = %s',
        ["spoiled_opportunity"],
        lambda c: 0,
    ),
]


@pytest.mark.parametrize("rule, sql, roles, expected", RULES_FOLLOWED, ids=[r[0] for r in RULES_FOLLOWED])
def test_catch_up_follows_the_rules(world, caught_up, rule, sql, roles, expected):
    with psycopg.connect(caught_up[0]) as conn:
        found = conn.execute(sql, [uuid_of(getattr(world.cast, r)) for r in roles]).fetchone()
    assert (found[0] if found else None) == expected(world.cast), rule


def emails(uri: str, users) -> list[str]:
    with psycopg.connect(uri) as conn:
        return [conn.execute('SELECT email FROM "Users" WHERE id = %s', [uuid_of(u)]).fetchone()[0] for u in users]


def test_unique_values_that_change_hands_follow_their_documents(world, caught_up):
    """Two users swapped their emails; one took the email of another, which took that of a user
    now quarantined; a new user took the email of a deleted one. PostgreSQL checks a unique index
    row by row, and the rows of the quarantined and the deleted user go only at the end of the
    load: written one after another, each of these rows would collide."""
    cast = world.cast
    (a, b), (c, d), spoiled, deleted = cast.swapped_users, cast.chained_users, cast.spoiled_user, cast.deleted_user
    users = (a, b, c, d, spoiled, deleted)
    was = dict(zip(users, emails(world.before_db, users), strict=True))
    now = (a, b, c, d, cast.new_user)
    assert emails(caught_up[0], now) == [was[b], was[a], was[d], was[spoiled], was[deleted]]


QUARANTINE = [  # (role, the rule that holds it in the quarantine after the catch-up, or None: not quarantined)
    ("spoiled_opportunity", "int_range"),
    ("orphaned_board", "reference"),
    ("orphaned_section", "reference"),
    ("fixed_user", None),
    ("fixed_board", None),
    ("fixed_section", None),
    ("deleted_user", None),
    ("spoiled_user", "enum"),
]


@pytest.mark.parametrize("role, rule", QUARANTINE)
def test_catch_up_quarantines_with_the_reason(world, caught_up, role, rule):
    held = quarantined(caught_up[1]).get(str(getattr(world.cast, role)))
    if rule is None:
        assert held is None, held
    else:
        assert held is not None and held[0] == rule and held[1], held


@pytest.mark.parametrize("point", ["load-copy:1", "load-batch:6", "load-copy:12", "load-unique:1"])
def test_sigkill_during_the_catch_up_then_again_equals_one_catch_up(world, pg_server, tmp_path, caught_up, point):
    name = "killed_" + point.replace("-", "_").replace(":", "_")
    uri, staging = target_before_the_catch_up(world, pg_server, tmp_path, name)
    trial = ledger_of(uri)
    killed = catch_up(world, uri, staging, kill_at=point)
    assert killed.returncode == -signal.SIGKILL, f"{point} was never reached:\n{killed.stdout}{killed.stderr}"
    assert app_rows(uri) == world.app_rows
    assert_exactly_once(uri, staging, foreign=APP_ROWS)  # each batch whole, or not at all
    checked = m2pg("reconcile", "--pg-uri", uri, "--staging", str(staging))
    assert checked.returncode == 1, checked.stdout + checked.stderr  # whatever the counts, the load is unfinished
    assert "the last load into this target stopped before it finished" in said(checked), checked.stdout
    again = catch_up(world, uri, staging)
    assert again.returncode == 3, again.stdout + again.stderr
    assert "target equals the source" in said(again), again.stdout
    assert written(staging) == written(caught_up[1])  # the killed run's writes counted as the one run's
    assert said(again).split("run: ")[-1] == said(caught_up[2]).split("run: ")[-1]
    assert "someone else changed" not in again.stdout + again.stderr  # the killed run's writes are its own
    assert_same_rows(migrated_rows(uri), world.fresh)
    assert app_rows(uri) == world.app_rows
    assert catalog(uri) == catalog(world.before_db)  # no index or constraint lost on the way
    assert_exactly_once(uri, staging, complete=True, before=trial, foreign=APP_ROWS)


def test_sigkill_after_the_catch_ups_load_then_again_says_what_the_one_catch_up_wrote(
    world, pg_server, tmp_path, caught_up
):
    """Killed once its load has finished, before the run's reconcile and last line: reconcile
    passes (the load finished), and the run again says what one catch-up wrote, not that it had
    nothing to write (it said `run: nothing to write` and load.json counted every row unchanged)."""
    uri, staging = target_before_the_catch_up(world, pg_server, tmp_path, "killed_after_the_load")
    killed = catch_up(world, uri, staging, kill_at="run-loaded:1")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    checked = m2pg("reconcile", "--pg-uri", uri, "--staging", str(staging))
    assert checked.returncode == 3, checked.stdout + checked.stderr
    assert "stopped before it finished" not in said(checked), checked.stdout
    again = catch_up(world, uri, staging)
    assert again.returncode == 3, again.stdout + again.stderr
    assert written(staging) == written(caught_up[1])
    assert said(again).split("run: ")[-1] == said(caught_up[2]).split("run: ")[-1]
    assert_same_rows(migrated_rows(uri), world.fresh)
    assert app_rows(uri) == world.app_rows
    assert catch_up(world, uri, staging).returncode == 3  # that run ended: the next one is a new one
    assert written(staging)["all"][:4] == (0, 0, 0, 0)


def written(staging: Path) -> dict[str, tuple[int, ...]]:
    """Each table's rows inserted, updated, deleted (refused among them) and left unchanged, as the
    load's report counts them, and the totals."""
    report = read_json(staging / "reports" / "load.json")
    counts = ("inserted", "updated", "deleted", "deleted_refused", "unchanged")
    return {t["table"]: tuple(t[c] for c in counts) for t in report["tables"]} | {
        "all": tuple(report[c] for c in counts)
    }


def test_dry_run_plans_the_catch_up_and_touches_nothing(world, pg_server, tmp_path):
    uri, staging = target_before_the_catch_up(world, pg_server, tmp_path, "dry_run")
    untouched, ledger = whole_database(uri), ledger_rows(uri)
    planned = catch_up(world, uri, staging, "--dry-run")
    assert planned.returncode in (0, 3), planned.stdout + planned.stderr
    assert whole_database(uri) == untouched
    assert ledger_rows(uri) == ledger
    plan = read_json(staging / "reports" / "plan.json")
    expected = changes(world.before, world.fresh)
    by_table = {t["table"]: t for t in plan["tables"]}
    assert set(by_table) == set(KEYS)
    for table, counts in expected.items():
        assert [by_table[table][k] for k in ("insert", "update", "delete", "unchanged")] == [
            counts[k] for k in ("inserted", "updated", "deleted", "unchanged")
        ], table
    assert plan["quarantined"] == quarantine(world.fresh_staging).height
    now_refused = refused(world)
    assert {t: by_table[t]["delete_refused"] for t in now_refused} == now_refused
    assert f"({sum(now_refused.values())} of them refused by a rule now" in said(planned), planned.stdout
    held = quarantine(world.fresh_staging).height
    assert sum(by_table[m.table]["quarantined"] for m in MODELS) == held
    done = catch_up(world, uri, staging)  # what the dry run staged does not pass for a finished load
    assert done.returncode == 3, done.stdout + done.stderr
    assert_same_rows(migrated_rows(uri), world.fresh)


def test_a_run_after_the_catch_up_writes_nothing(world, caught_up):
    uri, staging, _ = caught_up
    again = catch_up(world, uri, staging)
    assert again.returncode == 3, again.stdout + again.stderr
    report = read_json(staging / "reports" / "load.json")
    assert (report["inserted"], report["updated"], report["deleted"]) == (0, 0, 0)
    assert report["unchanged"] == sum(len(rows) for rows in world.fresh.values())
    assert_same_rows(migrated_rows(uri), world.fresh)
    assert app_rows(uri) == world.app_rows


def test_rows_someone_changed_or_deleted_in_the_target_are_left_and_said_or_made_again_on_request(
    tmp_path, dump, pg_uri
):
    run = ("run", "--dump", str(dump), "--pg-uri", pg_uri, "--staging", str(tmp_path / "st"))
    first = m2pg(*run)
    assert first.returncode == 3, first.stdout + first.stderr
    migrated = migrated_rows(pg_uri)
    with psycopg.connect(pg_uri, autocommit=True) as conn:
        (account,) = conn.execute(
            """SELECT id FROM "crm_Accounts" a WHERE EXISTS (SELECT FROM "crm_Contacts" c WHERE c."accountsIDs" = a.id)
               AND EXISTS (SELECT FROM "DocumentsToAccounts" d WHERE d.account_id = a.id) ORDER BY id LIMIT 1"""
        ).fetchone()
        conn.execute('DELETE FROM "crm_Accounts" WHERE id = %s', [account])  # its contacts lose it, its pairs go
        conn.execute("""UPDATE "Tasks" SET title = 'edited' WHERE id = (SELECT id FROM "Tasks" ORDER BY id LIMIT 1)""")
        conn.execute(
            """DELETE FROM "BoardWatchers" WHERE (board_id, user_id) =
               (SELECT board_id, user_id FROM "BoardWatchers" ORDER BY 1, 2 LIMIT 1)"""
        )
        touched = {}  # rows of keys only, written over with the same values
        for table, key in (("AccountWatchers", "account_id"), ("ImageUpload", "id")):
            where = f'WHERE {key} = (SELECT {key} FROM "{table}" ORDER BY 1 LIMIT 1)'
            touched[table] = conn.execute(f'UPDATE "{table}" SET {key} = {key} {where}').rowcount
    edited = migrated_rows(pg_uri)
    tampered = changes(migrated, edited)
    assert tampered["crm_Contacts"]["updated"] and tampered["DocumentsToAccounts"]["deleted"], tampered
    assert all(touched.values()) and not any(tampered[t]["updated"] for t in touched)
    count = sum(c["updated"] + c["deleted"] for c in tampered.values()) + sum(touched.values())

    planned = m2pg(*run, "--dry-run")  # a production target the app now writes to: nothing is taken back
    assert f"plan: {count} rows m2pg wrote were changed or deleted" in said(planned), planned.stdout
    assert planned.returncode == 1, planned.stdout + planned.stderr  # as the run's: a gate sees it (was 3)
    left = m2pg(*run)
    assert left.returncode == 1, left.stdout + left.stderr
    assert f"the target does NOT equal the source: {count} rows m2pg wrote" in said(left), left.stdout
    assert 'load: "Tasks": 1 row m2pg wrote was changed or deleted' in left.stdout + left.stderr
    assert_same_rows(migrated_rows(pg_uri), edited)

    again = m2pg(*run, "--overwrite-changed")
    assert again.returncode == 3, again.stdout + again.stderr
    assert 'load: "Tasks": 1 row m2pg wrote was changed or deleted' in again.stdout + again.stderr
    assert_same_rows(migrated_rows(pg_uri), migrated)
    report = {t["table"]: t for t in read_json(tmp_path / "st" / "reports" / "load.json")["tables"]}
    for table, counts in tampered.items():  # written again: exactly what was changed or deleted
        updated = counts["updated"] + touched.get(table, 0)
        written = {"inserted": counts["deleted"], "updated": updated, "deleted": counts["inserted"]}
        assert {k: report[table][k] for k in written} == written, table
    assert m2pg(*run).returncode == 3  # and then equal: nothing left
