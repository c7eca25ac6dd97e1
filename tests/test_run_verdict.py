"""The run's last line: the verdict, with its counts in words."""

import io

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
