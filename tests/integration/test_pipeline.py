"""Full runs on the embedded servers: sources agree, stages in separate processes equal `m2pg run`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import bson
import polars as pl
import psycopg
import pytest
from bson import ObjectId
from bson.datetime_ms import DatetimeMS

from toolkit.documents.ids import uuid_for
from toolkit.generate import sample as generate
from toolkit.sources.readers import DumpSource, MongoSource
from toolkit.stages import extract as extract_mod
from toolkit.stages import load as load_mod
from toolkit.stages.changes import DIGEST, digests
from toolkit.staging.layout import Staging
from transforms import JUNCTIONS, MODELS

M2PG = [sys.executable, "-m", "toolkit.cli"]
DB = "nextcrm"


@pytest.fixture(scope="module")
def dump_dir(tmp_path_factory, dataset):
    folder = tmp_path_factory.mktemp("dump")
    generate.write_dump(folder, DB, dataset)
    return folder


def m2pg(*args: str, expect: int) -> str:
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run([*M2PG, *args], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == expect, done.stdout + done.stderr
    return done.stdout


def rows(uri: str, table: str, columns) -> list[tuple]:
    """Every row, timestamps as epoch milliseconds (they may lie outside Python's datetime)."""
    select = ", ".join(
        f'(extract(epoch from "{c}") * 1000)::bigint' if kind == "DateTime" else f'"{c}"::text' for c, kind in columns
    )
    with psycopg.connect(uri) as conn:
        return sorted(conn.execute(f'SELECT {select} FROM "{table}"').fetchall(), key=repr)


def table_columns(table: str):
    for m in MODELS:
        if m.table == table:
            return [(f.name, str(f.kind)) for f in m.fields]
    j = next(j for j in JUNCTIONS if j.table == table)
    return [(j.left.column, "ObjectId"), (j.right.column, "ObjectId")]


ALL_TABLES = [m.table for m in MODELS] + [j.table for j in JUNCTIONS]


def test_dump_and_live_server_stage_identical_parquet(tmp_path, mongo_uri, dump_dir):
    from_server, from_dump = Staging(tmp_path / "server"), Staging(tmp_path / "dump")
    extract_mod.extract(MongoSource(mongo_uri, DB), from_server, MODELS, JUNCTIONS, 250)
    extract_mod.extract(DumpSource(dump_dir), from_dump, MODELS, JUNCTIONS, 250)
    for m in MODELS:
        server_parts = sorted(from_server.raw_dir(m.source).glob("*.parquet"))
        dump_parts = sorted(from_dump.raw_dir(m.source).glob("*.parquet"))
        assert [p.name for p in server_parts] == [p.name for p in dump_parts]
        for a, b in zip(server_parts, dump_parts, strict=False):
            assert pl.read_parquet(a).equals(pl.read_parquet(b)), f"{m.source} {a.name}"
        assert pl.read_parquet(from_server.idmap(m.source)).equals(pl.read_parquet(from_dump.idmap(m.source)))


def test_stages_one_by_one_equal_run_and_account_for_every_document(tmp_path, pg_server, mongo_uri, dataset):
    uris = {}
    for name in ("stages", "whole"):
        with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        uris[name] = pg_server.get_uri(name)
    one, whole = str(tmp_path / "one"), str(tmp_path / "whole")
    source = ["--mongo-uri", mongo_uri, "--mongo-db", DB]
    m2pg("schema", "--pg-uri", uris["stages"], expect=0)
    m2pg("extract", *source, "--staging", one, expect=0)
    m2pg("transform", "--staging", one, expect=3)
    m2pg("validate", "--staging", one, expect=3)
    m2pg("load", "--pg-uri", uris["stages"], "--staging", one, expect=3)
    summary = m2pg("reconcile", "--pg-uri", uris["stages"], "--staging", one, expect=3)
    m2pg("run", *source, "--pg-uri", uris["whole"], "--staging", whole, expect=3)
    for table in ALL_TABLES:
        columns = table_columns(table)
        assert rows(uris["stages"], table, columns) == rows(uris["whole"], table, columns), table
    assert all(t in summary for t in ALL_TABLES)
    report = json.loads((Path(one) / "reports" / "transform.json").read_text())
    for c in report["collections"]:
        assert c["documents"] == len(dataset[c["collection"]]) == c["clean"] + c["quarantined"]
    notebook = subprocess.run(
        [sys.executable, "notebooks/staging.py"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "M2PG_STAGING": one},
        timeout=120,
    )
    assert notebook.returncode == 0 and "crm_Accounts" in notebook.stdout, notebook.stderr
    loaded = {t["table"]: t["rows"] for t in json.loads((Path(one) / "reports" / "load.json").read_text())["tables"]}
    assert all(loaded[m.table] > 0 for m in MODELS) and all(loaded[j.table] > 0 for j in JUNCTIONS)


def test_the_bad_profile_quarantines_exactly_what_it_expects(tmp_path):
    dump, staging = tmp_path / "dump", tmp_path / "st"
    m2pg("generate", "bad", "--dump-out", str(dump), expect=0)
    m2pg("extract", "--dump", str(dump), "--staging", str(staging), expect=0)
    m2pg("transform", "--staging", str(staging), expect=3)
    found = pl.read_parquet(sorted((staging / "quarantine").glob("*/part-*.parquet")))
    expected = json.loads((dump / "expected.json").read_text())["quarantined"]
    assert sorted(found.select("collection", "source_id", "rule").rows()) == sorted(
        (e["collection"], e["source_id"], e["rule"]) for e in expected
    )
    for table, kinds in load_mod._kinds(MODELS, JUNCTIONS).items():  # each row's digest as the load takes it
        for part in Staging(staging).clean_parts(table):
            rows = pl.read_parquet(part)
            assert rows[DIGEST].equals(digests(rows, list(kinds))), part


@pytest.mark.parametrize("part_size", ["30", "300"])
def test_unique_values_repeated_in_later_parts_are_quarantined(tmp_path, dataset, part_size):
    """Users copied under new `_id`s (so in later parts) repeat earlier users' emails: each copy is
    quarantined as a repeat, whatever the part size (a polars panic once stopped the transform
    when the repeats spanned parts)."""
    users = dataset["Users"]
    copies = [dict(u, _id=ObjectId()) for u in users[::20] if u.get("email")]
    folder = tmp_path / "dump"
    generate.write_dump(folder, DB, {**dataset, "Users": users + copies})
    staging = tmp_path / "st"
    extract = subprocess.run(
        [*M2PG, "extract", "--dump", str(folder), "--staging", str(staging), "--part-size", part_size],
        capture_output=True,
        text=True,
    )
    assert extract.returncode == 0, extract.stderr
    done = subprocess.run([*M2PG, "transform", "--staging", str(staging)], capture_output=True, text=True)
    assert done.returncode == 3, done.stdout + done.stderr
    refused = pl.read_parquet(sorted((staging / "quarantine" / "Users").glob("part-*.parquet")))
    repeats = refused.filter(pl.col("rule") == "unique", pl.col("field") == "email")
    assert set(repeats["object_id"]) >= {str(c["_id"]) for c in copies}, repeats


def test_values_arrive_exactly_including_both_ends_of_the_apps_date_range(tmp_path, pg_uri):
    """Written as BSON files, read as int64 milliseconds: never rounded, never through datetime."""
    user, board = ObjectId(), ObjectId()
    docs = {
        "Users": [{"_id": user, "email": "ünïcode@x", "name": "e\u0301  ", "password": "\\N"}],
        "Boards": [
            {
                "_id": board,
                "__v": 0,
                "description": "",
                "title": "NULL",
                "user": user,
                "sharedWith": [user, user],
                "createdAt": DatetimeMS(-62_135_596_800_000),
                "updatedAt": DatetimeMS(253_402_300_799_999),
            }
        ],
        "Tasks": [
            {
                "_id": ObjectId(),
                "__v": 0,
                "position": 75.0,
                "priority": "p",
                "title": "t",
                "tags": {"a.b": {"$c": [1, 2.5, None]}, "when": DatetimeMS(0), "big": bson.Int64(2**40)},
            }
        ],
    }
    dump = tmp_path / "dump"
    generate.write_dump(dump, DB, docs)
    m2pg("schema", "--pg-uri", pg_uri, expect=0)
    m2pg("run", "--dump", str(dump), "--pg-uri", pg_uri, "--staging", str(tmp_path / "st"), expect=0)
    with psycopg.connect(pg_uri) as conn:
        assert conn.execute('SELECT email, name, password FROM "Users"').fetchone() == ("ünïcode@x", "e\u0301  ", "\\N")
        board_row = conn.execute(
            'SELECT description, title, "sharedWith"::text[], (extract(epoch from "createdAt")*1000)::bigint,'
            ' (extract(epoch from "updatedAt")*1000)::bigint, "createdAt"::text FROM "Boards"'
        ).fetchone()
        assert board_row[:5] == ("", "NULL", [uuid_for(str(user))] * 2, -62_135_596_800_000, 253_402_300_799_999)
        assert board_row[5] == "0001-01-01 00:00:00"
        tags, position = conn.execute('SELECT tags, position FROM "Tasks"').fetchone()
        assert position == 75
        assert tags == {"a.b": {"$c": [1, 2.5, None]}, "when": {"$date": "1970-01-01T00:00:00Z"}, "big": 2**40}


def test_user_mistakes_get_one_line_and_exit_2(tmp_path):
    out = subprocess.run([*M2PG, "extract", "--dump", str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "does not exist" in out.stderr
    out = subprocess.run([*M2PG, "load", "--staging", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 2 and "--pg-uri" in out.stderr
    out = subprocess.run([*M2PG, "transform", "--staging", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 2 and "m2pg extract" in out.stderr


def test_a_database_that_does_not_exist_is_one_line_and_exit_2(tmp_path, pg_uri, dump_dir):
    """Every command that opens the target says which URI failed and PostgreSQL's words,
    brackets included, with no traceback."""
    missing = pg_uri.replace("/test_", "/no_such_db_")
    staged = str(tmp_path / "staged")  # load checks its staging inputs before the target
    m2pg("extract", "--dump", str(dump_dir), "--staging", staged, expect=0)
    m2pg("transform", "--staging", staged, expect=3)
    for command in (
        ["schema"],
        ["load", "--staging", staged],
        ["indexes", "--extra"],
        ["run", "--dump", str(dump_dir), "--staging", str(tmp_path / "st")],
    ):
        out = subprocess.run([*M2PG, *command, "--pg-uri", missing], capture_output=True, text=True, timeout=120)
        said = " ".join(out.stderr.split())
        assert out.returncode == 2, (command, out.stderr)
        assert "Traceback" not in out.stderr and "cannot connect to PostgreSQL" in said, (command, out.stderr)
        assert "[libpq]" in said and "does not exist" in said, (command, out.stderr)


def test_password_never_printed():
    out = subprocess.run(
        [
            *M2PG,
            "extract",
            "--mongo-uri",
            "mongodb://u:s3cret@127.0.0.1:1/?serverSelectionTimeoutMS=200",
            "--mongo-db",
            "x",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "s3cret" not in out.stdout + out.stderr and "***" in out.stderr
