"""`m2pg report` and `m2pg status` show a stage's report as of data no longer staged once an
earlier stage was run again after it: whoever signs off must not read an earlier run's pass as
the current one's."""

import html
import json
import os
import re
import shutil
from pathlib import Path

import adbc_driver_postgresql.dbapi as pg
import pytest

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


@pytest.fixture(scope="module")
def reconciled(dump, pg_server, tmp_path_factory):
    """Every stage up to reconcile run on one staging folder, to copy and age per test."""
    root = tmp_path_factory.mktemp("staging")
    with pg.connect(pg_server.get_uri(), autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE older_version")
    uri = pg_server.get_uri("older_version")
    assert m2pg("schema", "--pg-uri", uri).returncode == 0
    for args in (("extract", "--dump", str(dump)), ("transform",), ("validate",), ("load", "--pg-uri", uri)):
        done = m2pg(*args, "--staging", str(root))
        assert done.returncode in (0, 3), done.stdout + done.stderr
    assert m2pg("reconcile", "--staging", str(root), "--pg-uri", uri).returncode == 3
    return root


def made_by_older(path: Path, edit) -> None:
    """A staged JSON file as an m2pg before a version bump wrote it: same content otherwise, same time."""
    times = path.stat()
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))


@pytest.mark.parametrize(
    "older, refusing, first",
    [
        ("raw", "transform", "extract"),  # extracted before RAW_VERSION's bump: transform refuses its parts
        ("rules", "validate", "transform"),  # transformed before RULES_VERSION's bump, which recorded none
        (None, None, None),
    ],
)
def test_output_of_another_version_is_shown_stale(reconciled, tmp_path, older, refusing, first):
    """`m2pg status` said every stage was done and the report showed reconcile's "ok" as current,
    while the next command refused that output: what the operator signed off on was not this
    version's."""
    root = tmp_path / "staging"
    shutil.copytree(reconciled, root)
    if older == "raw":
        made_by_older(root / "raw" / "Documents" / "manifest.json", lambda m: {**m, "raw_version": "2"})
    if older == "rules":
        made_by_older(
            root / "reports" / "transform.json", lambda r: {k: v for k, v in r.items() if k != "rules_version"}
        )
    stages = ["extract", "transform", "validate", "load", "reconcile"]
    again = stages[stages.index(first) :] if first else []

    lines = {line.split()[0]: line for line in m2pg("status", "--staging", str(root)).stdout.splitlines() if line}
    assert m2pg("report", "--staging", str(root)).returncode == 0
    text = page_text(root)
    if refusing is None:
        assert not any("stale" in lines[stage] for stage in stages), lines
        assert "NOT OF THIS VERSION" not in text and "stale:" not in text and "STALE" not in text
        return
    refused = m2pg(refusing, "--staging", str(root))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    said = refused.stderr.strip().removeprefix(f"error: {refusing}: ")  # the refusing stage's words, reused
    reason, hint = said.split("; hint: ")
    for stage in stages:
        marked = f", stale: {reason} ({hint})" in lines[stage]
        assert marked == (stage in again), lines[stage]
    assert text.split(" m2pg migration report ", 1)[1].startswith(
        f"NOT OF THIS VERSION: the staged output was made by another version of m2pg, and the next command will "
        f"refuse it: {reason}; {hint}. Run `m2pg {first}` again, then every stage after it"
    ), text[:800]
    assert card(text, "reconciliation") == "ok stale: made by another version of m2pg", text[:1200]
    assert card(text, "rows loaded").endswith("stale: made by another version of m2pg"), text[:1200]
    assert card(text, "documents extracted").endswith("stale: made by another version of m2pg") == (first == "extract")
    assert f"STALE: this reconcile report is of output another version of m2pg made: {reason}; {hint}" in text
