"""A wrong or partial source never passes for a migration, mistakes are one line with no password,
a stage run out of order or on a wrong folder says what to run, and one staging folder serves one
command at a time. Each case checks the exit code, the one line, and that nothing changed where
nothing should have."""

import json
import os
import subprocess
from pathlib import Path
from urllib.parse import quote

import bson
import polars as pl
import psycopg
import pytest
from bson import ObjectId
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

from processes import M2PG, environment, m2pg
from toolkit.generate import sample as generate
from toolkit.runtime import redact
from toolkit.staging import lock
from toolkit.staging.layout import write_json
from toolkit.target import schema
from transforms import APP, JUNCTIONS, MODELS

DB = "nextcrm"
PASSWORD = "Wolf@Moon:Star%Sun"  # every character a URI parser trips on
PIECES = (PASSWORD, quote(PASSWORD, safe=""), "Wolf", "Moon", "Star%Sun", "Star%25Sun")
TABLES = [m.table for m in MODELS] + [j.table for j in JUNCTIONS]


@pytest.fixture(scope="module")
def partial_dump(tmp_path_factory, dataset):
    """The demo dataset without Users, with an undeclared collection and an undeclared field."""
    data = {c: [dict(d) for d in docs] for c, docs in dataset.items() if c != "Users"}
    data["audit_log"] = [{"_id": ObjectId(), "event": "login"} for _ in range(5)]
    for document in data["crm_Accounts"][:4]:
        document["legacyCode"] = "L-1"
    folder = tmp_path_factory.mktemp("partial")
    generate.write_dump(folder, DB, data)
    return folder


def one_line(done: subprocess.CompletedProcess, code: int) -> str:
    """The one line a command printed on standard error, after checking its exit code; never a
    traceback, never a piece of the password."""
    output = done.stdout + done.stderr
    assert done.returncode == code, output
    assert "Traceback" not in output, output
    assert not [p for p in PIECES if p in output], output
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def files(folder: Path) -> dict:
    """Every file under the folder with its size and time: what a command must leave alone."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def target_state(uri: str) -> tuple:
    """The catalog and every table's row count."""
    catalog = schema.read_catalog(uri)
    with psycopg.connect(uri) as conn:
        counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in catalog["tables"]}
    return catalog, counts


def target_rows(uri: str) -> dict[str, str]:
    """Every app table's rows, as one digest a table: another source's rows of the same counts differ."""
    with psycopg.connect(uri) as conn:
        return {
            t: conn.execute(
                f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{t}\" t"
            ).fetchone()[0]
            for t in TABLES
        }


def with_password(uri: str, password: str) -> str:
    """The URI with user `m2pg` and this password put in as given (not encoded)."""
    scheme, rest = uri.split("://", 1)
    return f"{scheme}://m2pg:{password}@{rest.split('@')[-1]}"


# --- no false success from the source ------------------------------------------------------


def test_a_mistyped_mongo_db_stops_run_before_the_target_or_staging_is_touched(tmp_path, mongo_uri, pg_uri):
    staging = tmp_path / "st"
    before = target_state(pg_uri)
    line = one_line(
        m2pg("run", "--mongo-uri", mongo_uri, "--mongo-db", "nextcmr", "--pg-uri", pg_uri, "--staging", str(staging)), 2
    )
    assert "nextcmr" in line and "none of the 29 collections" in line and DB in line, line
    assert "--mongo-db" in line
    assert not staging.exists()
    assert target_state(pg_uri) == before
    done = m2pg(
        "verify", "--mongo-uri", mongo_uri, "--mongo-db", "nextcmr", "--pg-uri", pg_uri, "--staging", str(staging)
    )
    assert "none of the 29 collections" in one_line(done, 2)


def test_a_dump_of_another_database_lists_its_files(tmp_path, partial_dump):
    other = tmp_path / "dump" / "other"
    other.mkdir(parents=True)
    (other / "audit_log.bson").write_bytes((partial_dump / DB / "audit_log.bson").read_bytes())
    line = one_line(m2pg("extract", "--dump", str(tmp_path / "dump"), "--staging", str(tmp_path / "st")), 2)
    assert "none of the 29 collections" in line and "audit_log" in line, line
    assert not (tmp_path / "st").exists()


def test_a_mongo_db_that_a_one_database_dump_would_ignore_is_an_error(tmp_path, dump):
    line = one_line(m2pg("extract", "--dump", str(dump), "--mongo-db", "nextcmr", "--staging", str(tmp_path / "st")), 2)
    assert "--mongo-db nextcmr" in line and DB in line, line
    assert not (tmp_path / "st").exists()


def test_a_source_of_empty_collections_is_no_success(tmp_path, pg_uri):
    empty = tmp_path / "dump"
    generate.write_dump(empty, DB, {m.source: [] for m in MODELS})
    done = m2pg("run", "--dump", str(empty), "--pg-uri", pg_uri, "--staging", str(tmp_path / "st"))
    assert "no document" in one_line(done, 2)
    assert "nothing changed" not in done.stdout and "every document is loaded" not in done.stdout


def test_what_the_source_lacks_or_adds_is_reported_everywhere(tmp_path, partial_dump, pg_uri):
    staging = tmp_path / "st"
    extracted = m2pg("extract", "--dump", str(partial_dump), "--staging", str(staging))
    assert extracted.returncode == 0, extracted.stderr
    said = " ".join(extracted.stdout.split())
    assert "collection Users is declared but absent from the source" in said, said
    assert "collection audit_log (5 documents" in said and "crm_Accounts.legacyCode (4 documents" in said
    found = json.loads((staging / "reports" / "extract.json").read_text())["not_migrated"]
    assert found["absent_collections"] == ["Users"]
    assert [(c["collection"], c["documents"], len(c["sample_ids"])) for c in found["undeclared_collections"]] == [
        ("audit_log", 5, 3)
    ]
    assert [
        (f["collection"], f["documents"], len(f["sample_ids"]))
        for f in found["unknown_fields"]
        if f["field"] == "legacyCode"
    ] == [("crm_Accounts", 4, 3)]
    assert json.loads((staging / "raw" / "Users" / "manifest.json").read_text())["absent"] is True

    assert m2pg("transform", "--staging", str(staging)).returncode == 3
    refused = pl.read_parquet(sorted((staging / "quarantine").glob("*/part-*.parquet")))
    to_users = refused.filter(pl.col("rule") == "reference", pl.col("reason").str.contains(": Users "))
    assert to_users.height and to_users["reason"].str.contains("the source holds no Users collection").all()

    log = (staging / "reports" / "errors.log").read_text()
    assert "## Not migrated:" in log and "Users is declared but absent" in log
    assert "collection audit_log (5 documents" in log and "crm_Accounts.legacyCode (4 documents" in log
    errors = m2pg("errors", "--staging", str(staging))
    assert "Users is declared but absent" in " ".join(errors.stdout.split())
    assert "legacyCode" in errors.stdout and "audit_log" in errors.stdout
    assert m2pg("report", "--staging", str(staging)).returncode == 0
    page = (staging / "reports" / "report.html").read_text()
    assert "Not migrated (warnings)" in page and "legacyCode" in page and "audit_log" in page

    assert m2pg("validate", "--staging", str(staging)).returncode == 3
    assert m2pg("schema", "--pg-uri", pg_uri).returncode == 0
    assert m2pg("load", "--pg-uri", pg_uri, "--staging", str(staging)).returncode == 3
    verified = m2pg("verify", "--dump", str(partial_dump), "--pg-uri", pg_uri, "--staging", str(staging))
    assert "legacyCode" in verified.stdout and "audit_log" in verified.stdout, verified.stdout + verified.stderr
    report = json.loads((staging / "reports" / "verify.json").read_text())
    assert report["not_migrated"]["absent_collections"] == ["Users"]


def test_a_source_lacking_a_collection_the_target_holds_rows_of_changes_nothing(tmp_path, dump, partial_dump, pg_uri):
    """After a migration, a source without one of its collections (a dump of some collections only)
    would have a catch-up delete every row migrated from it: `run` stops before extracting, and a
    load of such a staging folder before writing, each naming the collection; a dry run shows the
    rows such a load would delete and ends in the error the load would stop with."""
    staging = tmp_path / "st"
    assert m2pg("run", "--dump", str(dump), "--pg-uri", pg_uri, "--staging", str(staging)).returncode == 3
    users = target_state(pg_uri)[1]["Users"]
    before, staged = target_state(pg_uri), files(staging / "raw")
    ran = one_line(m2pg("run", "--dump", str(partial_dump), "--pg-uri", pg_uri, "--staging", str(staging)), 2)
    assert f'no Users collection, but the target holds {users} rows of "Users"' in ran, ran
    assert target_state(pg_uri) == before and files(staging / "raw") == staged
    planned = one_line(
        m2pg("run", "--dump", str(partial_dump), "--pg-uri", pg_uri, "--staging", str(staging), "--dry-run"), 2
    )
    assert "a load would stop before writing anything: the source holds no Users collection" in planned, planned
    plan = json.loads((staging / "reports" / "plan.json").read_text())
    assert {t["table"]: t for t in plan["tables"]}["Users"]["delete"] == users
    assert "no Users collection" in plan["stop"] and target_state(pg_uri) == before
    loaded = one_line(m2pg("load", "--pg-uri", pg_uri, "--staging", str(staging)), 2)
    assert "no Users collection" in loaded and "--replace" in loaded, loaded
    assert target_state(pg_uri) == before


def test_a_source_holding_a_collection_empty_that_the_target_holds_rows_of_changes_nothing(
    tmp_path, dump, dataset, pg_uri
):
    """A mongodump that failed leaves a collection's file empty: a catch-up from it would delete
    every row migrated from that collection, so `run` stops before extracting and `load` before
    writing, as for a collection that is not there at all."""
    staging = tmp_path / "st"
    assert m2pg("run", "--dump", str(dump), "--pg-uri", pg_uri, "--staging", str(staging)).returncode == 3
    emptied = tmp_path / "emptied"
    generate.write_dump(emptied, DB, {**dataset, "crm_Accounts": []})
    assert (emptied / DB / "crm_Accounts.bson").stat().st_size == 0
    accounts = target_state(pg_uri)[1]["crm_Accounts"]
    before, staged = target_state(pg_uri), files(staging / "raw")
    ran = one_line(m2pg("run", "--dump", str(emptied), "--pg-uri", pg_uri, "--staging", str(staging)), 2)
    assert f'crm_Accounts with no document, but the target holds {accounts} rows of "crm_Accounts"' in ran, ran
    assert target_state(pg_uri) == before and files(staging / "raw") == staged
    assert m2pg("extract", "--dump", str(emptied), "--staging", str(staging)).returncode == 0
    assert m2pg("transform", "--staging", str(staging)).returncode == 3
    loaded = one_line(m2pg("load", "--pg-uri", pg_uri, "--staging", str(staging)), 2)
    assert "crm_Accounts with no document" in loaded and "--replace" in loaded, loaded
    assert target_state(pg_uri) == before


def test_another_database_with_the_apps_collections_changes_nothing(tmp_path, dump, pg_uri):
    """After a migration, a source with the app's collections but none of its documents (a staging
    copy, a mistyped URI) would have a catch-up delete every migrated row: the load stops first."""
    other = tmp_path / "other"
    generate.write_dump(other, DB, generate.demo_dataset(APP, 8))  # another seed: other ObjectIds
    staging = tmp_path / "st"
    assert m2pg("run", "--dump", str(dump), "--pg-uri", pg_uri, "--staging", str(staging)).returncode == 3
    before = target_rows(pg_uri)
    line = one_line(m2pg("run", "--dump", str(other), "--pg-uri", pg_uri, "--staging", str(staging)), 2)
    assert "not one document of the source is among the" in line and "--replace" in line, line
    assert target_rows(pg_uri) == before
    planned = one_line(m2pg("load", "--dry-run", "--pg-uri", pg_uri, "--staging", str(staging)), 2)
    assert "a load would stop before writing anything: not one document of the source" in planned, planned


# --- stages out of order, wrong folders ----------------------------------------------------


def source_bytes(uri: str, db: str) -> dict[str, list[bytes]]:
    """Every collection of the database: its documents' bytes, sorted."""
    with MongoClient(uri, document_class=RawBSONDocument) as client:
        database = client[db]
        return {name: sorted(bytes(d.raw) for d in database[name].find()) for name in database.list_collection_names()}


def test_generate_never_writes_over_a_database_that_has_the_apps_collections(mongo_uri):
    before = source_bytes(mongo_uri, DB)
    steered = {**environment(), "M2PG_MONGO_URI": mongo_uri, "M2PG_MONGO_DB": DB}  # as `m2pg servers` suggests
    done = subprocess.run([*M2PG, "generate", "sample"], capture_output=True, text=True, env=steered, timeout=300)
    line = one_line(done, 2)
    assert f"{DB!r}" in line and "29 of the app's collections" in line and "--replace" in line, line
    assert source_bytes(mongo_uri, DB) == before
    with MongoClient(mongo_uri) as client:
        client["scratch"]["invoice_States"].insert_one({"name": "someone's"})
    refused = one_line(m2pg("generate", "sample", "--mongo-uri", mongo_uri, "--mongo-db", "scratch"), 2)
    assert "1 of the app's collections (1 document; invoice_States" in refused, refused
    replaced = m2pg("generate", "sample", "--mongo-uri", mongo_uri, "--mongo-db", "scratch", "--replace")
    assert replaced.returncode == 0, replaced.stderr
    sample = generate.sample(APP, 7)
    assert source_bytes(mongo_uri, "scratch") == {c: sorted(bson.encode(d) for d in docs) for c, docs in sample.items()}
    assert source_bytes(mongo_uri, DB) == before


def test_generate_never_writes_over_a_dump_folder_that_has_the_apps_files(tmp_path):
    folder = tmp_path / "dump"
    users = folder / DB / "Users.bson"
    users.parent.mkdir(parents=True)
    users.write_bytes(bson.encode({"_id": ObjectId(), "email": "someone@example.com"}))
    gzipped = users.with_name("Users.bson.gz")
    gzipped.write_bytes(b"a mongodump --gzip copy")
    before = {p.name: p.read_bytes() for p in (folder / DB).iterdir()}
    line = one_line(m2pg("generate", "sample", "--dump-out", str(folder)), 2)
    assert str(folder / DB) in line and "--replace" in line, line
    assert {p.name: p.read_bytes() for p in (folder / DB).iterdir()} == before
    replaced = m2pg("generate", "sample", "--dump-out", str(folder), "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert not gzipped.exists()  # else the dump would hold two copies of Users
    assert users.read_bytes() == b"".join(bson.encode(d) for d in generate.sample(APP, 7)["Users"])
    assert "not a folder" in one_line(m2pg("generate", "sample", "--dump-out", str(users)), 2)


def test_transform_and_validate_name_what_is_missing_and_change_nothing(tmp_path, dump):
    missing = tmp_path / "typo"
    line = one_line(m2pg("transform", "--staging", str(missing)), 2)
    assert "does not exist" in line and "m2pg extract" in line, line
    assert not missing.exists()
    line = one_line(m2pg("validate", "--staging", str(missing)), 2)
    assert "does not exist" in line and "m2pg transform" in line, line

    staging = tmp_path / "st"
    assert m2pg("extract", "--dump", str(dump), "--staging", str(staging)).returncode == 0
    before = files(staging)
    line = one_line(m2pg("validate", "--staging", str(staging)), 2)
    assert "no transform output" in line and f"m2pg transform --staging {staging}" in line, line
    assert files(staging) == before

    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    refused = m2pg("transform", "--staging", str(a_file))  # a usage error: the option names no folder
    said = " ".join(refused.stderr.replace("│", " ").split())  # the usage box may wrap the sentence
    assert refused.returncode == 2 and "is a file, not a folder" in said, refused.stderr
    assert a_file.read_text() == "not a folder"


def test_a_read_only_staging_folder_stops_before_any_work(tmp_path, dump):
    staging = tmp_path / "st"
    assert m2pg("extract", "--dump", str(dump), "--staging", str(staging)).returncode == 0
    before = files(staging)
    frozen = staging / "raw"
    if subprocess.run(["chattr", "+i", str(frozen)], capture_output=True).returncode:
        pytest.skip("this file system cannot make a folder read-only for root")
    try:
        line = one_line(m2pg("transform", "--staging", str(staging)), 1)
    finally:
        subprocess.run(["chattr", "-i", str(frozen)], check=True)
    assert "cannot write to the staging folder" in line and str(frozen) in line, line
    assert files(staging) == before


def test_a_folder_that_fails_mid_stage_is_one_line_and_the_traceback_is_logged(tmp_path, dump):
    staging = tmp_path / "st"
    assert m2pg("extract", "--dump", str(dump), "--staging", str(staging)).returncode == 0
    (staging / "clean").write_text("a file where transform writes its folders")
    line = one_line(m2pg("transform", "--staging", str(staging)), 1)
    assert "clean" in line and f"m2pg transform --staging {staging}" in line and "errors.log" in line, line
    assert "Traceback" in (staging / "reports" / "errors.log").read_text()


# --- messages --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("mongodb://m2pg:" + PASSWORD + "@127.0.0.1:1/", "percent-encode"),
        ("mysql://m2pg:" + PASSWORD + "@127.0.0.1:1/", "is not a MongoDB URI"),
        (
            "mongodb://m2pg:" + quote(PASSWORD, safe="") + "@127.0.0.1:1/?serverSelectionTimeoutMS=300",
            "Connection refused",
        ),
    ],
)
def test_a_bad_or_unreachable_mongo_uri_is_one_short_line(tmp_path, uri, expected):
    line = one_line(m2pg("extract", "--mongo-uri", uri, "--mongo-db", DB, "--staging", str(tmp_path / "st")), 2)
    assert expected in line and len(line) < 400, line
    assert not (tmp_path / "st").exists()


def test_a_refused_mongo_login_never_shows_the_password(tmp_path, mongo_uri):
    uri = with_password(mongo_uri, quote(PASSWORD, safe=""))
    line = one_line(m2pg("extract", "--mongo-uri", uri, "--mongo-db", DB, "--staging", str(tmp_path / "st")), 2)
    assert "authentication failed" in line and "m2pg:***@" in line, line


def test_a_pg_uri_with_an_unescaped_password_is_shown_without_credentials(tmp_path, pg_uri):
    before = target_state(pg_uri)
    line = one_line(m2pg("schema", "--pg-uri", with_password(pg_uri, PASSWORD)), 2)
    assert "percent-encode" in line and "://***@" in line, line
    assert target_state(pg_uri) == before


def test_connections_refused_during_reconcile_leave_no_password_anywhere(tmp_path, pg_server, dump):
    """The role may hold one connection: reconcile's first works, every later one is refused with
    PostgreSQL's and DuckDB's words, which quote the connection string, once per table."""
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE ROLE m2pg LOGIN")
        conn.execute("CREATE DATABASE reconciled OWNER m2pg")
    uri = with_password(pg_server.get_uri("reconciled"), quote(PASSWORD, safe=""))
    staging = tmp_path / "st"
    assert m2pg("schema", "--pg-uri", uri).returncode == 0
    assert m2pg("extract", "--dump", str(dump), "--staging", str(staging)).returncode == 0
    assert m2pg("transform", "--staging", str(staging)).returncode == 3
    assert m2pg("load", "--pg-uri", uri, "--staging", str(staging)).returncode == 3  # reconcile checks a load
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("ALTER ROLE m2pg CONNECTION LIMIT 1")
    done = m2pg("reconcile", "--pg-uri", uri, "--staging", str(staging))
    assert done.returncode == 1 and "connections for role" in done.stdout, done.stdout + done.stderr
    assert not [p for p in PIECES if p in done.stdout + done.stderr]
    written = [p for p in staging.rglob("*") if p.is_file() and p.suffix in (".json", ".log", ".html")]
    assert "too many connections" in (staging / "reports" / "reconcile.json").read_text()
    assert not [(path, p) for path in written for p in PIECES if p in path.read_text(errors="replace")]


def test_reports_never_hold_a_known_password(tmp_path):
    redact.remember("postgresql://m2pg:" + PASSWORD + "@127.0.0.1:5432/x")
    write_json({"error": f'could not connect with password {PASSWORD} ("{PASSWORD}")'}, tmp_path / "r.json")
    text = (tmp_path / "r.json").read_text()
    assert not [p for p in PIECES if p in text] and "***" in text


def test_schema_names_the_tables_that_are_there_instead_of_calling_them_the_apps(pg_uri):
    with psycopg.connect(pg_uri, autocommit=True) as conn:
        conn.execute('CREATE TABLE "Users" (id serial PRIMARY KEY, login text)')
    before = target_state(pg_uri)
    line = one_line(m2pg("schema", "--pg-uri", pg_uri), 2)
    assert "Users" in line and "differ" in line and "NextCRM tables" not in line, line
    assert target_state(pg_uri) == before


# --- one command per staging folder ----------------------------------------------------------


def test_a_second_command_on_a_locked_staging_folder_names_the_first(tmp_path, dump):
    staging = tmp_path / "st"
    assert m2pg("extract", "--dump", str(dump), "--staging", str(staging)).returncode == 0
    before = files(staging)
    with lock.held(staging, "m2pg run --staging st"):
        line = one_line(m2pg("transform", "--staging", str(staging)), 2)
        assert "in use by `m2pg run --staging st`" in line and f"pid {os.getpid()}" in line, line
        assert files(staging) == {**before, lock.LOCK_FILE: files(staging)[lock.LOCK_FILE]}
    assert not (staging / lock.LOCK_FILE).exists()


def test_the_lock_of_a_dead_command_is_taken_over(tmp_path, dump):
    staging = tmp_path / "st"
    assert m2pg("extract", "--dump", str(dump), "--staging", str(staging)).returncode == 0
    (staging / lock.LOCK_FILE).write_text("`m2pg extract` (pid 999999)\n")
    done = m2pg("transform", "--staging", str(staging))
    assert done.returncode == 3, done.stderr
    assert not (staging / lock.LOCK_FILE).exists()
