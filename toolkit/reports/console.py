"""What the stages report, as people read it on a console: each stage's tables and verdict.
The stages return their reports and print nothing; the commands render them with these."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from toolkit.reports.words import REFUSED, are, counted, were
from toolkit.runtime.redact import redact
from toolkit.sources import coverage
from toolkit.stages.load import PLANNED, WRITES
from toolkit.stages.reconcile import reasons
from toolkit.stages.reports import (
    ExtractReport,
    LoadReport,
    PlanReport,
    ReconcileReport,
    TransformReport,
    ValidateReport,
    VerifyReport,
)
from toolkit.stages.verify import LAYERS
from toolkit.target.schema import SET_ASIDE


def print_warnings(lines: list[str], out: Console) -> None:
    """What is not migrated, one line each, before the stage's last line."""
    for line in lines:
        out.print(Text.assemble(("warning: ", "yellow"), line))


def print_extract(report: ExtractReport, raw: Path, out: Console) -> None:
    """Per collection: documents, parts and what the source holds that is not migrated."""
    table = Table(
        "collection",
        "documents",
        "parts",
        "resumed",
        "type problems",
        "unknown fields",
        title=f"extract from {report['source']}",
    )
    for c in report["collections"]:
        unknown = ", ".join(f"{k} ({v})" for k, v in c["unknown_fields"].items())
        table.add_row(
            c["collection"],
            "absent from the source" if c.get("absent") else str(c["documents"]),
            str(len(c["parts"])),
            str(c["parts_resumed"]),
            str(c["type_problems"]),
            unknown,
        )
    out.print(table)
    print_warnings(coverage.warnings(report["not_migrated"]), out)
    print_warnings(
        [
            f"{c['collection']}: {c['malformed_bytes']} bytes of the source are not well-formed BSON; "
            "they go to the quarantine whole (rules bson and utf8)"
            for c in report["collections"]
            if c.get("malformed_bytes")
        ],
        out,
    )
    out.print(
        f"{counted(report['documents'], 'document')} staged under {raw}; "
        f"parts written {report['parts_written']}, parts kept from the interrupted run {report['parts_resumed']}"
    )
    if "read_before_interruption" in report:
        out.print(read_before_note(report["read_before_interruption"]))
    if "written_while_read" in report:
        out.print(f"extract: {written_while_read_note(report['written_while_read'])}")
    if "trusted_since" in report:
        whole: dict[str, list[str]] = {}
        for c in report["collections"]:
            if "read_whole" in c:
                whole.setdefault(c["read_whole"], []).append(c["collection"])
        out.print(
            f"--trust-updated-at: {counted(report['documents_unread'], 'document')} in "
            f"{counted(report['parts_unread'], 'part')} not read again: the server holds them all and none was "
            f"written after {report['trusted_since']} (less an hour) by the app's updatedAt"
            + "".join(f"; read whole ({why}): {', '.join(names)}" for why, names in sorted(whole.items()))
        )


def print_transform(report: TransformReport, log: Path, quarantine: Path, out: Console) -> None:
    """Per collection and junction table: what was kept, refused and skipped."""
    table = Table(
        "collection", "documents", "clean", "quarantined", "rules", "nulled refs", "dangling ids", title="transform"
    )
    for c in report["collections"]:
        nulled = sum(sum(v.values()) for v in c["nulled_references"].values())
        table.add_row(
            c["collection"],
            str(c["documents"]),
            str(c["clean"]),
            str(c["quarantined"]),
            ", ".join(f"{k} {v}" for k, v in c["by_rule"].items()),
            str(nulled),
            str(sum(c["dangling_ids"].values())),
        )
    out.print(table)
    junctions = Table("junction", "rows", "skipped pairs", "known to one side only", title="junctions")
    for j in report["junctions"]:
        junctions.add_row(
            j["table"], str(j["rows"]), str(sum(j["skipped_pairs"].values())), str(j["pairs_known_to_one_side_only"])
        )
    out.print(junctions)
    out.print(
        f"{counted(report['documents'], 'document')}: {report['clean']} clean, {report['quarantined']} quarantined "
        f"(see {log} and {quarantine}); "
        f"parts done {report['parts_done']}, parts skipped (unchanged) {report['parts_skipped']}"
    )


def print_validate(report: ValidateReport, out: Console) -> None:
    failing = [t for t, r in report["tables"].items() if not r["ok"]]
    out.print(
        f"validate: {counted(len(report['tables']) - len(failing), 'table')} pass"
        + (f", {len(failing)} fail: {', '.join(failing)}" if failing else "")
        + f" ({report['skipped']} unchanged since the last check, not checked again)"
    )


def print_writes(rows: list[dict], names: dict[str, str], title: str, out: Console, shown: tuple[str, ...]) -> None:
    """The tables with something to write or to say (a count in `shown`), and what; `names`:
    the report's key -> its column."""
    listed = [row for row in rows if any(row.get(n) for n in shown)]
    if listed:
        table = Table("table", *names.values(), title=title)
        for row in listed:
            table.add_row(row["table"], *(str(row.get(n, 0)) for n in names))
        out.print(table)


def _refused(count: int) -> str:
    return f" ({count} of them refused by a rule now: quarantined, see `m2pg errors`)" if count else ""


def print_load(report: LoadReport, out: Console) -> None:
    columns = {"inserted": "inserted", "updated": "updated", "deleted": "deleted", "deleted_refused": REFUSED}
    print_writes(report["tables"], {**columns, "unchanged": "unchanged"}, "written", out, WRITES[:3])
    out.print(f"load: {_written(report)} in {counted(len(report['tables']), 'table')} of {report['target']}")


def print_plan(report: PlanReport, out: Console) -> None:
    columns = {"insert": "insert", "update": "update", "delete": "delete", "delete_refused": REFUSED}
    columns |= {"unchanged": "unchanged", "quarantined": "quarantined"}
    print_writes(report["tables"], columns, "a load would write", out, (*PLANNED[:3], "quarantined"))
    if "stop" in report:  # the command ends with why, as an error
        return
    out.print(
        f"plan: a load would insert {counted(report['insert'], 'row')}, update {report['update']}, delete "
        f"{report['delete']}{_refused(report.get('delete_refused', 0))} and leave {report['unchanged']} unchanged "
        f"in {report['target']}; {counted(report['quarantined'], 'document')} {are(report['quarantined'])} "
        "quarantined. Nothing was written to the target."
    )
    if report["left_changed"]:
        out.print(
            f"plan: {counted(report['left_changed'], 'row')} m2pg wrote {were(report['left_changed'])} changed or "
            "deleted in the target by someone else since: a load leaves such rows as they are, unlike the source "
            "(with --overwrite-changed it makes them as the source holds them)"
        )


def read_before_note(kept: dict) -> str:
    """What a resumed extract from a live server kept as an interrupted run read it."""
    names = kept["collections"]
    return (
        f"{counted(len(names), 'collection')} ({', '.join(names)}) {are(len(names))} staged, whole or in part, as "
        f"the server held {'them' if len(names) > 1 else 'it'} during the interrupted run started at {kept['since']}: "
        "edits made since to documents read then are not seen; a next `m2pg run` catches them up"
    )


def written_while_read_note(written: dict) -> str:
    """A live server that took writes while the extract read it, or could not say whether it did."""
    known = written["writes"] is not None
    return (
        (
            f"the server took {counted(written['writes'], 'write')} since the extract began reading it "
            f"({written['since']})"
            if known
            else f"whether the server took writes since the extract began reading it ({written['since']}) is not "
            f"known ({written['unknown']})"
        )
        + ": a document read before a write is staged as it was, one inserted behind the read position is not "
        "staged; a next `m2pg run` once the writes stop catches them up"
    )


def print_run(
    loaded: LoadReport | None,
    quarantined: int,
    out: Console,
    unread: int = 0,
    read_before: dict | None = None,
    nulled: int = 0,
    written: dict | None = None,
) -> None:
    """The run's last line: whether the target now equals the source (None: reconcile failed);
    `unread`: documents the extract took the server's word for, unread (--trust-updated-at);
    `read_before`: collections a resumed extract kept as an interrupted run read them; `written`:
    a live server's writes while the extract read it (or that it could not say); `nulled`:
    optional references to a missing or quarantined document, loaded as NULL where the source
    holds an id (the transform's "nulled refs"), so rows not as the source holds them."""
    if loaded is None:
        out.print("run: the target does NOT equal the source: see reconcile's table above")
        return
    if loaded["left_changed"]:
        out.print(
            f"run: the target does NOT equal the source: {counted(loaded['left_changed'], 'row')} m2pg wrote "
            f"{were(loaded['left_changed'])} changed or deleted in the target by someone else since and "
            f"{are(loaded['left_changed'])} left unlike the source (see the load's warnings); "
            "`m2pg run --overwrite-changed` makes such rows as the source holds them"
        )
        return
    unchanged = not (loaded["inserted"] or loaded["updated"] or loaded["deleted"])
    claim = (
        "the target equals the source as read, not as it may be now"
        if read_before or written
        else "the target equals the source: every document's row is loaded as the source holds it now"
    )
    out.print(
        ("run: nothing to write: " if unchanged else f"run: {_written(loaded)}; ")
        + claim
        + (f", except the {counted(quarantined, 'quarantined document')} (`m2pg errors`)" if quarantined else "")
        + (
            f"; {counted(nulled, 'optional reference')} to a missing or quarantined document {are(nulled)} "
            "loaded as NULL (the transform's nulled refs)"
            if nulled
            else ""
        )
        + (
            f"; for {counted(unread, 'document')} as the app's updatedAt vouches for "
            "(not read again: --trust-updated-at)"
            if unread
            else ""
        )
        + (f"; {read_before_note(read_before)}" if read_before else "")
        + (f"; {written_while_read_note(written)}" if written else "")
        + "; `m2pg verify` compares them value by value"
    )


def _written(loaded: LoadReport) -> str:
    """What the load wrote, in one phrase."""
    return (
        f"{counted(loaded['inserted'], 'row')} inserted, {loaded['updated']} updated, {loaded['deleted']} deleted"
        f"{_refused(loaded.get('deleted_refused', 0))}, {loaded['unchanged']} unchanged"
    )


def print_status(found: dict, out: Console) -> None:
    """`m2pg status`: a row per collection, when each stage last finished, damage, the target."""
    table = Table(
        "collection",
        "extracted",
        "parts",
        "transformed parts",
        "clean",
        "quarantined",
        "checkpoint age",
        title=f"staging {found['root']}",
    )
    for row in found["rows"]:
        table.add_row(*row)
    out.print(table)
    stale, other = found.get("stale", {}), found.get("other_version")
    stages = list(found["stages"])  # in run order: the one to run again, and those after it
    again = (
        {s: f", stale: {other['reason']} ({other['hint']})" for s in stages[stages.index(other["stage"]) :]}
        if other
        else {}
    )
    for stage, age in found["stages"].items():
        line = f"last finished {age} ago" if age else "not finished"
        if age and stage in again:
            line += again[stage]
        elif age and stage in stale:
            line += f", before the last {stale[stage]}: of data no longer staged (run `m2pg {stage}` again)"
        out.print(f"{stage:<10} {line}", soft_wrap=True, markup=False)
    for line in found["damage"]:
        out.print(Text.assemble(("damaged: ", "red"), line), soft_wrap=True)
    if found["target"]:
        print_target(found["target"], out)


def print_target(target: dict, out: Console) -> None:
    loaded, waiting = target["loaded"], target["stored_foreign_keys"]
    out.print(
        f"target {redact(target['uri'])}: "
        + (
            f"{counted(sum(t['rows'] for t in loaded.values()), 'row')} in "
            f"{counted(sum(t['batches'] for t in loaded.values()), 'batch', 'batches')} recorded in "
            f"{target['ledger']}, {counted(len(loaded), 'table')}"
            if loaded
            else "no batch loaded yet"
        )
    )
    writing, began = target.get("writing"), target.get("unfinished_load")
    if writing:
        out.print(f"an m2pg command is writing to the target now ({writing})", highlight=False)
    if began and not writing:
        out.print(
            Text(
                f"the last load, begun {began} UTC, stopped before it finished: run `m2pg load` (or `m2pg run`) "
                "to finish it",
                style="yellow",
            ),
            highlight=False,
        )
    if waiting:
        count = sum(map(len, waiting.values()))
        tables = ", ".join(f"{t} ({len(keys)})" for t, keys in waiting.items())
        why, then = (
            ("the running load puts them back when its rows are in", "wait for it to end")
            if writing
            else ("a load stopped before putting them back", "run `m2pg load` to restore them")
        )
        out.print(
            Text.assemble(
                (
                    f"{counted(count, 'foreign key')} {are(count)} stored in {target['deferred']}, not yet restored "
                    f"({why}), of: {tables}",
                    "yellow",
                ),
                f"\n{then}",
            ),
            highlight=False,
        )
    else:
        out.print("foreign keys: none waiting to be restored")
    aside = target.get("set_aside_indexes")
    if aside:
        count = sum(map(len, aside.values()))
        tables = ", ".join(f"{t} ({len(names)})" for t, names in aside.items())
        then = "the running load builds them when its rows are in" if writing else "run `m2pg load` to build them"
        out.print(
            Text(
                f"{counted(count, 'index', 'indexes')} {are(count)} set aside in {SET_ASIDE}, not yet built again, "
                f"of: {tables}; {then}",
                style="yellow",
            ),
            highlight=False,
        )


def print_reconcile(report: ReconcileReport, console: Console) -> None:
    table = Table(
        "table",
        "source",
        "loaded",
        "quarantined",
        "other rows",
        "orphans",
        "status",
        title=f"reconcile against {report['database']}",
    )
    failing = []
    for row in report["tables"]:
        checks = [o for o in report["orphans"] if o["table"] == row["table"]]
        why = reasons(row, checks)
        if why:
            failing.append(row["table"])
        orphans = None if any(o["orphans"] is None for o in checks) else sum(o["orphans"] for o in checks)
        table.add_row(
            row["table"],
            _cell(row.get("source", row.get("staged"))),
            _cell(row["loaded"]),
            _cell(row.get("quarantined")) if row["kind"] == "model" else "-",
            _cell(row.get("other_rows")),
            _cell(orphans) if checks else "-",
            Text.assemble(("FAIL ", "red"), "; ".join(why)) if why else Text("ok", "green"),
        )
    console.print(table)
    other = sum(row.get("other_rows") or 0 for row in report["tables"])
    apart = ""
    if other:
        apart = (
            f"; {counted(other, 'row')} in the target {are(other)} not this migration's (the app's, anyone's), "
            "counted apart"
        )
    if report.get("unfinished_load"):
        console.print(
            Text.assemble(
                "reconcile: ",
                ("FAILED", "red"),
                f": the last load into this target stopped before it finished (it began {report['unfinished_load']} "
                "UTC, or it is running now); rows may count right while their values are not yet written: run "
                "`m2pg load` (or `m2pg run`) again to finish it",
            )
        )
    if report["ok"]:
        console.print(f"reconcile: every document is loaded or quarantined; no orphans{apart}")
    elif failing or not report.get("unfinished_load"):
        console.print(Text.assemble("reconcile: ", ("FAILED", "red"), f" in {', '.join(failing)}{apart}"))


def print_verify(report: VerifyReport, console: Console) -> None:
    """A table per table and layer, then every failure named: layer, table, ObjectId or pair, field."""
    s, layers = report["summary"], report["layers"]
    what = (
        "every row"
        if s.get("mode") == "full"
        else f"a sample of {s.get('sample')} rows per table (seed {s.get('seed')})"
    )
    grid = Table(
        "table",
        "source",
        "quarantined",
        "loaded",
        "other rows",
        *LAYERS,
        "status",
        title=f"verify {s.get('source', '')} against {s.get('database', '')}: {what}",
    )
    for t, row in report["tables"].items():
        counts = layers["counts"]["tables"][t]
        grid.add_row(
            t,
            _cell(counts.get("source", counts.get("expected"))),
            _cell(counts.get("quarantined", "-")),
            _cell(counts.get("loaded")),
            _cell(counts.get("other_rows")),
            *(_status(row[layer], layers[layer]["tables"][t]["failure_count"]) for layer in LAYERS),
            _status(row["status"], None),
        )
    console.print(grid)
    for layer in LAYERS:
        for t, result in layers[layer]["tables"].items():
            for failure in result["failures"]:
                console.print(Text.assemble(("FAIL ", "red"), f"{layer} {t} ", describe(failure)), soft_wrap=True)
            if result["failure_count"] > len(result["failures"]):
                more = result["failure_count"] - len(result["failures"])
                console.print(f"  … {more} more {layer} {'failure' if more == 1 else 'failures'} in {t}")
    for t, result in layers["integrity"]["tables"].items():
        if (info := result.get("one_sided")) and info["count"]:
            sides = ", ".join(f"{k} {v}" for k, v in info["by_feed"].items())
            console.print(f"info: {t}: {counted(info['count'], 'pair')} known to one side only ({sides})")
    other = {t: c["other_rows"] for t, c in layers["counts"]["tables"].items() if c.get("other_rows")}
    if other:
        apart = sum(other.values())
        console.print(
            f"info: {counted(apart, 'row')} in the target {are(apart)} not this migration's, counted apart ("
            + ", ".join(f"{t} {n}" for t, n in other.items())
            + ")"
        )
    if s.get("mode") == "sample" and (unread := sampled_out(report)):
        console.print(f"info: {unread}")
    if report["status"] == "pass":
        console.print(
            Text.assemble(
                "verify: ",
                ("PASS", "green"),
                f" — {counted(s['documents'], 'document')}, "
                f"{s['quarantined']} quarantined, {counted(s['tables'], 'table')} checked "
                f"in {s.get('seconds')} s",
            )
        )
    else:
        console.print(
            Text.assemble(
                "verify: ",
                ("FAILED", "red"),
                f" — {counted(s['failures'], 'failure')} in " + ", ".join(s["failed_tables"]),
            )
        )


def sampled_out(report: VerifyReport) -> str | None:
    """What a sampled verify did not compare field by field, said beside its verdict."""
    records, expected = report["layers"]["records"]["tables"], report["summary"].get("expected_rows") or 0
    compared = sum(records[t].get("compared") or 0 for t, row in report["tables"].items() if row["kind"] == "model")
    if compared >= expected:
        return None
    return (
        f"a sample: {compared} of {expected} rows compared field by field (every junction pair in full); "
        f"the other {expected - compared} only by counts and column profiles, which miss a change that keeps "
        "a column's totals (a character replaced, two values swapped): `m2pg verify --full` compares every row"
    )


def describe(failure: dict) -> str:
    where = []
    if "object_id" in failure:
        where.append(f"ObjectId {failure['object_id']}")
    elif "id" in failure:  # a row the app wrote: no document names it
        where.append(f"id {failure['id']}")
    if "source_id" in failure:
        where.append(f"_id {failure['source_id']}")
    if "pair" in failure:
        where.append("pair " + " ".join(f"{k}={v}" for k, v in failure["pair"].items()))
    if "field" in failure:
        where.append(f"field {failure['field']}")
    return (", ".join(where) + ": " if where else "") + failure["problem"]


def _cell(value) -> str:
    return "?" if value is None else str(value)


def _status(status: str, failures: int | None) -> Text:
    if status == "pass":
        return Text("ok", "green")
    return Text("FAIL" + (f" ({failures})" if failures else ""), "red")
