"""One self-contained HTML page of a run, to read or pass on without the staging folder.

<staging>/reports/report.html   the verification, the reconciliation, the quarantine summary and
                                the run's timings, with charts as inline SVG (no CSS, script or
                                font is fetched). Every text is escaped and every URI redacted.
"""

from __future__ import annotations

import base64
import html
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from matplotlib.figure import Figure

from toolkit.reports import error_log
from toolkit.reports.console import read_before_note, written_while_read_note
from toolkit.reports.words import REFUSED, are, counted, were
from toolkit.runtime.redact import scrub
from toolkit.sources import coverage
from toolkit.staging.layout import Staging, read_json, stale_reports, write_text
from toolkit.status import other_version

REPORT = "report.html"
STAGES = ("extract", "transform", "validate", "load", "reconcile", "verify")  # in run order
PER_PART_SECONDS = {"extract": "collections", "transform": "collections", "load": "tables"}
"""Where a stage's report lists the seconds it spent per collection or table."""
PASSED = {"true", "ok", "pass", "passed", "success", "succeeded"}
FAILED = {"false", "fail", "failed", "error", "errors", "failure"}
LONGEST_CELL = 300  # characters of a nested value shown in a cell
SLOWEST = 10
LOADED, QUARANTINED, TIME = "#3465a4", "#cc0000", "#73d216"


def render_report(staging_root: Path | str) -> Path:
    """Write reports/report.html from the stage reports and the quarantine; return its path."""
    staging = Staging(Path(staging_root))
    reports = {stage: _read(staging.report(f"{stage}.json")) for stage in STAGES}
    quarantine = error_log.summary(staging.root)
    times = stage_times(staging.root)
    other = other_version(staging.root)
    stale = _stale_marks(staging, reports, other)
    body = (
        _header(staging, reports, quarantine, stale, other)
        + _verification(reports["verify"], stale.get("verify"))
        + _reconciliation(reports["reconcile"], stale.get("reconcile"))
        + _writes(reports["load"], stale.get("load"))
        + _quarantine(quarantine, reports["transform"] is not None, stale.get("transform"))
        + _nulled(reports["transform"], stale.get("transform"))
        + _not_migrated(coverage.read(staging.root))
        + _timings(times, reports)
    )
    path = staging.report(REPORT)
    write_text(_page(f"m2pg report: {staging.root}", body), path)
    return path


def stage_times(staging_root: Path | str) -> list[dict]:
    """Per finished stage: seconds and how they were measured.

    extract, transform and load add up the seconds they recorded per collection or table, verify
    reports its own; the others take the time between the previous stage's report and theirs
    (None when the previous report is newer, as after re-running an earlier stage).
    """
    staging = Staging(Path(staging_root))
    times, previous = [], None
    for stage in STAGES:
        path = staging.report(f"{stage}.json")
        if not path.exists():
            continue
        key, report = PER_PART_SECONDS.get(stage), read_json(path)
        recorded = (report.get("summary") or {}).get("seconds") if isinstance(report.get("summary"), dict) else None
        if key:
            seconds = sum(item.get("seconds") or 0 for item in report.get(key, []))
            how = f"sum of the seconds recorded per {'table' if key == 'tables' else 'collection'}"
        elif isinstance(recorded, (int, float)):
            seconds, how = recorded, "recorded by the stage"
        elif previous is None:
            seconds, how = None, "unknown: no earlier report to measure from"
        else:
            gap = path.stat().st_mtime - previous.stat().st_mtime
            seconds = gap if gap >= 0 else None
            how = (
                f"file times: {previous.name} to {path.name} (includes any pause between stages)"
                if gap >= 0
                else f"unknown: {previous.name} is newer than {path.name}"
            )
        times.append({"stage": stage, "seconds": seconds, "how": how})
        previous = path
    return times


# --- sections -------------------------------------------------------------------------------


def _stale_marks(staging: Staging, reports: dict, other: dict | None) -> dict[str, tuple[str, str]]:
    """Stage -> (its card's badge, its section's line) for a report not of what is staged now: of
    data staged before an earlier stage was run again, or of output another version of m2pg made."""
    marks = {
        stage: (
            f"stale: before the last {since}",
            f"STALE: this {stage} report predates the last {since}: it is of data no longer staged; "
            f"run `m2pg {stage}` again",
        )
        for stage, since in stale_reports(staging.root).items()
    }
    if other:
        again = [s for s in STAGES[STAGES.index(other["stage"]) :] if reports[s] is not None]
        marks |= {
            stage: (
                "stale: made by another version of m2pg",
                f"STALE: this {stage} report is of output another version of m2pg made: "
                f"{other['reason']}; {other['hint']}",
            )
            for stage in again
        }
    return marks


def _stale(mark: tuple[str, str] | None) -> str:
    """A line saying a stage's report is not of what is staged now, or nothing."""
    return "" if mark is None else f'<p class="bad">{_t(mark[1])}</p>'


def _card(value: str, mark: tuple[str, str] | None) -> str:
    return value if mark is None else value + f' <span class="badge bad">{_t(mark[0])}</span>'


def _other_version(other: dict | None) -> str:
    """The header's warning that the staged output is another version's, and what to run again."""
    if other is None:
        return ""
    said = (
        "NOT OF THIS VERSION: the staged output was made by another version of m2pg, and the next "
        f"command will refuse it: {other['reason']}; {other['hint']}. Run `m2pg {other['stage']}` again, "
        "then every stage after it: the reports below marked stale do not hold for this version"
    )
    return f'<p class="bad">{_t(said)}</p>'


def _header(
    staging: Staging, reports: dict, quarantine: dict, stale: dict[str, tuple[str, str]], other: dict | None
) -> str:
    extract, load, verify, reconcile = (reports[s] for s in ("extract", "load", "verify", "reconcile"))
    facts = [
        ("staging", staging.root.resolve()),
        ("source", (extract or {}).get("source") or "not extracted"),
        ("target", (reconcile or {}).get("database") or (load or {}).get("target") or "not loaded"),
        ("written", datetime.now(UTC).isoformat(timespec="seconds")),
    ]
    if extract and "trusted_since" in extract:
        facts.append(
            (
                "not read again (--trust-updated-at)",
                f"{extract['documents_unread']} documents in {extract['parts_unread']} parts: none written "
                f"after {extract['trusted_since']} (less an hour) by the app's updatedAt",
            )
        )
    if extract and "written_while_read" in extract:
        facts.append(("source written while read", written_while_read_note(extract["written_while_read"])))
    if extract and "read_before_interruption" in extract:
        facts.append(("read before an interruption", read_before_note(extract["read_before_interruption"])))
    cards = [
        ("documents extracted", _card(_number((extract or {}).get("documents")), stale.get("extract"))),
        (
            "rows loaded",
            _card(_number((load or {}).get("rows")) + _unlike((load or {}).get("left_changed")), stale.get("load")),
        ),
        (
            "quarantined",
            _card(_number(quarantine["quarantined"]), stale.get("transform"))
            if reports["transform"]
            else _badge("not run"),
        ),
        ("verification", _card(_badge(verify.get("status")), stale.get("verify")) if verify else _badge("not run")),
        (
            "reconciliation",
            _card(_badge(reconcile.get("ok")), stale.get("reconcile")) if reconcile else _badge("not run"),
        ),
    ]
    return (
        "<header><h1>m2pg migration report</h1>"
        + _other_version(other)
        + _facts(facts)
        + '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="label">{_t(label)}</div><div class="value">{value}</div></div>'
            for label, value in cards
        )
        + "</div></header>"
    )


def _unlike(left: int | None) -> str:
    """The header's mark of rows the last load left unlike the source."""
    return f' <span class="badge bad">{_t(f"{left} left unlike the source")}</span>' if left else ""


def _verification(verify: dict | None, mark: tuple[str, str] | None) -> str:
    head = '<section id="verification"><h2>Verification</h2>'
    if verify is None:
        return head + _muted("not run: reports/verify.json is absent") + "</section>"
    parts = [_stale(mark) + f"<p>status {_badge(verify.get('status'))}</p>"]
    summary, layers, tables = verify.get("summary"), verify.get("layers"), verify.get("tables")
    if isinstance(summary, dict):
        parts.append(_table(["item", "value"], list(_flatten(summary).items())))
    elif summary is not None:
        parts.append(f"<p>{_t(summary)}</p>")
    if isinstance(layers, dict) and layers:
        overview = {
            name: {k: v for k, v in layer.items() if k != "tables"} if isinstance(layer, dict) else layer
            for name, layer in layers.items()
        }
        parts.append("<h3>Layers</h3>" + _keyed_table(overview, "layer"))
        for name, layer in layers.items():
            per_table = layer.get("tables") if isinstance(layer, dict) else None
            failing = {t: r for t, r in per_table.items() if _failed(r)} if isinstance(per_table, dict) else {}
            if failing:
                parts.append(
                    f"<details open><summary>{_t(name)}: {counted(len(failing), 'failing table')}</summary>"
                    + _keyed_table(failing, "table")
                    + "</details>"
                )
    elif layers:
        parts.append("<h3>Layers</h3>" + _keyed_table(layers, "layer"))
    if tables:
        open_ = isinstance(tables, dict) and any(_failed(r) for r in tables.values())
        parts.append(
            f"<details{' open' if open_ else ''}><summary>tables ({len(tables)})</summary>"
            + _keyed_table(tables, "table")
            + "</details>"
        )
    others = {k: v for k, v in verify.items() if k not in {"status", "summary", "layers", "tables"}}
    if others:
        parts.append("<h3>Other facts</h3>" + _keyed_table(others, "fact"))
    return head + "".join(parts) + "</section>"


def _writes(load: dict | None, mark: tuple[str, str] | None) -> str:
    """What the last load wrote to each table: a trial's inserts, or a catch-up's difference."""
    head = '<section id="load"><h2>Rows written by the last load</h2>' + _stale(mark)
    if load is None:
        return head + _muted("not run: reports/load.json is absent (run `m2pg load`)") + "</section>"
    kinds = ("inserted", "updated", "deleted", "unchanged")
    columns = ("inserted", "updated", "deleted", "deleted_refused", "unchanged", "left_changed")
    rows = [[t["table"], *(t.get(k, 0) for k in columns)] for t in load.get("tables", [])]
    total = "; ".join(f"{_number(load.get(k))} {k}" for k in kinds)
    if load.get("deleted_refused"):
        total += f" ({_number(load['deleted_refused'])} of the deleted refused by a rule now: quarantined)"
    left = load.get("left_changed") or 0
    said = (
        f"the target does NOT equal the source: {counted(left, 'row')} m2pg wrote {were(left)} changed or deleted "
        f"in the target by someone else since and {are(left)} left unlike the source (counted among the unchanged; "
        "--overwrite-changed makes them as the source holds them)"
    )
    unlike = f'<p class="bad">{_t(said)}</p>' if left else ""
    headers = ["table", "inserted", "updated", "deleted", REFUSED, "unchanged", "of them left unlike the source"]
    return head + f"<p>{total}</p>" + unlike + _table(headers, rows, failed=[bool(r[-1]) for r in rows]) + "</section>"


def _reconciliation(reconcile: dict | None, mark: tuple[str, str] | None) -> str:
    head = '<section id="reconciliation"><h2>Reconciliation</h2>' + _stale(mark)
    if reconcile is None:
        return head + _muted("not run: reports/reconcile.json is absent (run `m2pg reconcile`)") + "</section>"
    rows, checks = reconcile.get("tables", []), reconcile.get("orphans", [])
    orphans: dict[str, list] = {}
    for check in checks:
        orphans.setdefault(check["table"], []).append(check["orphans"])
    lines = [
        [
            row["table"],
            row.get("kind"),
            row.get("source", row.get("staged")),
            row.get("loaded"),
            row.get("quarantined", "-"),
            _orphan_total(orphans.get(row["table"])),
            row.get("ok"),
            row.get("error", ""),
        ]
        for row in rows
    ]
    failing = [c for c in checks if not c.get("ok")]
    table = _table(
        ["table", "kind", "source / staged", "loaded", "quarantined", "orphans", "ok", "error"],
        lines,
        failed=[not row.get("ok") for row in rows],
    )
    orphan_table = _table(
        ["table", "column", "references", "orphans", "ok", "error"],
        [[c["table"], c["column"], c["references"], c["orphans"], c.get("ok"), c.get("error", "")] for c in checks],
        failed=[not c.get("ok") for c in checks],
    )
    return (
        head + f"<p>{_badge(reconcile.get('ok'))} against {_t(reconcile.get('database', ''))}: "
        f"{sum(not r.get('ok') for r in rows)} of {len(rows)} tables and {len(failing)} of {len(checks)} "
        f"foreign key checks fail</p>"
        + (
            f"<p>The last load into this target stopped before it finished (it began {_t(began)} UTC): "
            "rows may count right while their values are not yet written.</p>"
            if (began := reconcile.get("unfinished_load"))
            else ""
        )
        + _chart("records per table: loaded and quarantined", _records_chart(rows))
        + table
        + f"<details{' open' if failing else ''}><summary>foreign key checks ({len(checks)})</summary>"
        + orphan_table
        + "</details></section>"
    )


def _quarantine(summary: dict, transformed: bool, mark: tuple[str, str] | None) -> str:
    head = '<section id="quarantine"><h2>Quarantine</h2>' + _stale(mark)
    failures = summary.get("tool_failures", 0)
    failure_line = (
        f'<p class="bad">{counted(failures, "failure")} of m2pg itself logged: see {_t(summary["log"])}</p>'
        if failures
        else ""
    )
    if not transformed:
        said = "not run: reports/transform.json is absent (run `m2pg transform`)"
        return head + _muted(said) + failure_line + "</section>"
    if not summary["quarantined"]:
        return head + _muted("No record was quarantined.") + failure_line + "</section>"
    rules = summary["rules"]
    return (
        head + f"<p>{_number(summary['quarantined'])} {'record' if summary['quarantined'] == 1 else 'records'} "
        f"quarantined in {counted(len(summary['collections']), 'collection')}. "
        f"Record by record: {_t(summary['log'])}</p>"
        + failure_line
        + _chart(
            "quarantined records by rule",
            _bar_chart(list(rules), [r["records"] for r in rules.values()], "records", QUARANTINED),
        )
        + '<div class="columns"><div><h3>By collection</h3>'
        + _table(["collection", "records"], list(summary["collections"].items()))
        + "</div><div><h3>By rule</h3>"
        + _table(
            ["rule", "records", "sample records", "what to fix"],
            [[rule, r["records"], ", ".join(r["samples"]), r["hint"]] for rule, r in rules.items()],
        )
        + "</div></div></section>"
    )


def _nulled(transform: dict | None, mark: tuple[str, str] | None) -> str:
    """Optional references loaded as NULL where the document names a missing or quarantined one:
    rows not as the source holds them, which the transform counts; nothing when there are none."""
    rows = [
        [c["collection"], field, reasons.get("missing", 0), reasons.get("quarantined", 0)]
        for c in (transform or {}).get("collections", [])
        for field, reasons in c["nulled_references"].items()
    ]
    if not rows:
        return ""
    total = sum(missing + quarantined for *_, missing, quarantined in rows)
    return (
        '<section id="nulled"><h2>References loaded as NULL</h2>'
        + _stale(mark)
        + f"<p>{_number(total)} optional {'reference' if total == 1 else 'references'} to a missing or quarantined "
        "document loaded as NULL: these rows are not as the source holds them (fix the referenced document, "
        "or the reference, in MongoDB).</p>"
        + _table(["collection", "field", "to a missing document", "to a quarantined document"], rows)
        + "</section>"
    )


def _not_migrated(found: dict | None) -> str:
    """Warnings: declared collections the source lacks, undeclared collections and fields."""
    head = '<section id="not-migrated"><h2>Not migrated (warnings)</h2>'
    if found is None:
        return head + _muted("not extracted yet: reports/extract.json is absent") + "</section>"
    absent, collections, fields = (
        found.get(k, []) for k in ("absent_collections", "undeclared_collections", "unknown_fields")
    )
    if not (absent or collections or fields):
        return head + _muted("Every collection and field of the source is declared by the app.") + "</section>"
    return (
        head
        + "<p>The source and the app's declarations differ: what follows is not migrated.</p>"
        + (_table(["declared collection absent from the source"], [[name] for name in absent]) if absent else "")
        + (
            _table(
                ["collection not declared by the app", "documents", "sample ids"],
                [[c["collection"], c["documents"], c["sample_ids"]] for c in collections],
            )
            if collections
            else ""
        )
        + (
            _table(
                ["collection", "field not declared by the app", "documents", "sample ids"],
                [[f["collection"], f["field"], f["documents"], f["sample_ids"]] for f in fields],
            )
            if fields
            else ""
        )
        + "</section>"
    )


def _timings(times: list[dict], reports: dict) -> str:
    head = '<section id="timings"><h2>Timings</h2>'
    if not times:
        return head + _muted("no stage has finished yet") + "</section>"
    known = [t["seconds"] for t in times if t["seconds"] is not None]
    slowest = sorted(
        (
            (stage, item.get("collection") or item.get("table"), item["seconds"])
            for stage, key in PER_PART_SECONDS.items()
            if reports[stage]
            for item in reports[stage].get(key, [])
            if item.get("seconds") is not None
        ),
        key=lambda row: -row[2],
    )[:SLOWEST]
    return (
        head
        + f"<p>{_seconds(sum(known))} over {counted(len(known), 'timed stage')}</p>"
        + _chart(
            "time per stage", _bar_chart([t["stage"] for t in times], [t["seconds"] for t in times], "seconds", TIME)
        )
        + _table(["stage", "seconds", "measured by"], [[t["stage"], _seconds(t["seconds"]), t["how"]] for t in times])
        + (
            "<h3>Slowest collections and tables</h3>"
            + _table(["stage", "collection or table", "seconds"], [[s, n, _seconds(v)] for s, n, v in slowest])
            if slowest
            else ""
        )
        + "</section>"
    )


# --- charts ---------------------------------------------------------------------------------


def _records_chart(rows: list[dict]) -> Figure | None:
    if not rows:
        return None
    names = [r["table"] for r in rows]
    loaded = [r.get("loaded") or 0 for r in rows]
    quarantined = [r.get("quarantined") or 0 for r in rows]
    fig = Figure(figsize=(9, 0.8 + 0.2 * len(rows)), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=[3, 1])
    for ax, values, colour, title in (
        (left, loaded, LOADED, "loaded"),
        (right, quarantined, QUARANTINED, "quarantined"),
    ):
        bars = ax.barh(names, values, color=colour)
        ax.bar_label(bars, labels=[f"{v:,}" if v else "" for v in values], fontsize=6, padding=2)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.margins(x=0.15)
    left.invert_yaxis()
    return fig


def _bar_chart(names: list[str], values: list[float | None], unit: str, colour: str) -> Figure | None:
    """One horizontal bar per name; a None value is drawn as an empty bar labelled unknown."""
    if not names:
        return None
    fig = Figure(figsize=(7, 0.8 + 0.3 * len(names)), layout="constrained")
    ax = fig.subplots()
    bars = ax.barh(names, [v or 0 for v in values], color=colour)
    ax.bar_label(
        bars,
        labels=["unknown" if v is None else f"{v:,.3g}" if isinstance(v, float) else f"{v:,}" for v in values],
        fontsize=7,
        padding=2,
    )
    ax.set_xlabel(unit, fontsize=8)
    ax.tick_params(labelsize=8)
    ax.margins(x=0.15)
    ax.invert_yaxis()
    return fig


def _chart(title: str, fig: Figure | None) -> str:
    """The figure as an <img> holding its SVG in a data: URI, so the page needs no other file."""
    if fig is None:
        return ""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<figure class="chart"><img alt="{_t(title)}" src="data:image/svg+xml;base64,{data}">'
        f"<figcaption>{_t(title)}</figcaption></figure>"
    )


# --- html -----------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;
 padding:0 1rem;color:#222;line-height:1.4}
h1{margin-bottom:.3rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2.5rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.failed td{background:#fde8e8}code{font-size:.8rem;word-break:break-all}
.badge{display:inline-block;padding:0 .5rem;border-radius:.6rem;font-weight:600;font-size:.85rem}
.ok{background:#dff3d8;color:#1e6b0f}.bad{background:#fde8e8;color:#a00}.neutral{background:#eee;color:#555}
.muted{color:#777;font-style:italic}.facts td:first-child{font-weight:600}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #ddd;border-radius:.4rem;padding:.5rem 1rem;min-width:9rem}
.card .label{font-size:.75rem;color:#666}.card .value{font-size:1.3rem;font-weight:600}
.columns{display:flex;flex-wrap:wrap;gap:2rem}figure.chart{margin:1rem 0}
figure.chart img{max-width:100%}figcaption{font-size:.8rem;color:#666}
"""


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_t(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n"
    )


def _t(value: object) -> str:
    """Text for the page: any password redacted, then HTML-escaped."""
    return html.escape(scrub(str(value)))


def _muted(text: str) -> str:
    return f'<p class="muted">{_t(text)}</p>'


def _badge(value: object) -> str:
    word = "ok" if value is True else "FAIL" if value is False else "unknown" if value is None else value
    state = str(value).lower()
    kind = "ok" if state in PASSED else "bad" if state in FAILED else "neutral"
    return f'<span class="badge {kind}">{_t(word)}</span>'


def _cell(value: object, badge: bool = False) -> str:
    if value is not None and (badge or isinstance(value, str) and value.lower() in PASSED | FAILED):
        return f"<td>{_badge(value)}</td>"
    if isinstance(value, bool) or value is None:
        return f"<td>{_badge(value)}</td>" if isinstance(value, bool) else "<td>-</td>"
    if isinstance(value, (int, float)):
        return f'<td class="num">{_number(value)}</td>'
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return f"<td>{_t(', '.join(map(str, value)) or '-')}</td>"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, default=str, ensure_ascii=False)
        text = text if len(text) <= LONGEST_CELL else text[:LONGEST_CELL] + " ..."
        return f"<td><code>{_t(text)}</code></td>"
    return f"<td>{_t(value)}</td>"


def _table(columns: list[str], rows: list, failed: list[bool] | None = None) -> str:
    """Rows under `columns`, failing rows tinted; a status or ok column is drawn as badges."""
    failed = failed or [False] * len(rows)
    badges = [c in {"status", "ok"} for c in columns]
    head = "".join(f"<th>{_t(c)}</th>" for c in columns)
    body = "".join(
        ('<tr class="failed">' if bad else "<tr>")
        + "".join(_cell(value, badge) for value, badge in zip(row, badges, strict=False))
        + "</tr>"
        for row, bad in zip(rows, failed, strict=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _keyed_table(value: object, key: str) -> str:
    """A mapping (or list) of records as one table: a column per field, status first."""
    items = (
        list(value.items())
        if isinstance(value, dict)
        else list(enumerate(value, start=1))
        if isinstance(value, list)
        else [("", value)]
    )
    fields: list[str] = []
    for _, record in items:
        for name in record if isinstance(record, dict) else ["value"]:
            if name not in fields:
                fields.append(name)
    fields.sort(key=lambda f: f not in {"status", "ok"})
    rows = [
        [name]
        + (
            [record.get(f) for f in fields]
            if isinstance(record, dict)
            else [record if f == "value" else None for f in fields]
        )
        for name, record in items
    ]
    return _table([key, *fields], rows, [_failed(r) for _, r in items])


def _failed(record: object) -> bool:
    return isinstance(record, dict) and (str(record.get("status")).lower() in FAILED or record.get("ok") is False)


def _flatten(mapping: dict) -> dict:
    """Nested mappings one level up, under dotted keys: {"layers": {"counts": "pass"}} -> layers.counts."""
    return {
        f"{key}.{inner}" if isinstance(value, dict) else key: v
        for key, value in mapping.items()
        for inner, v in (value.items() if isinstance(value, dict) else [(None, value)])
    }


def _facts(facts: list[tuple[str, object]]) -> str:
    return (
        '<table class="facts">' + "".join(f"<tr><td>{_t(k)}</td><td>{_t(v)}</td></tr>" for k, v in facts) + "</table>"
    )


def _orphan_total(counts: list | None) -> int | str | None:
    if not counts:
        return "-"
    return None if any(c is None for c in counts) else sum(counts)


def _number(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.3f}"


def _seconds(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.3f} s"


def _read(path: Path) -> dict | None:
    return read_json(path) if path.exists() else None
