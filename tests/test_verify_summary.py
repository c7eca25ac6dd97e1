"""verify's console summary: each failure named, the ones beyond the report's limit counted, and
the verdict's count in words."""

import io

import pytest
from rich.console import Console

from toolkit.reports.console import print_verify
from toolkit.stages.verify import LAYERS


def report(named: int, counted: int) -> dict:
    """One table whose records layer failed `counted` times, `named` of them listed."""
    failures = [{"object_id": f"{n:024x}", "field": "name", "problem": "expected 'a', found 'b'"} for n in range(named)]
    layers = {layer: {"tables": {"Users": {"failures": [], "failure_count": 0}}} for layer in LAYERS}
    layers["records"]["tables"]["Users"] = {"failures": failures, "failure_count": counted}
    layers["counts"]["tables"]["Users"] |= {"source": 3, "quarantined": 0, "loaded": 3}
    row = dict.fromkeys(LAYERS, "pass") | {"records": "fail", "status": "fail"}
    summary = {"failures": counted, "failed_tables": ["Users"], "mode": "full"}
    return {"status": "fail", "summary": summary, "layers": layers, "tables": {"Users": row}}


def rendered(found: dict) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    print_verify(found, console)
    return console.file.getvalue()


@pytest.mark.parametrize(
    "named, counted, said",
    [
        (1, 1, ["verify: FAILED — 1 failure in Users"]),
        (1, 2, ["… 1 more records failure in Users", "verify: FAILED — 2 failures in Users"]),
        (2, 5, ["… 3 more records failures in Users", "verify: FAILED — 5 failures in Users"]),
    ],
)
def test_failures_are_counted_in_words(named, counted, said):
    text = rendered(report(named, counted))
    assert text.count("FAIL records Users ObjectId") == named
    for line in said:
        assert line in text, text
    assert ("more records" in text) == (counted > named)


@pytest.mark.parametrize(
    "documents, tables, said", [(1, 1, "1 document, 0 quarantined, 1 table"), (2, 3, "2 documents, 0 quarantined, 3")]
)
def test_a_pass_counts_in_words(documents, tables, said):
    passed = report(0, 0) | {"status": "pass"}
    passed["summary"] = {"documents": documents, "quarantined": 0, "tables": tables, "seconds": 0.1, "mode": "full"}
    assert f"verify: PASS — {said}" in rendered(passed)


def sampled(compared: int, expected: int) -> dict:
    """A sampled verify that passed, having compared `compared` of `expected` rows field by field."""
    passed = report(0, 0) | {"status": "pass"}
    passed["summary"] = {"documents": expected, "quarantined": 0, "tables": 1, "seconds": 0.1, "mode": "sample"}
    passed["summary"] |= {"sample": 100, "seed": 7, "expected_rows": expected}
    passed["tables"]["Users"] |= dict.fromkeys(LAYERS, "pass") | {"kind": "model", "status": "pass"}
    passed["layers"]["records"]["tables"]["Users"]["compared"] = compared
    return passed


def test_a_sampled_pass_says_how_many_rows_it_did_not_compare():
    text = rendered(sampled(100, 350))
    assert "100 of 350 rows compared field by field" in text
    assert "the other 250 only by counts and column profiles" in text
    assert "`m2pg verify --full` compares every row" in text
    assert "field by field" not in rendered(sampled(350, 350))  # a sample that held every row
