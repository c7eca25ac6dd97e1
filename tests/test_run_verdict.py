"""The run's last line: the verdict, with its counts in words."""

import io
import json

import pytest
from rich.console import Console

from toolkit.reports.console import print_run


def loaded(**counts: int) -> dict:
    zero = dict.fromkeys(("rows", "inserted", "updated", "deleted", "deleted_refused", "unchanged", "left_changed"), 0)
    return {"target": "postgresql://h/db", "tables": [], "foreign_keys_restored": 0, **zero, **counts}


def rendered(report: dict | None, quarantined: int) -> str:
    console = Console(file=io.StringIO(), width=400, color_system=None)
    print_run(report, quarantined, console)
    return console.file.getvalue()


@pytest.mark.parametrize(
    ("quarantined", "said"),
    [(1, "except the 1 quarantined document (`m2pg errors`)"), (2, "except the 2 quarantined documents")],
)
def test_the_quarantined_documents_are_counted_in_words(quarantined, said):
    assert said in rendered(loaded(inserted=3, rows=3), quarantined)


def test_nothing_quarantined_says_no_exception():
    text = rendered(loaded(unchanged=3, rows=3), 0)
    assert text.startswith("run: nothing to write: the target equals the source") and "except" not in text


def test_a_failed_reconcile_says_the_target_does_not_equal_the_source():
    assert rendered(None, 5).startswith("run: the target does NOT equal the source")


def test_collections_kept_as_an_interrupted_run_read_them_take_back_the_claim_of_now():
    console = Console(file=io.StringIO(), width=400, color_system=None)
    kept = {"since": "2026-12-05T10:00:00+00:00", "collections": ["Tasks", "Users"]}
    print_run(loaded(updated=2, rows=3), 1, console, read_before=kept)
    text = console.file.getvalue()
    assert text.startswith("run: 0 rows inserted, 2 updated, 0 deleted, 0 unchanged; the target equals the source as")
    assert "as the source holds it now" not in text and "not as it may be now, except the 1 quarantined" in text
    assert "2 collections (Tasks, Users) are staged, whole or in part, as the server held them during the " in text
    assert "interrupted run started at 2026-12-05T10:00:00+00:00: edits made since" in text


def test_references_loaded_as_null_take_back_the_claim_for_their_rows():
    """A catch-up whose source quarantined every crm_Industry_Type document loaded 474 accounts
    with `industry` NULL where the source holds an id, and the run still said every document's row
    was loaded as the source holds it, except the quarantined documents."""
    console = Console(file=io.StringIO(), width=400, color_system=None)
    print_run(loaded(updated=474, rows=600), 101, console, nulled=474)
    text = console.file.getvalue()
    assert "except the 101 quarantined documents (`m2pg errors`); 474 optional references to a missing or " in text
    assert "quarantined document are loaded as NULL (the transform's nulled refs)" in text


def test_the_run_counts_the_nulled_references_of_every_collection(tmp_path):
    from toolkit.pipeline import nulled_count
    from toolkit.staging.layout import Staging

    staging = Staging(tmp_path)
    staging.report("transform.json").parent.mkdir(parents=True)
    collections = [
        {"collection": "crm_Accounts", "nulled_references": {"industry": {"quarantined": 3, "missing": 1}}},
        {"collection": "Tasks", "nulled_references": {}},
        {"collection": "crm_Leads", "nulled_references": {"assigned_to": {"missing": 2}}},
    ]
    staging.report("transform.json").write_text(json.dumps({"collections": collections, "quarantined": 0}))
    assert nulled_count(staging) == 6
    assert nulled_count(Staging(tmp_path / "none")) == 0


def test_a_server_that_cannot_say_whether_it_was_written_takes_back_the_claim_of_now():
    """A user without serverStatus: the run cannot know whether the source changed while read."""
    console = Console(file=io.StringIO(), width=400, color_system=None)
    unknown = {"since": "2026-12-05T10:00:00+00:00", "writes": None, "unknown": "serverStatus: not authorized"}
    print_run(loaded(inserted=3, rows=3), 0, console, written=unknown)
    text = console.file.getvalue()
    assert "the target equals the source as read, not as it may be now" in text and "holds it now" not in text
    assert "whether the server took writes since the extract began reading it (2026-12-05T10:00:00+00:00) is " in text
    assert "not known (serverStatus: not authorized)" in text
