"""The source of the catch-up tests: a small NextCRM dataset whose references are arranged so that
one round of edits in MongoDB reaches every case a catch-up must handle, and that round of edits.

A first run migrates `first_source()`; `edit(database, cast)` then changes, adds and deletes
documents as the app would; a second run must leave the target as a fresh migration of the
edited source would.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from bson import Int64, ObjectId
from pymongo.database import Database

from processes import m2pg
from toolkit.generate import sample as generate
from toolkit.runtime.servers import embedded_mongo
from transforms import APP

KEEP = 25  # documents a collection keeps: enough for every role below, small enough to run fast
RENAMED = "Renamed in the source after the first run"
RETITLED = "Retitled in the source after the first run"
SPOILED_EMAIL = "took.a.new.address@example.com"


@dataclass
class Cast:
    """The documents the edits are about, by role (ObjectIds); `new_*` are set by `edit`."""

    kept_user: ObjectId  # stays; the app's rows point at it
    deleted_user: ObjectId
    orphaned_account: ObjectId  # optional reference to deleted_user: becomes NULL
    orphaned_board: ObjectId  # required reference to deleted_user: quarantined
    deleted_board: ObjectId
    orphaned_section: ObjectId  # required reference to deleted_board: quarantined
    kept_board: ObjectId
    kept_section: ObjectId  # keeps its reference to kept_board
    loose_task: ObjectId  # optional reference to orphaned_section: becomes NULL
    renamed_account: ObjectId
    retitled_task: ObjectId
    deleted_contact: ObjectId
    moved_contact: ObjectId  # re-pointed at new_account
    kept_contact: ObjectId
    linked_document: ObjectId  # its account tasks array grows and shrinks; names deleted_contact
    account_tasks: tuple[ObjectId, ObjectId, ObjectId]  # linked 0 and 1 first, then 1 and 2
    spoiled_opportunity: ObjectId  # valid, then int_range; linked to kept_contact
    fixed_user: ObjectId  # quarantined by `enum` first, then fixed
    fixed_board: ObjectId  # quarantined by `reference` first, then fixed
    fixed_section: ObjectId  # quarantined by `quarantined_reference` until fixed_board is fixed
    swapped_users: tuple[ObjectId, ObjectId]  # their emails (unique) change places
    chained_users: tuple[ObjectId, ObjectId]  # the first takes the second's email, the second spoiled_user's
    spoiled_user: ObjectId  # valid, then refused by `enum`, giving its email up; new_user takes deleted_user's
    new_user: ObjectId | None = field(default=None)
    new_account: ObjectId | None = field(default=None)


def _bad(rule: str, collection: str) -> dict:
    return next(d for c, d, r in generate.bad_records(APP, 7) if (c, r) == (collection, rule))


def first_source() -> tuple[generate.Dataset, Cast]:
    """The first `KEEP` documents of each collection of the demo dataset, every record it must
    quarantine, and the references the roles need."""
    data = {c: docs[:KEEP] for c, docs in generate.sample(APP, 7).items()}
    for collection, document, _ in generate.bad_records(APP, 7):
        data[collection].append(document)
    users, accounts, boards, sections, tasks, contacts, documents, account_tasks, opportunities = (
        data[c]
        for c in (
            "Users",
            "crm_Accounts",
            "Boards",
            "Sections",
            "Tasks",
            "crm_Contacts",
            "Documents",
            "crm_Accounts_Tasks",
            "crm_Opportunities",
        )
    )
    cast = Cast(
        kept_user=users[1]["_id"],
        deleted_user=users[3]["_id"],
        orphaned_account=accounts[0]["_id"],
        orphaned_board=boards[0]["_id"],
        deleted_board=boards[1]["_id"],
        orphaned_section=sections[0]["_id"],
        kept_board=boards[2]["_id"],
        kept_section=sections[1]["_id"],
        loose_task=tasks[0]["_id"],
        renamed_account=accounts[1]["_id"],
        retitled_task=tasks[1]["_id"],
        deleted_contact=contacts[0]["_id"],
        moved_contact=contacts[1]["_id"],
        kept_contact=contacts[2]["_id"],
        linked_document=documents[0]["_id"],
        account_tasks=tuple(t["_id"] for t in account_tasks[:3]),
        spoiled_opportunity=opportunities[0]["_id"],
        fixed_user=_bad("enum", "Users")["_id"],
        fixed_board=_bad("reference", "Boards")["_id"],
        fixed_section=_bad("quarantined_reference", "Sections")["_id"],
        swapped_users=(users[5]["_id"], users[6]["_id"]),
        chained_users=(users[7]["_id"], users[8]["_id"]),
        spoiled_user=users[9]["_id"],
    )
    accounts[0]["assigned_to"] = cast.deleted_user
    boards[0]["user"] = cast.deleted_user
    for board in boards[1:3]:
        board["user"] = cast.kept_user
    sections[0]["board"] = cast.deleted_board
    sections[1]["board"] = cast.kept_board
    tasks[0]["section"] = cast.orphaned_section
    documents[0]["crm_accounts_tasksIDs"] = list(cast.account_tasks[:2])
    documents[0]["contactsIDs"] = [cast.deleted_contact, cast.kept_contact]
    opportunities[0]["connected_contacts"] = [cast.kept_contact]
    return data, cast


def edit(database: Database, cast: Cast) -> None:
    """What the app does between two runs: every case of the catch-up, once."""
    gone = database.Users.find_one({"_id": cast.deleted_user})
    assert database.Users.delete_one({"_id": cast.deleted_user}).deleted_count == 1
    user = copy.deepcopy(database.Users.find_one({"_id": cast.kept_user}))
    cast.new_user = user["_id"] = ObjectId()
    user["email"] = gone["email"]  # invited again after leaving
    database.Users.insert_one(user)
    account = copy.deepcopy(database.crm_Accounts.find_one({"_id": cast.renamed_account}))
    cast.new_account = account["_id"] = ObjectId()
    account |= {"name": "Opened after the first run", "assigned_to": cast.new_user}
    database.crm_Accounts.insert_one(account)
    updates = (
        ("crm_Accounts", cast.renamed_account, {"name": RENAMED}),
        ("Tasks", cast.retitled_task, {"title": RETITLED}),
        ("crm_Contacts", cast.moved_contact, {"accountsIDs": cast.new_account}),
        ("Documents", cast.linked_document, {"crm_accounts_tasksIDs": list(cast.account_tasks[1:])}),
        ("crm_Opportunities", cast.spoiled_opportunity, {"budget": Int64(5_000_000_000)}),
        ("Users", cast.fixed_user, {"userStatus": "ACTIVE"}),
        ("Boards", cast.fixed_board, {"user": cast.kept_user}),
    )
    ids = [*cast.swapped_users, *cast.chained_users, cast.spoiled_user]
    emails = {u["_id"]: u["email"] for u in database.Users.find({"_id": {"$in": ids}})}
    (a, b), (c, d) = cast.swapped_users, cast.chained_users
    updates += (  # in an order a unique index on email in MongoDB accepts, as the app's would
        ("Users", cast.spoiled_user, {"email": SPOILED_EMAIL, "userStatus": "NOT_A_STATUS"}),
        ("Users", d, {"email": emails[cast.spoiled_user]}),
        ("Users", c, {"email": emails[d]}),
        ("Users", a, {"email": "between.two.addresses@example.com"}),
        ("Users", b, {"email": emails[a]}),
        ("Users", a, {"email": emails[b]}),
    )
    for collection, object_id, values in updates:
        assert database[collection].update_one({"_id": object_id}, {"$set": values}).modified_count == 1
    for collection, object_id in (
        ("Boards", cast.deleted_board),
        ("crm_Contacts", cast.deleted_contact),
    ):
        assert database[collection].delete_one({"_id": object_id}).deleted_count == 1


def before_and_fresh(pg_server, prefix: str) -> tuple[str, str]:
    """URIs of two new databases: `<prefix>_before` for the first run (a template for copies of
    it), `<prefix>_fresh` for a fresh migration of the edited source."""
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        for name in ("before", "fresh"):
            conn.execute(f"CREATE DATABASE {prefix}_{name}")
    return pg_server.get_uri(f"{prefix}_before"), pg_server.get_uri(f"{prefix}_fresh")


def copy_of_the_first_run(pg_server, prefix: str, staging: Path, tmp_path: Path, name: str) -> tuple[str, Path]:
    """A copy of the first run's target (`<prefix>_before`, app rows included) and of its
    staging folder, for one catch-up to run on."""
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {prefix}_before")
    copied = tmp_path / "staging"
    shutil.copytree(staging, copied)
    return pg_server.get_uri(name), copied


@contextmanager
def first_world(pg_server, tmp_path_factory, database: str, prefix: str) -> Iterator[tuple]:
    """The first source in an embedded server (as `database`) and where its runs go: (server URI,
    cast, the first run's target, the fresh migration's target, the first run's staging folder)."""
    data, cast = first_source()
    with embedded_mongo(tmp_path_factory.mktemp("mongo")) as mongo_uri:
        generate.write_mongo(mongo_uri, database, data)
        before_db, fresh_db = before_and_fresh(pg_server, prefix)
        yield mongo_uri, cast, before_db, fresh_db, tmp_path_factory.mktemp("before")


def run_between(mongo_uri: str, database: str, pg_uri: str, staging: Path, *options: str, kill_at: str | None = None):
    """`m2pg run` from the server's `database` into `pg_uri` through `staging`."""
    return m2pg(
        "run",
        "--mongo-uri",
        mongo_uri,
        "--mongo-db",
        database,
        "--pg-uri",
        pg_uri,
        "--staging",
        str(staging),
        *options,
        kill_at=kill_at,
    )
