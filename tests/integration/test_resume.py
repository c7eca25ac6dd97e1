"""Stop a real `m2pg` process anywhere (Ctrl+C, SIGKILL), resume, and end with the same database."""

import shutil
import signal

import polars as pl
import psycopg
import pytest
from bson import ObjectId
from pymongo import MongoClient

from exactly_once import assert_exactly_once
from processes import ctrl_c_when, m2pg
from toolkit.documents.ids import uuid_for
from toolkit.generate import sample as generate
from toolkit.runtime.servers import embedded_mongo
from transforms import APP, JUNCTIONS, MODELS

DB = "nextcrm"
BATCH = "200"  # many parts and batches, so there are many places to stop at
TABLES = [m.table for m in MODELS] + [j.table for j in JUNCTIONS]


def snapshot(uri: str) -> dict[str, list[tuple]]:
    """Every table's rows as text, sorted: equal snapshots mean equal databases."""
    with psycopg.connect(uri) as conn:
        return {t: sorted(conn.execute(f'SELECT t::text FROM "{t}" t').fetchall()) for t in TABLES}


@pytest.fixture(scope="module")
def expected(pg_server, dump, tmp_path_factory):
    """The database an uninterrupted run leaves."""
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE uninterrupted")
    uri = pg_server.get_uri("uninterrupted")
    done = m2pg(
        "run",
        "--dump",
        str(dump),
        "--pg-uri",
        uri,
        "--staging",
        str(tmp_path_factory.mktemp("staging")),
        "--part-size",
        BATCH,
        "--batch-size",
        BATCH,
    )
    assert done.returncode == 3, done.stderr
    return snapshot(uri)


@pytest.mark.parametrize(
    "point",
    [
        "extract-part:1",
        "extract-part:17",
        "transform-part:1",
        "transform-part:20",
        "load-copy:1",
        "load-copy:25",
        "load-batch:40",
    ],
)
def test_sigkill_then_resume_equals_an_uninterrupted_run(point, dump, pg_uri, tmp_path, expected):
    args = (
        "run",
        "--dump",
        str(dump),
        "--pg-uri",
        pg_uri,
        "--staging",
        str(tmp_path),
        "--part-size",
        BATCH,
        "--batch-size",
        BATCH,
    )
    killed = m2pg(*args, kill_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert_exactly_once(pg_uri, tmp_path)
    resumed = m2pg(*args)
    assert resumed.returncode == 3, resumed.stdout + resumed.stderr
    assert "no orphans" in resumed.stdout
    assert snapshot(pg_uri) == expected
    ledger = assert_exactly_once(pg_uri, tmp_path, complete=True, before={})  # the killed load's writes too
    again = m2pg(*args)
    assert again.returncode == 3 and "0 rows inserted" in again.stdout, again.stdout
    assert snapshot(pg_uri) == expected
    assert_exactly_once(pg_uri, tmp_path, complete=True, before=ledger)


def test_resuming_costs_only_the_unfinished_work(dump, pg_uri, tmp_path, expected):
    args = ("--staging", str(tmp_path), "--batch-size", BATCH)
    assert m2pg("extract", "--dump", str(dump), *args, kill_at="extract-part:30").returncode == -signal.SIGKILL
    resumed = m2pg("extract", "--dump", str(dump), *args)
    assert resumed.returncode == 0, resumed.stderr
    said = " ".join(resumed.stdout.split())  # the summary line may wrap where paths are long
    kept = int(said.split("parts kept from the interrupted run ")[1].split()[0])
    assert kept >= 29
    assert m2pg("transform", "--staging", str(tmp_path), kill_at="transform-part:10").returncode == -signal.SIGKILL
    transformed = m2pg("transform", "--staging", str(tmp_path))
    assert transformed.returncode == 3 and "parts skipped (unchanged) 9" in transformed.stdout, transformed.stdout


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["ctrl-c", "sigterm", "sighup"])
def test_ctrl_c_saves_a_checkpoint_and_resumes(dump, pg_uri, tmp_path, expected, sent):
    """SIGTERM (`timeout`, systemd, Kubernetes) and SIGHUP (an SSH session dropping) stop as
    Ctrl+C does: they killed the command at once."""
    args = [
        "run",
        "--dump",
        str(dump),
        "--pg-uri",
        pg_uri,
        "--staging",
        str(tmp_path),
        "--part-size",
        "50",
        "--batch-size",
        "50",
    ]
    code, output = ctrl_c_when(args, tmp_path / "raw", "*/manifest.json", 9, sent)  # about 30% of the collections
    assert code == 130, output
    assert "Checkpoint saved" in output and "re-run the same command to resume" in output.lower()
    assert_exactly_once(pg_uri, tmp_path)
    resumed = m2pg(*args)
    assert resumed.returncode == 3, resumed.stderr
    assert snapshot(pg_uri) == expected
    assert_exactly_once(pg_uri, tmp_path, complete=True, before={})  # the stopped load's writes too


def test_ctrl_c_during_reconcile_stops_it_and_the_run_resumes(dump, pg_uri, tmp_path, expected):
    """Ctrl+C once the load was done: reconcile ran every count to its end and the run exited 0
    or 3 after saying "Stopping after the batch in flight"; now it stops at the next table or key
    checked, writes no report, and exits 130."""
    args = ["run", "--dump", str(dump), "--pg-uri", pg_uri, "--staging", str(tmp_path)]
    code, output = ctrl_c_when(args, tmp_path / "reports", "load.json")
    assert code == 130, output
    assert "Checkpoint saved (reconcile: " in " ".join(output.split()), output
    assert not (tmp_path / "reports" / "reconcile.json").exists()
    resumed = m2pg(*args)
    assert resumed.returncode == 3, resumed.stderr
    assert (tmp_path / "reports" / "reconcile.json").exists()
    assert snapshot(pg_uri) == expected


def test_fixed_records_migrate_on_rerun_without_duplicates(tmp_path, pg_uri):
    dataset = generate.demo_dataset(APP, 7)
    fixes = {
        ("Users", "enum"): ("userStatus", "ACTIVE"),
        ("crm_Contracts", "enum"): ("status", "SIGNED"),
        ("Employees", "int_range"): ("salary", 52_000),
        ("Tasks", "type"): ("position", 3),
    }
    broken = [(c, d, fixes[c, rule]) for c, d, rule in generate.bad_records(APP, 7) if (c, rule) in fixes]
    assert len(broken) == len(fixes)
    with embedded_mongo(tmp_path / "mongo") as uri:
        generate.write_mongo(uri, DB, dataset)
        args = ("run", "--mongo-uri", uri, "--mongo-db", DB, "--pg-uri", pg_uri, "--staging", str(tmp_path / "st"))
        assert m2pg(*args).returncode == 3
        before = {t: len(rows) for t, rows in snapshot(pg_uri).items()}
        database = MongoClient(uri)[DB]
        for collection, document, (field, value) in broken:
            assert database[collection].update_one({"_id": document["_id"]}, {"$set": {field: value}}).modified_count
        rerun = m2pg(*args)
        assert rerun.returncode == 3, rerun.stderr
    after = snapshot(pg_uri)
    for table in TABLES:
        fixed = sum(1 for c, _, _ in broken if c == table)
        assert len(after[table]) == before[table] + fixed, table
        assert len(set(after[table])) == len(after[table])
    with psycopg.connect(pg_uri) as conn:
        for collection, document, _ in broken:
            assert (
                conn.execute(
                    f'SELECT count(*) FROM "{collection}" WHERE id = %s', (uuid_for(str(document["_id"])),)
                ).fetchone()[0]
                == 1
            )
    quarantined = {str(d["_id"]) for c, d, _ in generate.bad_records(APP, 7) if isinstance(d["_id"], ObjectId)}
    still = pl.read_parquet(sorted((tmp_path / "st" / "quarantine").glob("*/part-*.parquet")))["object_id"]
    assert set(still.drop_nulls()) == quarantined - {str(d["_id"]) for _, d, _ in broken}


def test_status_shows_done_and_left_and_reset_starts_over(dump, tmp_path):
    staging = str(tmp_path / "st")
    assert (
        m2pg(
            "extract", "--dump", str(dump), "--staging", staging, "--batch-size", BATCH, kill_at="extract-part:2"
        ).returncode
        == -signal.SIGKILL
    )  # inside Users
    status = m2pg("status", "--staging", staging)
    assert status.returncode == 0
    assert "(interrupted)" in status.stdout and "not finished" in status.stdout
    refused = m2pg("reset", "--staging", staging)  # no terminal, no --yes: nothing is removed
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert (tmp_path / "st" / "raw").exists()
    assert m2pg("reset", "--stage", "extract", "--staging", staging, "--yes").returncode == 0
    assert not (tmp_path / "st" / "raw").exists()
    again = m2pg("extract", "--dump", str(dump), "--staging", staging, "--batch-size", BATCH)
    assert again.returncode == 0 and "parts kept from the interrupted run 0" in " ".join(again.stdout.split())


def test_status_counts_only_the_transformed_parts_of_the_extract_staged_now(dump, tmp_path):
    """A catch-up killed in its extract, which staged fewer parts of a collection than the trial:
    status said "6 of 5" parts transformed, setting the trial's transform against the new extract."""
    staging = str(tmp_path / "st")
    assert m2pg("extract", "--dump", str(dump), "--staging", staging, "--part-size", "5").returncode == 0
    assert m2pg("transform", "--staging", staging).returncode == 3
    assert m2pg("extract", "--dump", str(dump), "--staging", staging, "--part-size", "1000").returncode == 0
    lines = [line.split("│") for line in m2pg("status", "--staging", staging).stdout.splitlines() if "│" in line]
    done = [cells[4].split(" of ") for cells in lines if " of " in cells[4]]
    assert done and all(int(d) <= int(t) for d, t in done), lines


def test_status_names_a_collection_absent_from_the_source(dump, tmp_path):
    """A collection the dump lacks showed as "0" extracted, like an empty one, and "1 of 1"
    transformed: status did not say the source has no such collection, as the extract's table does."""
    source = tmp_path / "dump"
    shutil.copytree(dump, source)
    for lost in (source / "nextcrm").glob("gpt_models.*"):
        lost.unlink()
    staging = str(tmp_path / "st")
    assert m2pg("extract", "--dump", str(source), "--staging", staging).returncode == 0
    lines = {line.split()[1]: line for line in m2pg("status", "--staging", staging).stdout.splitlines() if "│" in line}
    assert "0 (absent from the source)" in lines["gpt_models"], lines["gpt_models"]
    assert not [name for name, line in lines.items() if "absent" in line and name != "gpt_models"], lines


def test_errors_summarises_the_quarantine_and_logs_every_record(dump, tmp_path):
    staging = str(tmp_path / "st")
    assert m2pg("extract", "--dump", str(dump), "--staging", staging).returncode == 0
    assert m2pg("transform", "--staging", staging).returncode == 3
    summary = m2pg("errors", "--staging", staging)
    assert summary.returncode == 3
    for rule in ("required", "enum", "type", "int_range", "nul", "id_type", "reference", "quarantined_reference"):
        assert rule in summary.stdout
    log = (tmp_path / "st" / "reports" / "errors.log").read_text()
    for _collection, document, rule in generate.bad_records(APP, 7):
        assert (str(document["_id"]) in log) and rule in log


@pytest.mark.parametrize(
    ("command", "point"),
    [(("load", "--replace"), "load-copy:3"), (("reset", "--stage", "load", "--yes"), "target-ready:1")],
    ids=["load-replace", "reset-load"],
)
def test_a_load_stopped_halfway_leaves_no_report_of_the_target_before_it(dump, pg_uri, tmp_path, command, point):
    """`m2pg load --replace` killed halfway left the previous load's load.json, reconcile.json and
    verify.json: `m2pg status` said "load last finished", and the HTML report "rows loaded 19,579"
    and "reconciliation ok" of a target that held 2,059 rows. `reset --stage load` killed once it
    had emptied the tables left them too (it removed them after)."""
    staging = tmp_path / "staging"
    common = ["--pg-uri", pg_uri, "--staging", str(staging), "--batch-size", BATCH]
    first = m2pg("run", "--dump", str(dump), *common)
    assert first.returncode == 3, first.stdout + first.stderr
    reports = staging / "reports"
    assert (reports / "load.json").exists() and (reports / "reconcile.json").exists()
    killed = m2pg(*command, *common[:4], kill_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert not [name for name in ("load.json", "reconcile.json") if (reports / name).exists()]
    status = m2pg("status", "--pg-uri", pg_uri, "--staging", str(staging))
    assert "load       not finished" in status.stdout and "reconcile  not finished" in status.stdout, status.stdout
    again = m2pg("run", "--dump", str(dump), *common)
    assert again.returncode == 3 and "the target equals the source" in again.stdout, again.stdout + again.stderr
    assert (reports / "load.json").exists() and (reports / "reconcile.json").exists()


def a_row_before_its_parent(uri: str) -> tuple[str, str, str, str] | None:
    """(child table, child id, parent table, parent id) of a row a bulk load wrote before its
    parent (its foreign keys dropped meanwhile), or None."""
    tables = {m.name: m.table for m in MODELS}
    with psycopg.connect(uri) as conn:
        for model in sorted(MODELS, key=lambda m: m.table != "Tasks"):  # Tasks first: the case first seen
            for field in model.references:
                parent = tables[field.references.model]
                found = conn.execute(
                    f'SELECT c.id::text, c."{field.name}"::text FROM "{model.table}" c WHERE NOT EXISTS '
                    f'(SELECT FROM "{parent}" p WHERE p.id = c."{field.name}") AND c."{field.name}" IS NOT NULL LIMIT 1'
                ).fetchone()
                if found:
                    return model.table, found[0], parent, found[1]
    return None


def test_a_load_killed_before_the_parents_then_both_documents_deleted_resumes(pg_server, tmp_path):
    """Killed with rows of a child written before their parents', then the child's and the
    parent's documents deleted in the source: the re-run must delete the child's row before it
    restores the child's foreign keys, which PostgreSQL refuses while the row names the parent.
    Whether the restore came first depended on which jobs finished when (tests/test_load_schedule.py
    pins the order); this is the whole path, from the kill to a database equal to a fresh one."""
    dataset = generate.demo_dataset(APP, 7)
    generate.write_dump(tmp_path / "before", DB, dataset)
    uris = {}
    for name in ("killed_early", "fresh_after"):
        with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        uris[name] = pg_server.get_uri(name)
    sizes = ("--part-size", BATCH, "--batch-size", "50")
    args = ("--pg-uri", uris["killed_early"], "--staging", str(tmp_path / "st"), *sizes)
    killed = m2pg("run", "--dump", str(tmp_path / "before"), *args, kill_at="load-batch:40")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    found = a_row_before_its_parent(uris["killed_early"])
    assert found is not None, "the largest tables, children, load first: one of their rows must name a missing parent"
    child, child_id, parent, parent_id = found
    sources = {m.table: m.source for m in MODELS}
    gone = {(sources[child], child_id), (sources[parent], parent_id)}

    def kept(collection: str, document: dict) -> bool:
        return not isinstance(document["_id"], ObjectId) or (collection, uuid_for(str(document["_id"]))) not in gone

    after = {c: [d for d in docs if kept(c, d)] for c, docs in dataset.items()}
    assert sum(map(len, dataset.values())) - sum(map(len, after.values())) == 2
    generate.write_dump(tmp_path / "after", DB, after)
    resumed = m2pg("run", "--dump", str(tmp_path / "after"), *args)
    assert resumed.returncode == 3, resumed.stdout + resumed.stderr
    fresh = ("--pg-uri", uris["fresh_after"], "--staging", str(tmp_path / "fresh"), *sizes)
    assert m2pg("run", "--dump", str(tmp_path / "after"), *fresh).returncode == 3
    assert snapshot(uris["killed_early"]) == snapshot(uris["fresh_after"])
