"""A second app, the bookshop, migrated by the real `m2pg` command: the engine knows no
application, so every stage must work on declarations it has never seen (a renamed collection
and table, every kind, both sides of a junction) and quarantine exactly the planted records."""

import os
import signal
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import polars as pl
import psycopg
import pytest
from bson import json_util

from toolkit.documents.ids import uuid_for
from toolkit.generate import sample as generate
from toolkit.runtime.servers import embedded_mongo

TESTS = Path(__file__).resolve().parents[1]
sys.path.append(str(TESTS))  # the toy app lives beside the tests, not in an installed package

from toy_app import APP, documents  # noqa: E402
from toy_app.documents import PLANTED, created  # noqa: E402

from exactly_once import assert_exactly_once  # noqa: E402

DB = "bookshop"
PART = "5"  # three parts per collection and many load batches: many places to stop at


def m2pg(*args: str, kill_at: str | None = None) -> subprocess.CompletedProcess:
    """The `m2pg` command run for the toy app, in an environment free of other M2PG_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("M2PG_")}
    env["M2PG_APP"] = "toy_app:APP"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    if kill_at:
        env["M2PG_KILL_AT"] = kill_at
    return subprocess.run(
        [sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


def new_database(pg_server, name: str) -> str:
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg_server.get_uri(name)


def snapshot(uri: str) -> dict[str, list[tuple]]:
    """Every table's rows as text, sorted: equal snapshots mean equal databases."""
    with psycopg.connect(uri) as conn:
        return {t: sorted(conn.execute(f'SELECT t::text FROM "{t}" t').fetchall()) for t in APP.tables}


def kept(collection: str, docs: list[dict]) -> list[dict]:
    return [d for d in docs if (collection, d["_id"]) not in PLANTED]


@pytest.fixture(scope="module")
def mongo(tmp_path_factory):
    with embedded_mongo(tmp_path_factory.mktemp("mongo")) as uri:
        generate.write_mongo(uri, DB, documents.dataset())
        yield uri


@pytest.fixture(scope="module")
def stages(mongo, pg_server, tmp_path_factory):
    """Every stage by hand, in order, on one staging folder and one database: (uri, staging, results)."""
    uri = new_database(pg_server, "by_hand")
    staging = tmp_path_factory.mktemp("staging")
    source = ("--mongo-uri", mongo, "--mongo-db", DB)
    where = ("--staging", str(staging))
    target = ("--pg-uri", uri)
    commands = {
        "schema": ("schema", *target),
        "extract": ("extract", *source, *where),
        "transform": ("transform", *where),
        "validate": ("validate", *where),
        "load": ("load", *target, *where),
        "reconcile": ("reconcile", *target, *where),
        "verify": ("verify", *source, *target, *where),
        "verify --full": ("verify", "--full", *source, *target, *where),
        "errors": ("errors", *where),
    }
    return uri, staging, {name: m2pg(*args) for name, args in commands.items()}


@pytest.mark.parametrize(
    "stage, code, says",
    [
        ("schema", 0, "created 4 tables, 1 junction table and 2 enums"),
        ("extract", 0, "48 documents staged"),
        ("transform", 3, "48 documents: 40 clean, 8 quarantined"),
        ("validate", 3, "5 tables pass"),
        ("load", 3, "69 rows inserted"),
        ("reconcile", 3, "every document is loaded or quarantined; no orphans"),
        ("verify", 0, "verify: PASS — 48 documents, 8 quarantined, 5 tables"),
        ("verify --full", 0, "verify: PASS — 48 documents, 8 quarantined, 5 tables"),
        ("errors", 3, "8 records quarantined in 4 collections"),
    ],
)
def test_every_stage_runs_on_an_app_the_engine_has_never_seen(stages, stage, code, says):
    result = stages[2][stage]
    assert result.returncode == code, result.stdout + result.stderr
    assert says in " ".join(result.stdout.split()), result.stdout


def test_tables_are_named_by_the_declarations_not_the_collections(stages):
    with psycopg.connect(stages[0]) as conn:
        tables = {
            r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        }
    assert tables == {"Authors", "Publishers", "book", "Reviews", "BookAuthors"}


def test_the_quarantine_holds_exactly_the_planted_records_with_their_rule(stages):
    _, staging, results = stages
    found = pl.read_parquet(sorted((staging / "quarantine").glob("*/part-*.parquet")))
    held = {(r["collection"], r["object_id"]): (r["field"], r["rule"]) for r in found.iter_rows(named=True)}
    assert held == {(c, str(i)): why for (c, i), why in PLANTED.items()}
    originals = {(c, str(d["_id"])): d for c, docs in documents.dataset().items() for d in docs}
    for r in found.iter_rows(named=True):  # each record keeps its original document, to fix and migrate again
        assert json_util.loads(r["document"]) == originals[r["collection"], r["object_id"]]
    log = (staging / "reports" / "errors.log").read_text()
    for (_, object_id), (_, rule) in PLANTED.items():
        assert str(object_id) in log
        assert rule in results["errors"].stdout


def test_publishers_with_defaults(stages):
    expected = sorted(
        (d["name"], d.get("founded"), d.get("independent", True)) for d in kept("Publishers", documents.publishers())
    )
    with psycopg.connect(stages[0]) as conn:
        rows = conn.execute('SELECT name, founded, independent FROM "Publishers" ORDER BY name').fetchall()
    assert rows == expected


def test_authors_from_a_collection_named_apart_with_now_and_list_defaults(stages):
    expected = sorted(
        (d["name"], d["email"], d.get("joined", created(d["_id"])), d.get("languages", []), d.get("active", False))
        for d in kept("writers", documents.authors())
    )
    with psycopg.connect(stages[0]) as conn:
        rows = conn.execute('SELECT name, email, joined, languages, active FROM "Authors" ORDER BY name').fetchall()
    assert rows == expected


def test_books_reference_their_publisher_and_editor_by_uuid(stages):
    authors = {d["_id"]: d["name"] for d in kept("writers", documents.authors())}
    publishers = {d["_id"]: d["name"] for d in kept("Publishers", documents.publishers())}
    expected = sorted(
        (
            d["title"],
            d.get("pages", 100),
            d.get("genre", "FICTION"),
            d.get("details"),
            d.get("published"),
            publishers[d["publisher"]],
            authors.get(d.get("editor")),
            d.get("added", created(d["_id"])),
        )
        for d in kept("Books", documents.books())
    )
    with psycopg.connect(stages[0]) as conn:
        rows = conn.execute(
            "SELECT b.title, b.pages, b.genre::text, b.details, b.published, p.name, e.name, b.added FROM book b "
            'JOIN "Publishers" p ON p.id = b.publisher LEFT JOIN "Authors" e ON e.id = b.editor ORDER BY 1'
        ).fetchall()
        ids = conn.execute("SELECT id, publisher FROM book").fetchall()
    assert rows == expected
    by_id = {
        UUID(uuid_for(str(d["_id"]))): UUID(uuid_for(str(d["publisher"]))) for d in kept("Books", documents.books())
    }
    assert dict(ids) == by_id


def test_reviews_keep_ids_without_foreign_keys_and_read_renamed_keys(stages):
    books = {d["_id"]: d["title"] for d in kept("Books", documents.books())}
    expected = sorted(
        (
            books[d["book"]],
            int(d["stars"]),
            d.get("state", "DRAFT"),
            UUID(uuid_for(str(d["reviewer"]))),
            [UUID(uuid_for(str(i))) for i in d["liked_by"]],
            d.get("body"),
        )
        for d in kept("Reviews", documents.reviews())
    )
    with psycopg.connect(stages[0]) as conn:
        rows = conn.execute(
            "SELECT b.title, r.stars, r.state::text, r.reviewer, r.liked_by, r.text "
            'FROM "Reviews" r JOIN book b ON b.id = r.book ORDER BY 1'
        ).fetchall()
    assert rows == expected


def test_the_junction_holds_every_pair_either_side_names(stages):
    books = {d["_id"]: d["title"] for d in kept("Books", documents.books())}
    authors = {d["_id"]: d["name"] for d in kept("writers", documents.authors())}
    named = {(b["_id"], a) for b in documents.books() for a in b.get("authorIDs", [])} | {
        (b, a["_id"]) for a in documents.authors() for b in a.get("bookIDs", [])
    }
    expected = sorted((books[b], authors[a]) for b, a in named if b in books and a in authors)
    with psycopg.connect(stages[0]) as conn:
        rows = conn.execute(
            'SELECT b.title, a.name FROM "BookAuthors" j JOIN book b ON b.id = j.book_id '
            'JOIN "Authors" a ON a.id = j.author_id ORDER BY 1, 2'
        ).fetchall()
        total = conn.execute('SELECT count(*) FROM "BookAuthors"').fetchone()[0]
    assert rows == expected and total == len(expected)


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    return generate.write_dump(tmp_path_factory.mktemp("dump"), DB, documents.dataset()).parent


@pytest.fixture(scope="module")
def uninterrupted(dump, pg_server, stages, tmp_path_factory):
    """The database one `m2pg run` leaves, which must also be the one the stages by hand left."""
    uri = new_database(pg_server, "uninterrupted")
    done = m2pg(
        "run",
        "--dump",
        str(dump),
        "--pg-uri",
        uri,
        "--staging",
        str(tmp_path_factory.mktemp("run")),
        "--part-size",
        PART,
        "--batch-size",
        PART,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    return snapshot(uri)


def test_a_run_equals_the_stages_by_hand(uninterrupted, stages):
    assert uninterrupted == snapshot(stages[0])


@pytest.mark.parametrize(
    "point", ["extract-part:2", "extract-part:7", "transform-part:3", "load-copy:2", "load-batch:3", "load-restore:1"]
)
def test_sigkill_then_resume_equals_an_uninterrupted_run(point, dump, pg_uri, tmp_path, uninterrupted):
    args = (
        "run",
        "--dump",
        str(dump),
        "--pg-uri",
        pg_uri,
        "--staging",
        str(tmp_path),
        "--part-size",
        PART,
        "--batch-size",
        PART,
    )
    killed = m2pg(*args, kill_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert_exactly_once(pg_uri, tmp_path, app=APP)  # each batch whole, or not at all
    resumed = m2pg(*args)
    assert resumed.returncode == 3, resumed.stdout + resumed.stderr
    assert "no orphans" in resumed.stdout
    assert_exactly_once(pg_uri, tmp_path, complete=True, before={}, app=APP)  # the killed load's writes too
    assert snapshot(pg_uri) == uninterrupted
    again = m2pg(*args)
    assert again.returncode == 3 and "0 rows inserted" in again.stdout, again.stdout
    assert snapshot(pg_uri) == uninterrupted
