"""The human-readable error log: every quarantined record with what to fix, and m2pg's own failures.

<staging>/reports/errors.log    one block per quarantined record, then the tool failures
<staging>/reports/failures.log  tool failures only, appended by `log_failure`; errors.log
                                ends with a copy, so rewriting errors.log never loses one
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table
from rich.text import Text

from toolkit.reports.words import counted
from toolkit.runtime.redact import scrub
from toolkit.sources import coverage
from toolkit.stages.rules import HINTS
from toolkit.stages.transform.quarantine import QUARANTINE_SCHEMA
from toolkit.staging.layout import Staging, checked_all, write_text

ERRORS_LOG = "errors.log"
FAILURES_LOG = "failures.log"
FAILURES_HEADING = "## Tool failures"  # errors.log's last section starts at this line
SAMPLES = 3
NO_HINT = "read the reason: this rule has no recorded hint"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_RECORD_ID = pl.coalesce("object_id", "source_id", pl.lit("(no _id)")).alias("id")


def write_error_log(staging_root: Path) -> Path:
    """Rewrite errors.log from the quarantine Parquet files, keeping the tool failures."""
    staging = Staging(Path(staging_root))
    records = read_quarantine(staging.root)
    text = (
        _title(staging.root)
        + _records_section(records)
        + _not_migrated_section(staging.root)
        + _failures_section(staging)
    )
    path = staging.report(ERRORS_LOG)
    write_text(text, path)
    return path


def log_failure(staging_root: Path, stage: str, traceback_text: str) -> Path:
    """Append a timestamped failure of m2pg itself to failures.log and to errors.log.

    Reads no Parquet: the failure being logged may be the one that broke reading it.
    """
    staging = Staging(Path(staging_root))
    when = datetime.now(UTC).isoformat(timespec="seconds")
    block = (
        f"### {when} stage {_line(stage)}\n"
        + "".join(f"    {_line(line)}\n" for line in traceback_text.rstrip("\n").split("\n"))
        + "\n"
    )
    write_text(_failures(staging) + block, staging.report(FAILURES_LOG))
    errors = staging.report(ERRORS_LOG)
    head = (
        _records_part(errors.read_text(encoding="utf-8"))
        if errors.exists()
        else (
            _title(staging.root) + "## Quarantined records: not listed yet (errors.log is rewritten after "
            "`m2pg transform`)\n\n"
        )
    )
    write_text(head + _failures_section(staging), errors)
    return errors


def read_quarantine(staging_root: Path) -> pl.DataFrame:
    """Every quarantined record, collections in name order; an empty frame when there is none.
    Each part is checked against the digest transform recorded before it is read."""
    files = checked_all(sorted((Path(staging_root) / "quarantine").glob("*/part-*.parquet")))
    frames = [pl.read_parquet(f, columns=list(QUARANTINE_SCHEMA)).cast(QUARANTINE_SCHEMA) for f in files]
    return pl.concat(frames) if frames else pl.DataFrame(schema=QUARANTINE_SCHEMA)


def summary(staging_root: Path) -> dict:
    """Totals, records per collection, and per rule the count, up to 3 sample records and the hint.
    A sample names its collection before its id: two collections can hold the same `_id`."""
    staging = Staging(Path(staging_root))
    records = read_quarantine(staging.root)
    collections = records.group_by("collection").len().sort("collection")
    rules = (
        records.with_columns(_RECORD_ID, pl.col("rule").fill_null("(none)"))
        .group_by("rule", maintain_order=True)
        .agg(records=pl.len(), samples=pl.format("{} {}", "collection", "id").head(SAMPLES))
        .sort(["records", "rule"], descending=[True, False])
    )
    return {
        "staging": str(staging.root),
        "log": str(staging.report(ERRORS_LOG)),
        "quarantined": records.height,
        "collections": dict(collections.iter_rows()),
        "rules": {
            r["rule"]: {"records": r["records"], "samples": r["samples"], "hint": HINTS.get(r["rule"], NO_HINT)}
            for r in rules.iter_rows(named=True)
        },
        "tool_failures": _count_blocks(_failures(staging)),
        "not_migrated": coverage.warnings(coverage.read(staging.root)),
    }


def print_summary(summary: dict, console: Console) -> None:
    """Rich tables of the quarantine by collection and by rule, then the total."""
    failures = summary.get("tool_failures", 0)
    failure_line = f"; {counted(failures, 'tool failure')} logged" if failures else ""
    for line in summary.get("not_migrated", []):
        console.print(Text.assemble(("warning: ", "yellow"), line))
    if not summary["quarantined"]:
        console.print(Text(f"No record was quarantined{failure_line}. Log: {summary['log']}"))
        return
    by_collection = Table("collection", "records", title="quarantined by collection")
    for collection, count in summary["collections"].items():
        by_collection.add_row(Text(_line(collection)), str(count))
    console.print(by_collection)
    by_rule = Table("rule", "records", "sample records", "hint", title="quarantined by rule")
    for rule, info in summary["rules"].items():
        by_rule.add_row(
            Text(rule), str(info["records"]), Text(", ".join(_line(s) for s in info["samples"])), Text(info["hint"])
        )
    console.print(by_rule)
    console.print(
        Text(
            f"{counted(summary['quarantined'], 'record')} quarantined in "
            f"{counted(len(summary['collections']), 'collection')}{failure_line}. "
            f"What to fix, record by record: {summary['log']}"
        )
    )


def _title(root: Path) -> str:
    when = datetime.now(UTC).isoformat(timespec="seconds")
    return f"# m2pg error log for {_line(str(root))}\nwritten {when}\n\n"


def _records_section(records: pl.DataFrame) -> str:
    if not records.height:
        return "## Quarantined records: 0\n\nNo record was quarantined.\n\n"
    lines = [
        f"## Quarantined records: {records.height} (fix each document in MongoDB, then re-run "
        "`m2pg extract` and `m2pg transform`)\n"
    ]
    for n, r in enumerate(records.iter_rows(named=True), start=1):
        lines += [
            f"### {_line(r['collection'])} {_describe_id(r['object_id'], r['source_id'])} ({n}/{records.height})",
            f"    collection: {_line(r['collection'])}",
            f"    field:      {_line(r['field']) or '(the whole document)'}",
            f"    rule:       {_line(r['rule'])}",
            f"    reason:     {_line(r['reason'])}",
            f"    fix:        {HINTS.get(r['rule'], NO_HINT)}",
            "    document:",
            *(f"        {line}" for line in _pretty(r["document"])),
            "",
        ]
    return "\n".join(lines) + "\n"


def _not_migrated_section(root: Path) -> str:
    """Collections and fields the source holds that the app does not declare, and declared
    collections it lacks: not migrated, so listed here beside the refused records."""
    lines = coverage.warnings(coverage.read(root))
    if not lines:
        return ""
    return (
        f"## Not migrated: {len(lines)} warning(s) (declare them in the app to migrate them, "
        "or ignore them knowingly)\n\n" + "".join(f"- {_line(line)}\n" for line in lines) + "\n"
    )


def _describe_id(object_id: str | None, source_id: str | None) -> str:
    if object_id:
        return f"ObjectId {object_id}"
    if source_id:
        return f"_id {_line(source_id)} (not an ObjectId)"
    return "(no _id)"


def _pretty(document: str | None) -> list[str]:
    """The stored extended JSON indented; text that is not JSON is shown as stored."""
    if document is None:
        return ["(no document stored)"]
    try:
        text = json.dumps(json.loads(document), indent=2, ensure_ascii=False)
    except ValueError:
        text = document
    return [_line(line) for line in text.split("\n")]


def _failures_section(staging: Staging) -> str:
    blocks = _failures(staging)
    count = _count_blocks(blocks)
    if not count:
        return f"{FAILURES_HEADING}: none\n"
    return f"{FAILURES_HEADING}: {count} (m2pg itself failed: report these tracebacks as bugs)\n\n{blocks}"


def _failures(staging: Staging) -> str:
    path = staging.report(FAILURES_LOG)
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _count_blocks(failures: str) -> int:
    """Block headings are the only lines of failures.log that start with ###; tracebacks are indented."""
    return sum(line.startswith("### ") for line in failures.split("\n"))


def _records_part(errors_log: str) -> str:
    """errors.log without its trailing tool-failures section."""
    at = errors_log.find("\n" + FAILURES_HEADING)
    return errors_log if at < 0 else errors_log[: at + 1]


def _line(text: str | None) -> str:
    """One line of the log: control characters escaped (a NUL stays visible), passwords redacted."""
    if text is None:
        return ""
    return scrub(_CONTROL.sub(lambda m: f"\\u{ord(m[0]):04x}", text))
