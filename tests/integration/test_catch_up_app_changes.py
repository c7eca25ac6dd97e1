"""A row m2pg wrote that someone else changed since to point at a row whose document the source
then deleted: its foreign key would set the reference NULL (or refuse the deletion) when the
catch-up deletes that row. The load leaves a changed row as it is unless its document changed too,
so it stops there, naming the row, as at a row someone else wrote; --overwrite-changed writes the
row again as the source holds it, and the deletion then goes through.

And a junction table into which the trial loaded no pair, and into which the app then wrote one
that the source holds by the catch-up: the same fact, kept as the migration's (as in a junction
m2pg had written pairs into before), not a duplicate key that stops the load.

And a row m2pg wrote whose unique value someone else changed since to one a new document then
has: the load leaves the changed row as it is, so it stops before writing, naming the row, as at a
row someone else wrote (not at the duplicate key, with a hint that it is no row of the migration's).

And a row m2pg wrote that someone else deleted since, which a row to load then references (a new
contact of an account the app deleted): the load leaves the deleted row deleted, so it stops before
writing, naming both, not halfway at the foreign key with a hint that blames a row of another's."""

import psycopg
import pytest
from bson import ObjectId

from processes import m2pg
from toolkit.documents.ids import uuid_for
from toolkit.generate import sample as generate
from transforms import APP

SIZES = ("--part-size", "4", "--batch-size", "3")
CASES = {  # child collection and table, its reference (ON DELETE ...), the parent collection
    "set null": ("crm_Contacts", "crm_Contacts", "accountsIDs", "crm_Accounts"),
    "restrict": ("Sections", "Sections", "board", "Boards"),
}


def run(dump, uri: str, staging, *options: str):
    return m2pg("run", "--dump", str(dump), "--pg-uri", uri, "--staging", str(staging), *SIZES, *options)


def said(result) -> str:
    return " ".join((result.stdout + result.stderr).split())


def reference(uri: str, table: str, column: str, object_id) -> str | None:
    with psycopg.connect(uri) as conn:
        found = conn.execute(f'SELECT "{column}"::text FROM "{table}" WHERE id = %s', [uuid_for(str(object_id))])
        return found.fetchone()[0]


@pytest.mark.parametrize("case", list(CASES))
def test_a_changed_row_pointing_at_a_deleted_row_is_left_as_it_is(pg_uri, tmp_path, case):
    collection, table, column, parent_collection = CASES[case]
    trial = {c: documents[:25] for c, documents in generate.sample(APP, 7).items()}
    child, parent = trial[collection][10], trial[parent_collection][6]
    assert child.get(column) != parent["_id"]
    generate.write_dump(tmp_path / "trial", "nextcrm", trial)
    staging = tmp_path / "staging"
    assert run(tmp_path / "trial", pg_uri, staging).returncode in (0, 3)
    loaded = reference(pg_uri, table, column, child["_id"])
    with psycopg.connect(pg_uri) as conn:  # someone re-points the migrated child at the parent
        changed = conn.execute(
            f'UPDATE "{table}" SET "{column}" = %s WHERE id = %s',
            [uuid_for(str(parent["_id"])), uuid_for(str(child["_id"]))],
        )
        assert changed.rowcount == 1
    trial[parent_collection].remove(parent)  # the source deletes the parent; the child's document is as it was
    generate.write_dump(tmp_path / "changed", "nextcrm", trial)

    stopped = run(tmp_path / "changed", pg_uri, staging)
    assert stopped.returncode == 2, stopped.stdout + stopped.stderr
    assert f"row {uuid_for(str(child['_id']))}" in said(stopped), said(stopped)[-1500:]
    assert "someone else changed since it wrote it" in said(stopped)
    assert reference(pg_uri, table, column, child["_id"]) == uuid_for(str(parent["_id"]))  # left as it is
    with psycopg.connect(pg_uri) as conn:
        held = conn.execute(
            f'SELECT count(*) FROM "{parent_collection}" WHERE id = %s', [uuid_for(str(parent["_id"]))]
        ).fetchone()[0]
    assert held == 1  # not deleted under the changed row

    again = run(tmp_path / "changed", pg_uri, staging, "--overwrite-changed")
    assert again.returncode in (0, 3), again.stdout + again.stderr
    assert "the target equals the source" in said(again), said(again)[-1500:]
    assert reference(pg_uri, table, column, child["_id"]) == loaded  # as the source holds it
    verified = m2pg(
        "verify", "--full", "--dump", str(tmp_path / "changed"), "--pg-uri", pg_uri, "--staging", str(staging)
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def pairs(uri: str) -> list[tuple[str, str]]:
    with psycopg.connect(uri) as conn:
        return conn.execute('SELECT account_id::text, user_id::text FROM "AccountWatchers" ORDER BY 1, 2').fetchall()


def test_a_pair_the_app_wrote_into_a_junction_the_trial_left_empty_is_adopted(pg_uri, tmp_path):
    trial = {c: documents[:25] for c, documents in generate.sample(APP, 7).items()}
    for account in trial["crm_Accounts"]:
        account["watchers"] = []
    for user in trial["Users"]:
        user["watching_accountsIDs"] = []
    generate.write_dump(tmp_path / "trial", "nextcrm", trial)
    staging = tmp_path / "staging"
    assert run(tmp_path / "trial", pg_uri, staging).returncode in (0, 3)
    assert pairs(pg_uri) == []
    account, user = trial["crm_Accounts"][2], trial["Users"][10]
    pair = (uuid_for(str(account["_id"])), uuid_for(str(user["_id"])))
    with psycopg.connect(pg_uri) as conn:  # the app: the user watches the account
        conn.execute('INSERT INTO "AccountWatchers" (account_id, user_id) VALUES (%s, %s)', list(pair))
    account["watchers"] = [user["_id"]]  # and so does the source by the catch-up
    generate.write_dump(tmp_path / "changed", "nextcrm", trial)

    planned = run(tmp_path / "changed", pg_uri, staging, "--dry-run")
    assert planned.returncode in (0, 3), planned.stdout + planned.stderr
    caught_up = run(tmp_path / "changed", pg_uri, staging)
    assert caught_up.returncode in (0, 3), caught_up.stdout + caught_up.stderr
    assert "the target equals the source" in " ".join(caught_up.stdout.split())
    assert pairs(pg_uri) == [pair]
    verified = m2pg(
        "verify", "--full", "--dump", str(tmp_path / "changed"), "--pg-uri", pg_uri, "--staging", str(staging)
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    again = run(tmp_path / "changed", pg_uri, staging)  # the pair is the migration's now: nothing to write
    assert again.returncode in (0, 3) and "nothing to write" in " ".join(again.stdout.split()), again.stdout


def holders(uri: str, email: str) -> list[str]:
    with psycopg.connect(uri) as conn:
        return [row[0] for row in conn.execute('SELECT id::text FROM "Users" WHERE email = %s', [email])]


def test_a_unique_value_a_changed_row_keeps_stops_the_load_by_name(pg_uri, tmp_path):
    trial = {c: documents[:25] for c, documents in generate.sample(APP, 7).items()}
    generate.write_dump(tmp_path / "trial", "nextcrm", trial)
    staging = tmp_path / "staging"
    assert run(tmp_path / "trial", pg_uri, staging).returncode in (0, 3)
    changed, renamed = trial["Users"][3], trial["Users"][4]
    with psycopg.connect(pg_uri) as conn:  # the app: a migrated user takes a new email, another a new name
        for column, value, user in (("email", "taken@example.com", changed), ("name", "Renamed", renamed)):
            conn.execute(f'UPDATE "Users" SET {column} = %s WHERE id = %s', [value, uuid_for(str(user["_id"]))])
    newcomer = {"_id": ObjectId(), "email": "taken@example.com"}
    trial["Users"].append(newcomer)  # the source: a new user with that email; the changed one's is as it was
    generate.write_dump(tmp_path / "changed", "nextcrm", trial)

    planned = run(tmp_path / "changed", pg_uri, staging, "--dry-run")
    stopped = run(tmp_path / "changed", pg_uri, staging)
    for result in (planned, stopped):
        assert result.returncode == 2, result.stdout + result.stderr
        held = f"'taken@example.com' is held by row {uuid_for(str(changed['_id']))}"
        assert held in said(result) and "someone else changed since it wrote it" in said(result), said(result)[-1500:]
        assert "more)" not in said(result)  # the renamed user's own email is no clash
    assert holders(pg_uri, "taken@example.com") == [uuid_for(str(changed["_id"]))]  # nothing written

    again = run(tmp_path / "changed", pg_uri, staging, "--overwrite-changed")
    assert again.returncode in (0, 3), again.stdout + again.stderr
    assert "the target equals the source" in said(again), said(again)[-1500:]
    assert holders(pg_uri, changed["email"]) == [uuid_for(str(changed["_id"]))]
    assert holders(pg_uri, "taken@example.com") == [uuid_for(str(newcomer["_id"]))]


def test_a_row_to_load_pointing_at_a_row_someone_deleted_stops_the_load_by_name(pg_uri, tmp_path):
    trial = {c: documents[:25] for c, documents in generate.sample(APP, 7).items()}
    task, comment, account = trial["Tasks"][0], trial["tasksComments"][0], trial["crm_Accounts"][5]
    comment["task"], comment["user"] = task["_id"], trial["Users"][0]["_id"]
    generate.write_dump(tmp_path / "trial", "nextcrm", trial)
    staging = tmp_path / "staging"
    assert run(tmp_path / "trial", pg_uri, staging).returncode in (0, 3)
    assert reference(pg_uri, "tasksComments", "task", comment["_id"]) == uuid_for(str(task["_id"]))
    with psycopg.connect(pg_uri) as conn:  # the app deletes a task (and so its comment) and an account
        for table, document in (("Tasks", task), ("crm_Accounts", account)):
            conn.execute(f'DELETE FROM "{table}" WHERE id = %s', [uuid_for(str(document["_id"]))])
    comment["comment"] = "edited in the source"  # its row stays deleted: not written, no stop
    generate.write_dump(tmp_path / "changed", "nextcrm", trial)
    left = run(tmp_path / "changed", pg_uri, staging)
    assert left.returncode == 1 and "left unlike the source" in said(left), said(left)[-1500:]

    newcomer = {"_id": ObjectId(), "last_name": "New", "accountsIDs": account["_id"]}
    trial["crm_Contacts"].append(newcomer)  # the source: a new contact of the deleted account
    generate.write_dump(tmp_path / "changed", "nextcrm", trial)
    planned = run(tmp_path / "changed", pg_uri, staging, "--dry-run")
    stopped = run(tmp_path / "changed", pg_uri, staging)
    for result in (planned, stopped):
        assert result.returncode == 2, result.stdout + result.stderr
        named = (
            f'row {uuid_for(str(account["_id"]))} of "crm_Accounts", which this migration wrote and someone else '
            f'deleted since, is referenced by "crm_Contacts".accountsIDs of row {uuid_for(str(newcomer["_id"]))}'
        )
        assert named in said(result) and "--overwrite-changed" in said(result), said(result)[-1500:]
    with psycopg.connect(pg_uri) as conn:
        found = conn.execute('SELECT count(*) FROM "crm_Contacts" WHERE id = %s', [uuid_for(str(newcomer["_id"]))])
        assert found.fetchone()[0] == 0  # nothing written

    again = run(tmp_path / "changed", pg_uri, staging, "--overwrite-changed")
    assert again.returncode in (0, 3), again.stdout + again.stderr
    assert "the target equals the source" in said(again), said(again)[-1500:]
    assert reference(pg_uri, "crm_Contacts", "accountsIDs", newcomer["_id"]) == uuid_for(str(account["_id"]))


@pytest.mark.parametrize("on_delete", ["CASCADE", "SET NULL"])
def test_a_row_of_a_table_the_app_added_pointing_at_a_deleted_row_stops_its_deletion(pg_uri, tmp_path, on_delete):
    """A later migration of the app adds a table whose foreign key points at one of the app's
    tables; a row of it the app wrote points at a row whose document the source then deletes. Its
    foreign key would delete that row of the app's or set its reference NULL: the catch-up stops
    there instead, naming it, and goes through once the row is changed."""
    trial = {c: documents[:25] for c, documents in generate.sample(APP, 7).items()}
    account = trial["crm_Accounts"][6]
    generate.write_dump(tmp_path / "trial", "nextcrm", trial)
    staging = tmp_path / "staging"
    assert run(tmp_path / "trial", pg_uri, staging).returncode in (0, 3)
    note = (
        "00000000-0000-4000-8000-000000000001",
        uuid_for(str(account["_id"])),
        "written by the app",
    )
    with psycopg.connect(pg_uri) as conn:
        conn.execute(
            'CREATE TABLE "AccountNotes" (id uuid PRIMARY KEY, account uuid '
            f'REFERENCES "crm_Accounts" (id) ON DELETE {on_delete}, note text)'
        )
        conn.execute('INSERT INTO "AccountNotes" VALUES (%s, %s, %s)', list(note))
    trial["crm_Accounts"].remove(account)
    generate.write_dump(tmp_path / "changed", "nextcrm", trial)

    planned = run(tmp_path / "changed", pg_uri, staging, "--dry-run")
    stopped = run(tmp_path / "changed", pg_uri, staging)
    for result in (planned, stopped):
        assert result.returncode == 2, result.stdout + result.stderr
        assert f'is referenced by public."AccountNotes".account of row ({",".join(note[:2])}' in said(result), said(
            result
        )[-1500:]
    with psycopg.connect(pg_uri) as conn:
        assert conn.execute('SELECT id::text, account::text, note FROM "AccountNotes"').fetchall() == [note]
        conn.execute('UPDATE "AccountNotes" SET account = NULL')
    again = run(tmp_path / "changed", pg_uri, staging)
    assert again.returncode in (0, 3), again.stdout + again.stderr
    with psycopg.connect(pg_uri) as conn:
        gone = conn.execute('SELECT count(*) FROM "crm_Accounts" WHERE id = %s', [note[1]]).fetchone()[0]
    assert gone == 0


def test_the_plan_foresees_a_deletion_stopped_by_a_row_the_app_wrote(pg_uri, tmp_path):
    """After the cut-over the app writes a task of a migrated user whose document the source then
    deletes: the load stops at that deletion (after writing the inserts and updates before it).
    `--dry-run`, the gate a script runs before the window, said exit 3 and nothing of the stop."""
    trial = {c: documents[:25] for c, documents in generate.sample(APP, 7).items()}
    user = trial["Users"][6]
    generate.write_dump(tmp_path / "trial", "nextcrm", trial)
    staging = tmp_path / "staging"
    assert run(tmp_path / "trial", pg_uri, staging).returncode in (0, 3)
    task = "00000000-0000-4000-8000-000000000002"
    with psycopg.connect(pg_uri) as conn:
        conn.execute(
            'INSERT INTO "Tasks" (id, __v, position, priority, title, "user") VALUES (%s, 0, 1, %s, %s, %s)',
            [task, "high", "written by the app", uuid_for(str(user["_id"]))],
        )
    trial["Users"].remove(user)
    generate.write_dump(tmp_path / "changed", "nextcrm", trial)

    planned = run(tmp_path / "changed", pg_uri, staging, "--dry-run")
    assert planned.returncode == 2, planned.stdout + planned.stderr
    named = f'of "Users", whose document is gone from the source, is referenced by "Tasks".user of row {task}'
    stop = 'a load would stop at its deletions from "Users"'
    assert stop in said(planned) and named in said(planned), said(planned)[-1500:]
    with psycopg.connect(pg_uri) as conn:  # the plan wrote nothing: the app's task and the user as they were
        found = conn.execute('SELECT "user"::text FROM "Tasks" WHERE id = %s', [task]).fetchall()
        assert found == [(uuid_for(str(user["_id"])),)]
