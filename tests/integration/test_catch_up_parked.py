"""A row whose unique value the load moved out of the way (its document deleted, another taking
that value) and which the load did not then delete (it stopped first: killed, or at a row the app
wrote that names it): the target's record of the row said it was as loaded, so when its document
came back as it was, the next catch-up left the moved value in place and said the target equals
the source."""

import copy
import uuid

import psycopg
import pytest

from processes import m2pg
from toolkit.documents.ids import uuid_for
from toolkit.generate import sample as generate
from transforms import APP

SIZES = ("--part-size", "4", "--batch-size", "3")


def dataset() -> dict:
    return {collection: documents[:25] for collection, documents in generate.sample(APP, 7).items()}


def run(dump, uri: str, staging, kill_at: str | None = None):
    return m2pg("run", "--dump", str(dump), "--pg-uri", uri, "--staging", str(staging), *SIZES, kill_at=kill_at)


def email(uri: str, object_id) -> str:
    with psycopg.connect(uri) as conn:
        return conn.execute('SELECT email FROM "Users" WHERE id = %s', [uuid_for(str(object_id))]).fetchone()[0]


@pytest.mark.parametrize("stop", ["killed", "app_row"])
def test_a_moved_value_left_behind_is_written_again_when_its_document_is_back(pg_uri, tmp_path, stop):
    trial = dataset()
    changed = copy.deepcopy(trial)
    gone = changed["Users"].pop(3)
    changed["Users"][4]["email"] = gone["email"]  # another user takes the deleted one's email
    dumps = {}
    for name, data in (("trial", trial), ("changed", changed)):
        generate.write_dump(tmp_path / name, "nextcrm", data)
        dumps[name] = tmp_path / name
    staging = tmp_path / "staging"
    assert run(dumps["trial"], pg_uri, staging).returncode in (0, 3)
    board = str(uuid.uuid4())
    if stop == "killed":  # after the users' changes commit, before the deleted user's row goes
        stopped = run(dumps["changed"], pg_uri, staging, kill_at="load-batch:2")
        assert stopped.returncode == -9, stopped.stdout + stopped.stderr
    else:  # a board the app wrote names the deleted user: the load stops before deleting it
        with psycopg.connect(pg_uri) as conn:
            conn.execute(
                """INSERT INTO "Boards" (id, __v, description, title, "user", "sharedWith") """
                "VALUES (%s, 0, 'app', 'app', %s, '{}')",
                [board, uuid_for(str(gone["_id"]))],
            )
        stopped = run(dumps["changed"], pg_uri, staging)
        assert stopped.returncode == 2, stopped.stdout + stopped.stderr
        with psycopg.connect(pg_uri) as conn:
            conn.execute('DELETE FROM "Boards" WHERE id = %s', [board])
    assert email(pg_uri, gone["_id"]) != gone["email"]  # moved out of the way, its row still there
    again = run(dumps["trial"], pg_uri, staging)  # the source is as in the trial once more
    assert again.returncode in (0, 3) and "target equals the source" in " ".join(again.stdout.split()), again.stdout
    assert email(pg_uri, gone["_id"]) == gone["email"]
    verified = m2pg("verify", "--full", "--dump", str(dumps["trial"]), "--pg-uri", pg_uri, "--staging", str(staging))
    assert verified.returncode == 0, verified.stdout + verified.stderr
