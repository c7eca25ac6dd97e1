"""`m2pg report` and `m2pg status` show a stage's report as of data no longer staged once an
earlier stage was run again after it: whoever signs off must not read an earlier run's pass as
the current one's."""

import html
import re

from processes import m2pg


def page_text(root) -> str:
    page = (root / "reports" / "report.html").read_text()
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def card(text: str, label: str) -> str:
    """What the header card `label` shows, up to the next card."""
    after = text.split(f" {label} ", 1)[1]
    labels = "documents extracted|rows loaded|quarantined|verification|reconciliation|Verification"
    return re.split(rf" (?:{labels}) ", after)[0]


def test_a_report_of_data_no_longer_staged_says_so(dump, pg_uri, tmp_path):
    root = str(tmp_path / "staging")
    assert m2pg("extract", "--dump", str(dump), "--staging", root).returncode == 0
    assert m2pg("report", "--staging", root).returncode == 0
    text = page_text(tmp_path / "staging")
    assert card(text, "quarantined") == "not run", text[:600]  # not "0", nor "No record was quarantined."
    assert "No record was quarantined" not in text
    for args in (("transform",), ("schema", "--pg-uri", pg_uri), ("load", "--pg-uri", pg_uri)):
        assert m2pg(*args, *(() if args[0] == "schema" else ("--staging", root))).returncode in (0, 3)
    assert m2pg("reconcile", "--staging", root, "--pg-uri", pg_uri).returncode == 3
    assert m2pg("report", "--staging", root).returncode == 0
    text = page_text(tmp_path / "staging")
    assert card(text, "reconciliation") == "ok", text[:600]
    assert "STALE" not in text

    assert m2pg("extract", "--dump", str(dump), "--staging", root).returncode == 0  # the source read again
    assert m2pg("report", "--staging", root).returncode == 0
    text = page_text(tmp_path / "staging")
    assert card(text, "reconciliation") == "ok stale: before the last extract", text[:600]
    assert card(text, "rows loaded").endswith("stale: before the last extract"), text[:600]
    assert "STALE: this reconcile report predates the last extract" in text
    done = m2pg("status", "--staging", root)
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.split()[:1] != []}
    assert "before the last extract" in lines["reconcile"] and "before the last extract" in lines["transform"]
    assert "before" not in lines["extract"]
