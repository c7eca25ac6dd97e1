"""`m2pg report` says when the last load left rows unlike the source: `run` then ends with "the
target does NOT equal the source" and exit 1, and the page must not read as a clean catch-up."""

import html
import re

import psycopg

from processes import m2pg


def page_text(root) -> str:
    page = (root / "reports" / "report.html").read_text()
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_the_report_names_rows_the_load_left_unlike_the_source(dump, pg_uri, tmp_path):
    root = str(tmp_path / "staging")
    run = ("run", "--dump", str(dump), "--staging", root, "--pg-uri", pg_uri)
    assert m2pg(*run).returncode == 3
    with psycopg.connect(pg_uri, autocommit=True) as conn:  # the app edits a migrated account
        conn.execute(
            """UPDATE "crm_Accounts" SET name = name || ' (edited)'
               WHERE id = (SELECT id FROM "crm_Accounts" ORDER BY id LIMIT 1)"""
        )
    done = m2pg(*run)
    assert done.returncode == 1 and "the target does NOT equal the source" in done.stdout, done.stdout + done.stderr
    assert m2pg("report", "--staging", root).returncode == 0
    text = page_text(tmp_path / "staging")
    assert re.search(r" rows loaded [\d,]+ 1 left unlike the source ", text), text[:600]
    assert (
        "the target does NOT equal the source: 1 row m2pg wrote was changed or deleted in the target by someone "
        "else since and is left unlike the source" in text
    ), text
    assert re.search(r" crm_Accounts 0 0 0 0 \d+ 1 ", text), text
