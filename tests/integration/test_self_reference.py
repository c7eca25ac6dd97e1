"""A model that references itself (a category's parent, a reply's thread), as Prisma apps often
declare: judged against the documents the model itself keeps, in any `_id` order, a required
self-reference to a refused document refused in turn; and a catch-up whose new rows point at
rows written after them."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg
from bson import ObjectId

from toolkit.declarations.app import App
from toolkit.declarations.spec import ID, Field, Kind, ModelSpec, Reference
from toolkit.documents.ids import uuid_for
from toolkit.generate.sample import write_dump

NODES = ModelSpec(
    "Node",
    fields=(
        ID,
        Field("name", Kind.TEXT),
        Field("parentId", Kind.OBJECT_ID, optional=True, references=Reference("Node")),
        Field("rootId", Kind.OBJECT_ID, references=Reference("Node", on_delete="CASCADE")),
    ),
)
APP = App("Tree", (NODES,), (), {}, database="tree")


def oid(n: int) -> ObjectId:
    seconds = int((datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=n)).timestamp())
    return ObjectId(f"{seconds:08x}{n:016x}")


N = [oid(n) for n in range(8)]
NOWHERE = oid(99)
DOCUMENTS = [
    {"_id": N[0], "name": "root", "rootId": N[0]},
    {"_id": N[1], "name": "parent written after it", "parentId": N[5], "rootId": N[0]},
    {"_id": N[2], "name": "root nowhere", "rootId": NOWHERE},  # reference
    {"_id": N[3], "name": "root refused", "rootId": N[2]},  # quarantined_reference
    {"_id": N[4], "name": "root refused in turn", "parentId": N[2], "rootId": N[3]},  # quarantined_reference
    {"_id": N[5], "name": "child", "parentId": N[0], "rootId": N[0]},
    {"_id": N[6], "name": 6, "rootId": N[0]},  # type
    {"_id": N[7], "name": "parent refused", "parentId": N[6], "rootId": N[7]},  # parent loads as NULL
]
REFUSED = {N[2]: "reference", N[3]: "quarantined_reference", N[4]: "quarantined_reference", N[6]: "type"}


def m2pg(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("M2PG_")}
    env["M2PG_APP"] = f"{__name__}:APP"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.dirname(__file__), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


def rows(pg_uri: str) -> set[tuple]:
    with psycopg.connect(pg_uri) as conn:
        return set(conn.execute('SELECT id::text, name, "parentId"::text, "rootId"::text FROM "Node"').fetchall())


def expected(documents: list[dict], refused: set[ObjectId]) -> set[tuple]:
    kept = {d["_id"] for d in documents} - refused

    def ref(value):
        return str(uuid_for(str(value))) if value in kept else None

    return {(ref(d["_id"]), d["name"], ref(d.get("parentId")), ref(d["rootId"])) for d in documents if d["_id"] in kept}


def test_a_self_reference_is_judged_against_what_the_model_keeps(tmp_path, pg_uri):
    write_dump(tmp_path / "dump", "tree", {"Node": DOCUMENTS})
    staging = ("--staging", str(tmp_path / "staging"))
    ran = m2pg("run", "--dump", str(tmp_path / "dump" / "tree"), "--pg-uri", pg_uri, "--batch-size", "1", *staging)
    assert ran.returncode == 3, ran.stderr
    with open(tmp_path / "staging" / "reports" / "transform.json") as report:
        assert '"quarantined": 4' in report.read()
    assert rows(pg_uri) == expected(DOCUMENTS, set(REFUSED))
    rules = m2pg("errors", *staging)
    for object_id, rule in REFUSED.items():
        assert any(str(object_id) in line and rule in line for line in rules.stdout.splitlines()), rules.stdout

    # a catch-up: a new row points at a newer one, a fixed row is now a parent, another a new child
    fixed = [*DOCUMENTS[:6], {**DOCUMENTS[6], "name": "six"}, {**DOCUMENTS[7], "rootId": N[6]}]
    fixed += [
        {"_id": oid(8), "name": "new", "parentId": oid(9), "rootId": N[0]},
        {"_id": oid(9), "name": "newer", "rootId": oid(9)},
    ]
    write_dump(tmp_path / "dump", "tree", {"Node": fixed})
    again = m2pg("run", "--dump", str(tmp_path / "dump" / "tree"), "--pg-uri", pg_uri, "--batch-size", "1", *staging)
    assert again.returncode == 3, again.stderr
    assert rows(pg_uri) == expected(fixed, {N[2], N[3], N[4]})
    verified = m2pg("verify", "--full", "--dump", str(tmp_path / "dump" / "tree"), "--pg-uri", pg_uri, *staging)
    assert verified.returncode == 0, verified.stdout + verified.stderr
