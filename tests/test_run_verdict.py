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
