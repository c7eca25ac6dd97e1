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
