"""A catch-up from a dump writes the rows whose loaded values changed, and only those: edits to a
document that no column can see (the order of its keys or of a Json object's, an Int stored as
int64 or as a whole double, an optional field's null spelled as absent, an unknown field, a
junction array reordered or repeating a pair, the document moved in the file) write nothing, and
the plan, the load's report and PostgreSQL's own write counters agree with the rows that changed."""

import time
from collections.abc import Callable
from pathlib import Path

import bson
import psycopg
import pytest
from bson import SON, Int64

from processes import m2pg
from toolkit.generate import sample as generate
from toolkit.staging.layout import read_json
from transforms import APP, JUNCTIONS, MODELS

KEEP = 25  # documents a collection keeps
KEYS = {m.table: ("id",) for m in MODELS} | {j.table: (j.left.column, j.right.column) for j in JUNCTIONS}
WRITES = {"n_tup_ins": "inserted", "n_tup_upd": "updated", "n_tup_del": "deleted"}
SETTLE_SECONDS = 60  # how long the finished run's sessions may take to exit and hand over their counts
CODEC = bson.CodecOptions(document_class=SON)

Edit = Callable[[list[SON], dict[str, list[SON]]], None]  # a collection's documents, and every collection's


def reversed_keys(document: SON) -> SON:
    return SON(list(document.items())[::-1])


def keys_reversed_but_id(docs, _):
    docs[0] = SON([("_id", docs[0]["_id"]), *list(docs[0].items())[:0:-1]])


def id_last(docs, _):
    docs[1] = SON([*list(docs[1].items())[1:], ("_id", docs[1]["_id"])])


def as_int64(docs, _):
    docs[0]["position"] = Int64(docs[0]["position"])


def as_double(docs, _):
    docs[0]["position"] = float(docs[0]["position"])


def null_as_absent(docs, _):
    document = next(d for d in docs if "personal_email" in d and d["personal_email"] is None)
    del document["personal_email"]


def absent_as_null(docs, _):
    document = next(d for d in docs if "social_tiktok" not in d)
    document["social_tiktok"] = None


def unknown_field(docs, _):
    docs[2]["notInTheSchema"] = {"any": "value"}


def json_keys_reordered(docs, _):
    document = next(d for d in docs if any(isinstance(t, dict) and len(t) > 1 for t in d.get("tags") or ()))
    document["tags"] = [reversed_keys(t) if isinstance(t, dict) else t for t in document["tags"]]


def linked(docs) -> SON:
    return next(d for d in docs if len(set(d.get("crm_accounts_tasksIDs") or ())) >= 2)


def pairs_reordered_and_repeated(docs, _):
    document = linked(docs)
    document["crm_accounts_tasksIDs"] = [*document["crm_accounts_tasksIDs"][::-1], document["crm_accounts_tasksIDs"][0]]


def moved_to_the_end(docs, _):
    docs.append(docs.pop(3))


UNSEEN: list[tuple[str, Edit]] = [
    ("crm_Accounts", keys_reversed_but_id),
    ("crm_Accounts", id_last),
    ("crm_Accounts", unknown_field),
    ("Boards", as_int64),
    ("Tasks", as_double),
    ("Tasks", json_keys_reordered),
    ("Tasks", moved_to_the_end),
    ("crm_Contacts", null_as_absent),
    ("crm_Contacts", absent_as_null),
    ("Documents", pairs_reordered_and_repeated),
]


def trailing_spaces(docs, _):
    docs[5]["name"] += "  "


def user_changed(docs, every):
    docs[6]["assigned_to"] = next(u["_id"] for u in every["Users"] if u["_id"] != docs[6].get("assigned_to"))


def pair_added(docs, every):
    document = linked(docs)
    held = set(document["crm_accounts_tasksIDs"])
    added = next(t["_id"] for t in every["crm_Accounts_Tasks"] if t["_id"] not in held)
    document["crm_accounts_tasksIDs"].append(added)


def pair_removed(docs, every):
    tasks, other = {t["_id"] for t in every["crm_Accounts_Tasks"]}, linked(docs)
    document = next(d for d in docs if d is not other and tasks & set(d.get("crm_accounts_tasksIDs") or ()))
    gone = next(i for i in document["crm_accounts_tasksIDs"] if i in tasks)
    document["crm_accounts_tasksIDs"] = [i for i in document["crm_accounts_tasksIDs"] if i != gone]


SEEN: list[tuple[str, Edit]] = [
    ("crm_Accounts", trailing_spaces),
    ("crm_Accounts", user_changed),
    ("Documents", pair_added),
    ("Documents", pair_removed),
]


def rewrite(folder: Path, edits: list[tuple[str, Edit]]) -> None:
    """Apply the edits to the dump's BSON files, each file written again only if its bytes changed."""
    files = {c: folder / f"{c}.bson" for c in {c for c, _ in edits} | {"Users", "crm_Accounts_Tasks"}}
    every = {c: bson.decode_all(f.read_bytes(), CODEC) for c, f in files.items()}
    for collection, edit in edits:
        edit(every[collection], every)
    for collection in {c for c, _ in edits}:
        written = b"".join(bson.encode(d) for d in every[collection])
        assert written != files[collection].read_bytes(), collection  # the premise: the edit is in the bytes
        files[collection].write_bytes(written)


def rows(uri: str) -> dict[str, dict[tuple, str]]:
    with psycopg.connect(uri) as conn:
        return {
            table: {
                r[:-1]: r[-1]
                for r in conn.execute(f'SELECT {", ".join(f"{k}::text" for k in keys)}, t::text FROM "{table}" t')
            }
            for table, keys in KEYS.items()
        }


def changed(before, after) -> dict[str, dict[str, int]]:
    """Per table, the rows inserted, updated and deleted between two states (tables with none left out)."""
    out = {}
    for table in KEYS:
        was, now = before[table], after[table]
        counts = {
            "inserted": len(now.keys() - was.keys()),
            "updated": sum(was[k] != now[k] for k in was.keys() & now.keys()),
            "deleted": len(was.keys() - now.keys()),
        }
        if any(counts.values()):
            out[table] = counts
    return out


def written(uri: str) -> dict[str, dict[str, int]]:
    """PostgreSQL's count of rows written so far per table of the app, once every other session
    has ended (a session hands over its counts as it exits)."""
    with psycopg.connect(uri, autocommit=True) as conn:
        deadline = time.monotonic() + SETTLE_SECONDS
        others = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        while conn.execute(others + " AND backend_type = 'client backend'").fetchone()[0]:
            assert time.monotonic() < deadline, "the run's sessions did not end"
            time.sleep(0.05)
        conn.execute("SELECT pg_stat_clear_snapshot()")
        found = conn.execute(
            f"SELECT relname, {', '.join(WRITES)} FROM pg_stat_user_tables WHERE schemaname = 'public'"
        ).fetchall()
        return {table: dict(zip(WRITES.values(), counts, strict=True)) for table, *counts in found}


def grown(before, after) -> dict[str, dict[str, int]]:
    out = {t: {k: after[t][k] - before.get(t, {}).get(k, 0) for k in WRITES.values()} for t in after}
    return {t: counts for t, counts in out.items() if any(counts.values())}


def said(staging: Path, report: str, names: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """Per table, the counts a report gives (tables with none left out), in the words of `changed`."""
    out = {}
    for table in read_json(staging / "reports" / report)["tables"]:
        counts = dict(zip(("inserted", "updated", "deleted"), (table[n] for n in names), strict=True))
        if any(counts.values()):
            out[table["table"]] = counts
    return out


def catch_up(dump: Path, uri: str, staging: Path, edits) -> dict:
    """The edits in the dump, a dry run, then a run: what each said, what PostgreSQL counted and
    how the rows changed."""
    rewrite(dump / "nextcrm", edits)
    before, counted = rows(uri), written(uri)
    plan = m2pg("run", "--dump", str(dump), "--pg-uri", uri, "--staging", str(staging), "--dry-run")
    assert plan.returncode in (0, 3), plan.stdout + plan.stderr
    planned = said(staging, "plan.json", ("insert", "update", "delete"))
    run = m2pg("run", "--dump", str(dump), "--pg-uri", uri, "--staging", str(staging))
    assert run.returncode in (0, 3), run.stdout + run.stderr
    return {
        "truth": changed(before, rows(uri)),
        "postgres": grown(counted, written(uri)),
        "plan": planned,
        "load": said(staging, "load.json", ("inserted", "updated", "deleted")),
    }


@pytest.fixture(scope="module")
def catch_ups(pg_server, tmp_path_factory) -> dict[str, dict]:
    """A full run of a small dump, a catch-up after edits no column sees, then one after edits
    that change four rows."""
    dump = tmp_path_factory.mktemp("dump")
    generate.write_dump(dump, "nextcrm", {c: docs[:KEEP] for c, docs in generate.sample(APP, 7).items()})
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE unseen")
    uri, staging = pg_server.get_uri("unseen"), tmp_path_factory.mktemp("staging")
    first = m2pg("run", "--dump", str(dump), "--pg-uri", uri, "--staging", str(staging))
    assert first.returncode in (0, 3), first.stdout + first.stderr
    return {"unseen": catch_up(dump, uri, staging, UNSEEN), "seen": catch_up(dump, uri, staging, SEEN)}


def test_edits_no_column_sees_write_nothing(catch_ups):
    assert catch_ups["unseen"] == {"truth": {}, "postgres": {}, "plan": {}, "load": {}}


def test_the_rows_that_changed_are_written_once_as_planned_and_reported(catch_ups):
    truth = {
        "crm_Accounts": {"inserted": 0, "updated": 2, "deleted": 0},
        "DocumentsToCrmAccountsTasks": {"inserted": 1, "updated": 0, "deleted": 1},
    }
    assert catch_ups["seen"] == {"truth": truth, "postgres": truth, "plan": truth, "load": truth}
