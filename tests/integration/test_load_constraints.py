"""Foreign keys deferred during a bulk load: dropped and stored in one transaction, restored
after, whatever moment a SIGKILL picks; kept when the target holds rows of its own."""

import json
import signal
import subprocess
from pathlib import Path

import psycopg
import pytest

from exactly_once import assert_exactly_once, ledger, staged
from processes import ctrl_c_once, m2pg
from toolkit.generate import sample as generate
from toolkit.stages.load import checking, connect, parents
from toolkit.target import schema
from toolkit.target.preflight import only_writer
from transforms import APP, JUNCTIONS, MODELS

BATCH = "200"  # many batches, so there are many places to stop at
TABLES = [m.table for m in MODELS] + [j.table for j in JUNCTIONS]
CATALOG = json.loads((Path(__file__).parents[1] / "data" / "target-catalog.json").read_text())
FOREIGN_KEYS = {
    (table, c["name"]): c["definition"]
    for table, t in CATALOG["tables"].items()
    for c in t["constraints"]
    if c["kind"] == "foreign key"
}
ORPHAN = "INSERT INTO \"DocumentsToTasks\" VALUES (md5('no document')::uuid, md5('no task')::uuid)"
ORPHAN_KEYS = {
    ("DocumentsToTasks", "DocumentsToTasks_document_id_fkey"),
    ("DocumentsToTasks", "DocumentsToTasks_task_id_fkey"),
}


def sql(uri: str, statement: str) -> list[tuple]:
    with psycopg.connect(uri, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def snapshot(uri: str) -> dict[str, list[tuple]]:
    """Every table's rows as text, sorted: equal snapshots mean equal databases."""
    return {t: sorted(sql(uri, f'SELECT t::text FROM "{t}" t')) for t in TABLES}


def live_foreign_keys(uri: str) -> dict[tuple[str, str], str]:
    """(table, name) -> definition, as read_catalog shows them ("... NOT VALID" if unchecked)."""
    return {
        (table, c["name"]): c["definition"]
        for table, t in schema.read_catalog(uri)["tables"].items()
        for c in t["constraints"]
        if c["kind"] == "foreign key"
    }


def stored(uri: str) -> set[tuple[str, str]]:
    return set(sql(uri, "SELECT table_name, name FROM m2pg.deferred_constraints"))


def owned_without_key(uri: str) -> set[str]:
    """The tables whose owned rows' table has no primary key (a bulk load drops it while it writes)."""
    rows = sql(
        uri,
        """SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'm2pg'::regnamespace AND c.relkind = 'r'
           AND c.relname LIKE 'owned%' AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = c.oid
           AND k.contype = 'p')""",
    )
    return {name.removeprefix("owned_") for (name,) in rows}


def restored_count(staging: Path) -> int:
    return json.loads((staging / "reports" / "load.json").read_text())["foreign_keys_restored"]


@pytest.fixture(scope="module")
def staging(tmp_path_factory) -> Path:
    """Extracted, transformed and validated once; each test loads it into a new database."""
    dump, folder = tmp_path_factory.mktemp("dump"), tmp_path_factory.mktemp("staging")
    generate.write_dump(dump, "nextcrm", generate.demo_dataset(APP, 7))
    assert m2pg("extract", "--dump", str(dump), "--staging", str(folder), "--batch-size", BATCH).returncode == 0
    assert m2pg("transform", "--staging", str(folder)).returncode == 3  # the demo has bad records
    assert m2pg("validate", "--staging", str(folder)).returncode == 3
    return folder


@pytest.fixture
def target(pg_uri) -> str:
    schema.create_schema(pg_uri, APP.models, APP.junctions, APP.enums)
    return pg_uri


@pytest.fixture(scope="module")
def expected(pg_server, staging) -> dict:
    """The database an uninterrupted load into a fresh target leaves."""
    sql(pg_server.get_uri(), "CREATE DATABASE uninterrupted")
    uri = pg_server.get_uri("uninterrupted")
    schema.create_schema(uri, APP.models, APP.junctions, APP.enums)
    done = m2pg("load", "--staging", str(staging), "--pg-uri", uri, "--batch-size", BATCH)
    assert done.returncode == 3, done.stderr
    assert restored_count(staging) == len(FOREIGN_KEYS)
    return snapshot(uri)


def load(staging: Path, uri: str, *extra: str, kill_at: str | None = None) -> subprocess.CompletedProcess:
    return m2pg("load", "--staging", str(staging), "--pg-uri", uri, "--batch-size", BATCH, *extra, kill_at=kill_at)


def status(staging: Path, uri: str) -> str:
    """What `m2pg status --pg-uri` says, its lines joined as one."""
    done = m2pg("status", "--staging", str(staging), "--pg-uri", uri)
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())


def assert_complete(uri: str, expected: dict) -> None:
    assert snapshot(uri) == expected
    assert live_foreign_keys(uri) == FOREIGN_KEYS
    assert stored(uri) == set()
    assert owned_without_key(uri) == set()
    owned = sql(uri, "SELECT count(*) FROM pg_tables WHERE schemaname = 'm2pg' AND tablename LIKE 'owned%'")
    assert owned == [(len(TABLES),)]  # and owned_without_key found none of them without its key


def test_a_deferred_load_ends_with_exactly_the_catalogs_foreign_keys(staging, target, expected):
    done = load(staging, target)
    assert done.returncode == 3, done.stderr
    assert restored_count(staging) == len(FOREIGN_KEYS) == 52
    assert_complete(target, expected)
    ledger = assert_exactly_once(target, staging, complete=True, before={})
    again = load(staging, target)  # a no-op: nothing to load, nothing deferred
    assert again.returncode == 3 and "0 rows inserted" in again.stdout, again.stdout + again.stderr
    assert restored_count(staging) == 0
    assert_complete(target, expected)
    assert_exactly_once(target, staging, complete=True, before=ledger)


KILLS = [  # (SIGKILL at, foreign keys still stored afterwards: (fewest, most))
    ("load-copy:1", (52, 52)),  # in the first batch's transaction, keys dropped
    ("load-copy:25", (52, 52)),  # mid-load: no key goes back before every table is loaded
    # restored ones; the other connection may commit one more before the kill lands
    ("load-restore:1", (50, 51)),
    ("load-restore:3", (48, 49)),
]


@pytest.mark.parametrize(("point", "left"), KILLS, ids=[k for k, _ in KILLS])
def test_sigkill_then_resume_restores_every_foreign_key(point, left, staging, target, expected):
    killed = load(staging, target, kill_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert_exactly_once(target, staging)
    pending = stored(target)
    assert left[0] <= len(pending) <= left[1]
    live = live_foreign_keys(target)
    if point.startswith("load-copy:1"):
        assert live == {}  # dropped and stored in one transaction: nothing else is possible
    else:  # each key restored, or stored (and perhaps added back NOT VALID by then)
        assert set(live) | pending == set(FOREIGN_KEYS)
        assert {k for k, d in live.items() if d.endswith(" NOT VALID")} <= pending
        assert not {k for k, d in live.items() if not d.endswith(" NOT VALID")} & pending
    if point.startswith("load-copy"):
        assert owned_without_key(target)  # the table being written when the kill came: its bulk load dropped it
    said = " ".join(status(staging, target).split())
    if point.startswith("load-copy"):  # and its plain indexes, kept as the target defined them
        assert "set aside in m2pg.set_aside_indexes, not yet built again" in said, said
        assert "run `m2pg load` to build them" in said, said
    assert f"{len(pending)} foreign keys are stored in m2pg.deferred_constraints, not yet restored" in said, said
    assert "run `m2pg load` to restore them" in said and "writing to the target now" not in said, said
    assert "stopped before it finished: run `m2pg load` (or `m2pg run`) to finish it" in said, said
    with only_writer(target, "load"):  # a load running now holds the target's writer lock: not one that stopped
        said = " ".join(status(staging, target).split())
    assert "an m2pg command is writing to the target now (PostgreSQL session" in said, said
    assert "the running load puts them back" in said and "run `m2pg load`" not in said, said
    resumed = load(staging, target)
    assert resumed.returncode == 3, resumed.stdout + resumed.stderr
    assert restored_count(staging) == len(pending)
    assert_complete(target, expected)
    ledger = assert_exactly_once(target, staging, complete=True, before={})  # the killed load's writes too
    said = status(staging, target)
    assert "foreign keys: none waiting to be restored" in said and "set aside" not in said, said
    assert "stopped before it finished" not in said, said
    again = load(staging, target)
    assert again.returncode == 3 and "0 rows inserted" in again.stdout, again.stdout + again.stderr
    assert_complete(target, expected)
    assert_exactly_once(target, staging, complete=True, before=ledger)


def test_ctrl_c_during_the_load_then_resume_loads_each_row_once(staging, target, expected):
    def some_batches_loaded() -> bool:
        return sum(t["batches"] for t in ledger(target).values()) >= 10

    code, output = ctrl_c_once(
        ["load", "--staging", str(staging), "--pg-uri", target, "--batch-size", BATCH], some_batches_loaded
    )
    assert code == 130, output
    assert "Checkpoint saved" in output
    recorded = assert_exactly_once(target, staging)
    assert sum(t["rows"] for t in recorded.values()) < sum(staged(staging).values())  # stopped part-way
    resumed = load(staging, target)
    assert resumed.returncode == 3, resumed.stdout + resumed.stderr
    assert_complete(target, expected)
    assert_exactly_once(target, staging, complete=True, before={})  # the stopped load's writes too


def test_a_target_holding_a_foreign_row_keeps_its_foreign_keys(staging, target, expected):
    sql(target, """INSERT INTO "crm_Industry_Type" (id, __v, name) VALUES (md5('theirs')::uuid, 0, 'Theirs')""")
    killed = load(staging, target, kill_at="load-copy:25")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert live_foreign_keys(target) == FOREIGN_KEYS and stored(target) == set()  # mid-load, not deferred
    theirs = {"crm_Industry_Type": 1}
    assert_exactly_once(target, staging, foreign=theirs)
    resumed = load(staging, target)
    assert resumed.returncode == 3, resumed.stdout + resumed.stderr
    assert restored_count(staging) == 0
    assert_exactly_once(target, staging, complete=True, before={}, foreign=theirs)
    sql(target, """DELETE FROM "crm_Industry_Type" WHERE id = md5('theirs')::uuid""")
    assert_complete(target, expected)


def test_an_orphan_written_while_deferred_fails_the_load_until_fixed(staging, target, expected):
    assert load(staging, target, kill_at="load-copy:25").returncode == -signal.SIGKILL
    assert_exactly_once(target, staging)
    sql(target, ORPHAN)  # a foreign writer, while the foreign keys are dropped
    failed = load(staging, target)
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert_exactly_once(target, staging, complete=True, foreign={"DocumentsToTasks": 1})
    assert "2 of 52 foreign keys could not be restored" in failed.stderr
    for _, name in ORPHAN_KEYS:
        assert f'"DocumentsToTasks"."{name}"' in failed.stderr
    assert "is not present in table" in failed.stderr  # PostgreSQL's own message
    assert stored(target) == ORPHAN_KEYS
    live = live_foreign_keys(target)
    assert {k for k, d in live.items() if d.endswith(" NOT VALID")} == ORPHAN_KEYS
    assert {k: d for k, d in live.items() if k not in ORPHAN_KEYS} == {
        k: d for k, d in FOREIGN_KEYS.items() if k not in ORPHAN_KEYS
    }
    sql(target, """DELETE FROM "DocumentsToTasks" WHERE document_id = md5('no document')::uuid""")
    fixed = load(staging, target)  # it finishes the load the kill stopped: its report counts all three
    assert fixed.returncode == 3, fixed.stdout + fixed.stderr
    assert restored_count(staging) == 2
    assert_complete(target, expected)
    assert_exactly_once(target, staging, complete=True, before={})


@pytest.mark.parametrize("before", [None, "load-copy:25", "load-restore:2"])
def test_replace_empties_the_tables_and_restores_every_foreign_key(before, staging, target, expected):
    first = load(staging, target, kill_at=before)
    assert first.returncode == (-signal.SIGKILL if before else 3), first.stdout + first.stderr
    assert_exactly_once(target, staging, complete=before is None)
    replaced = load(staging, target, "--replace")
    assert replaced.returncode == 3, replaced.stdout + replaced.stderr
    assert restored_count(staging) == 52
    assert_complete(target, expected)
    assert_exactly_once(target, staging, complete=True, before={})  # --replace empties the ledger too


def test_a_table_waits_for_the_parents_its_live_foreign_keys_check(target):
    """What the load's schedule reads: every declared parent while the keys are live, none once
    a bulk load has dropped them, and the one a key put back points to."""
    needs = {t: p for t, p in parents(MODELS, JUNCTIONS).items() if p}
    with connect(target) as conn:
        assert checking(conn, TABLES) == needs
        for table, name in FOREIGN_KEYS:
            sql(target, f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        assert checking(conn, TABLES) == {}
        sql(
            target,
            next(
                f'ALTER TABLE "{t}" ADD CONSTRAINT "{n}" {d}'
                for (t, n), d in FOREIGN_KEYS.items()
                if t == "crm_Contacts" and "crm_Accounts" in d
            ),
        )
        assert checking(conn, TABLES) == {"crm_Contacts": {"crm_Accounts"}}
