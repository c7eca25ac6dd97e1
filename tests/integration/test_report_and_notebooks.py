"""The HTML report and the marimo notebooks, over a database the real pipeline migrated."""

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import psycopg
import pytest
from bson import ObjectId
from bson.datetime_ms import DatetimeMS
from rich.console import Console

from toolkit.generate import sample as generate
from toolkit.pipeline import QUARANTINED, run_all
from toolkit.reports import error_log
from toolkit.reports.html import render_report, stage_times
from toolkit.sources.readers import DumpSource
from toolkit.stages import extract as extract_mod
from toolkit.staging.layout import Staging
from transforms import APP, JUNCTIONS, MODELS

ROOT = Path(__file__).parents[2]
CHROMIUM = Path("/usr/bin/chromium")
TABLES = [m.table for m in MODELS] + [j.table for j in JUNCTIONS]
CHARTS = ["records per table: loaded and quarantined", "quarantined records by rule", "time per stage"]
EXTERNAL = re.compile(
    r"""(?:src|href|action)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//|@import|url\(\s*["']?(?!data:)""", re.I
)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory, pg_server) -> tuple[Path, str]:
    """(staging folder, database URI) after `run_all` on the demo dataset written as a dump."""
    folder = tmp_path_factory.mktemp("report")
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE report")
    uri = pg_server.get_uri("report")
    generate.write_dump(folder / "dump", "nextcrm", generate.demo_dataset(APP, 7))
    code = run_all(APP, DumpSource(folder / "dump"), uri, folder / "staging", 20000, False, Console(file=io.StringIO()))
    assert code == QUARANTINED
    return folder / "staging", uri


@pytest.fixture(scope="module")
def page(migrated) -> str:
    path = render_report(migrated[0])
    assert path == migrated[0] / "reports" / "report.html"
    return path.read_text(encoding="utf-8")


def images(page: str) -> dict[str, bytes]:
    return {
        alt: base64.b64decode(data)
        for alt, data in re.findall(r'<img alt="([^"]*)" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    }


def test_the_report_is_one_self_contained_page(page):
    assert page.startswith("<!DOCTYPE html>")
    assert not EXTERNAL.search(page), EXTERNAL.search(page)
    assert "<script" not in page.lower() and "<link" not in page.lower()


def test_the_report_names_every_table_and_draws_the_charts(page, migrated):
    assert [t for t in TABLES if t not in page] == []
    charts = images(page)
    assert sorted(charts) == sorted(CHARTS)
    assert all(svg.lstrip().startswith(b"<?xml") and b"<svg" in svg and len(svg) > 5000 for svg in charts.values())
    quarantine = error_log.summary(migrated[0])
    assert all(rule in page for rule in quarantine["rules"])
    assert f"{quarantine['quarantined']} records quarantined" in page


def test_the_report_says_verification_not_run_and_times_every_stage(page, migrated):
    assert re.search(r'id="verification">.*?not run', page, re.S)
    times = {t["stage"]: t for t in stage_times(migrated[0])}
    assert list(times) == ["extract", "transform", "validate", "load", "reconcile"]
    assert times["load"]["how"].startswith("sum of the seconds") and times["validate"]["how"].startswith("file times")
    staging = Staging(migrated[0])
    for stage, key in (("extract", "collections"), ("transform", "collections"), ("load", "tables")):
        recorded = json.loads(staging.report(f"{stage}.json").read_text())[key]
        assert times[stage]["seconds"] == sum(item["seconds"] for item in recorded) > 0, stage
    for stage, before in (("validate", "transform"), ("reconcile", "load")):
        gap = staging.report(f"{stage}.json").stat().st_mtime - staging.report(f"{before}.json").stat().st_mtime
        assert times[stage]["seconds"] == gap > 0, stage


VERIFY = {  # the shape of toolkit.stages.verify's report, with text that must be escaped or redacted
    "status": "fail",
    "summary": {
        "tables": 2,
        "failed_tables": ["crm_Accounts"],
        "layers": {"counts": "pass", "records": "fail"},
        "database": "postgresql://app:hunter2@db.example/nextcrm",
        "note": "<b>check</b>",
        "seconds": 1.5,
    },
    "layers": {
        "counts": {
            "status": "pass",
            "failing_tables": [],
            "tables": {"Users": {"status": "pass", "loaded": 400}, "crm_Accounts": {"status": "pass"}},
        },
        "records": {
            "status": "fail",
            "failing_tables": ["crm_Accounts"],
            "tables": {
                "Users": {"status": "pass", "failure_count": 0, "failures": []},
                "crm_Accounts": {
                    "status": "fail",
                    "failure_count": 1,
                    "failures": [
                        {
                            "object_id": "5c47dd42c4baa874bc268733",
                            "field": "name",
                            "detail": "<script>alert(1)</script>",
                        }
                    ],
                },
            },
        },
    },
    "tables": {
        "crm_Accounts": {"kind": "model", "counts": "pass", "records": "fail", "status": "fail"},
        "Users": {"kind": "model", "counts": "pass", "records": "pass", "status": "pass"},
    },
}


def test_a_verification_is_shown_escaped_and_without_passwords(tmp_path, migrated):
    staging = tmp_path / "staging"
    shutil.copytree(migrated[0], staging)
    (staging / "reports" / "verify.json").write_text(json.dumps(VERIFY))
    page = render_report(staging).read_text(encoding="utf-8")
    verification = page[page.index('id="verification"') : page.index('id="reconciliation"')]
    assert "hunter2" not in page and "postgresql://app:***@db.example/nextcrm" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>check</b>" not in page and "&lt;b&gt;check&lt;/b&gt;" in page
    assert "not run" not in verification
    assert all(name in verification for name in ("layers.records", "failure_count", "5c47dd42c4baa874bc268733"))
    assert verification.count('class="failed"') == 3  # the failing layer, its failing table, the table's row
    assert stage_times(staging)[-1] == {"stage": "verify", "seconds": 1.5, "how": "recorded by the stage"}


def test_references_loaded_as_null_are_counted_on_the_page(tmp_path, migrated):
    """A catch-up whose source quarantined every crm_Industry_Type document loaded 474 accounts with
    `industry` NULL where the source holds an id: the page the migration is signed off on said
    nothing of them (the transform's table and transform.json alone counted them)."""
    staging = tmp_path / "staging"
    shutil.copytree(migrated[0], staging)
    path = staging / "reports" / "transform.json"
    transform = json.loads(path.read_text())
    for c in transform["collections"]:
        c["nulled_references"] = {"industry": {"quarantined": 474}} if c["collection"] == "crm_Accounts" else {}
    path.write_text(json.dumps(transform))
    page = render_report(staging).read_text(encoding="utf-8")
    nulled = page[page.index('id="nulled"') : page.index('id="not-migrated"')]
    assert "474 optional references to a missing or quarantined document loaded as NULL" in nulled
    assert '<td>crm_Accounts</td><td>industry</td><td class="num">0</td><td class="num">474</td>' in nulled
    for c in transform["collections"]:
        c["nulled_references"] = {}
    path.write_text(json.dumps(transform))
    assert 'id="nulled"' not in render_report(staging).read_text(encoding="utf-8")


def test_chromium_renders_the_report(tmp_path, page, migrated):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium): the page was checked as text only")
    np = pytest.importorskip("numpy")
    from matplotlib import image

    shot = tmp_path / "report.png"
    done = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1280,2400",
            f"--screenshot={shot}",
            (migrated[0] / "reports" / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists(), done.stderr
    pixels = image.imread(shot)[:, :, :3]
    assert pixels.shape[:2] == (2400, 1280)
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50  # text, badges and charts, not a blank or error page
    assert (pixels < 0.5).mean() > 0.01  # dark ink covers part of the page


def notebook(name: str, env: dict[str, str | None]) -> subprocess.CompletedProcess:
    merged = {**os.environ, "COLUMNS": "200", **env}
    return subprocess.run(
        [sys.executable, f"notebooks/{name}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={k: v for k, v in merged.items() if v is not None},
        timeout=300,
    )


def expected_output(name: str, staging: Path) -> list[str]:
    if name == "staging.py":
        return [
            "Parts and rows per collection",
            "Schema and null rates of clean/crm_Accounts",
            "First 5 rows of clean/crm_Accounts",
            *(m.source for m in MODELS),
            *(j.table for j in JUNCTIONS),
        ]
    if name == "quarantine.py":
        summary = error_log.summary(staging)
        return [
            f"{summary['quarantined']} record(s) quarantined",
            "The original documents",
            '"$oid"',
            *summary["rules"],
            *summary["collections"],
        ]
    return [
        f"{len(TABLES)} of {len(TABLES)} tables add up",
        "0 differing value(s)",
        "checks find orphans",
        "Your own query",
        *TABLES,
    ]


@pytest.mark.parametrize("name", ["staging.py", "quarantine.py", "reconcile.py"])
def test_each_notebook_runs_headless(name, migrated):
    staging, uri = migrated
    done = notebook(name, {"M2PG_STAGING": str(staging), "M2PG_PG_URI": uri})
    assert done.returncode == 0, done.stderr
    assert [text for text in expected_output(name, staging) if text not in done.stdout] == []


def test_the_reconcile_notebook_finds_a_changed_and_a_missing_row(tmp_path, migrated):
    """Staging that no longer matches the database: one account renamed, another dropped. The
    folder's path holds a backslash, which DuckDB's globs take for an escape."""
    staging = tmp_path / "stag\\ing"
    shutil.copytree(migrated[0], staging)
    part = sorted((staging / "clean" / "crm_Accounts").glob("part-*.parquet"))[0]
    accounts = pl.read_parquet(part)
    renamed = accounts.with_columns(
        name=pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("Renamed <b>")).otherwise("name")
    )
    renamed.slice(0, accounts.height - 1).write_parquet(part)
    done = notebook("reconcile.py", {"M2PG_STAGING": str(staging), "M2PG_PG_URI": migrated[1]})
    assert done.returncode == 0, done.stderr
    values = done.stdout[done.stdout.index("== Values") : done.stdout.index("== Foreign keys")]
    assert "(1 differing value(s)" in values and re.search(r"crm_Accounts\s*┆\s*name\s*┆", values), values
    keys = done.stdout[done.stdout.index("== Keys") : done.stdout.index("== Values")]
    assert re.search(rf"crm_Accounts\s*┆\s*id\s*┆\s*{accounts.height - 1}\s*┆\s*0\s*┆\s*1\s*│", keys), keys


def test_the_staging_and_quarantine_notebooks_read_a_folder_only_extracted(tmp_path, migrated):
    staging = tmp_path / "staging"
    shutil.copytree(migrated[0] / "raw", staging / "raw")
    browse = notebook("staging.py", {"M2PG_STAGING": str(staging)})
    assert browse.returncode == 0 and "Schema and null rates of raw/" in browse.stdout, browse.stderr
    quarantine = notebook("quarantine.py", {"M2PG_STAGING": str(staging)})
    assert quarantine.returncode == 0, quarantine.stderr
    assert "0 record(s) quarantined" in quarantine.stdout and "No quarantined record matches." in quarantine.stdout


def test_the_staging_notebook_shows_raw_documents_with_dates_python_cannot_hold(tmp_path):
    board = {
        "_id": ObjectId(),
        "__v": 0,
        "title": "t",
        "user": ObjectId(),
        "createdAt": DatetimeMS(-63_198_755_200_000),
    }
    generate.write_dump(tmp_path / "dump", "nextcrm", {"Boards": [board]})
    extract_mod.extract(DumpSource(tmp_path / "dump"), Staging(tmp_path / "staging"), MODELS, JUNCTIONS, 250)
    done = notebook("staging.py", {"M2PG_STAGING": str(tmp_path / "staging")})
    assert done.returncode == 0, done.stderr
    assert "First 5 rows of raw/Boards" in done.stdout and "-0033-04-24 22:13:20.000" in done.stdout
    assert '{"_id": {"$oid": "' + str(board["_id"]) in done.stdout


@pytest.mark.parametrize(
    "name, env, says",
    [
        ("staging.py", {"M2PG_STAGING": "{tmp}/nowhere"}, "holds no staged Parquet"),
        ("quarantine.py", {"M2PG_STAGING": "{tmp}/nowhere"}, "is not a staging folder"),
        ("reconcile.py", {"M2PG_PG_URI": None}, "M2PG_PG_URI is not set"),
        ("reconcile.py", {"M2PG_STAGING": "{tmp}/nowhere"}, "holds no staged Parquet"),
        ("reconcile.py", {"M2PG_PG_URI": "postgresql://app:hunter2@127.0.0.1:9/nope"}, "cannot attach PostgreSQL"),
    ],
)
def test_a_notebook_fails_loudly(name, env, says, migrated, tmp_path):
    staging, uri = migrated
    base = {"M2PG_STAGING": str(staging), "M2PG_PG_URI": uri}
    done = notebook(name, base | {k: v and v.format(tmp=tmp_path) for k, v in env.items()})
    assert done.returncode != 0 and says in done.stderr, done.stderr
    assert "hunter2" not in done.stdout + done.stderr


def test_writes_while_read_and_an_unfinished_load_are_said_on_the_page(tmp_path, migrated):
    """The page a migration is signed off on said nothing of a live server written to while the
    extract read it (the console's run line took back its claim) nor of a load that stopped halfway."""
    staging = tmp_path / "staging"
    shutil.copytree(migrated[0], staging)
    extract_path, reconcile_path = staging / "reports" / "extract.json", staging / "reports" / "reconcile.json"
    extract, reconcile = json.loads(extract_path.read_text()), json.loads(reconcile_path.read_text())
    extract["written_while_read"] = {"writes": 4115, "since": "2026-12-05T21:14:03+00:00"}
    reconcile |= {"ok": False, "unfinished_load": "2026-12-05 21:20:00"}
    extract_path.write_text(json.dumps(extract))
    reconcile_path.write_text(json.dumps(reconcile))
    page = " ".join(render_report(staging).read_text(encoding="utf-8").split())
    assert "the server took 4115 writes since the extract began reading it (2026-12-05T21:14:03+00:00)" in page
    assert "The last load into this target stopped before it finished (it began 2026-12-05 21:20:00 UTC)" in page
    extract["written_while_read"] = {"writes": None, "since": "2026-12-05T21:14:03+00:00", "unknown": "no serverStatus"}
    extract_path.write_text(json.dumps(extract))
    assert "is not known (no serverStatus)" in render_report(staging).read_text(encoding="utf-8")
