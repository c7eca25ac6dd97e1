"""What the stages report, as people read it on a console: reconcile's and verify's tables and
verdicts. The stages return their reports and print nothing; these render them."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from toolkit.stages.reconcile import reasons
from toolkit.stages.verify import LAYERS


def print_reconcile(report: dict, console: Console) -> None:
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
    apart = f"; {other} rows in the target are not this migration's (not in its id map), counted apart" if other else ""
    if report["ok"]:
        console.print(f"reconcile: every document is loaded or quarantined; no orphans{apart}")
    else:
        console.print(Text.assemble("reconcile: ", ("FAILED", "red"), f" in {', '.join(failing)}{apart}"))


def print_verify(report: dict, console: Console) -> None:
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
                console.print(f"  … {result['failure_count'] - len(result['failures'])} more {layer} failures in {t}")
    for t, result in layers["integrity"]["tables"].items():
        if (info := result.get("one_sided")) and info["count"]:
            sides = ", ".join(f"{k} {v}" for k, v in info["by_feed"].items())
            console.print(f"info: {t}: {info['count']} pairs known to one side only ({sides})")
    other = {t: c["other_rows"] for t, c in layers["counts"]["tables"].items() if c.get("other_rows")}
    if other:
        console.print(
            f"info: {sum(other.values())} rows in the target are not this migration's, counted apart ("
            + ", ".join(f"{t} {n}" for t, n in other.items())
            + ")"
        )
    if report["status"] == "pass":
        console.print(
            Text.assemble(
                "verify: ",
                ("PASS", "green"),
                f" — {s['documents']} documents, "
                f"{s['quarantined']} quarantined, {s['tables']} tables checked "
                f"in {s.get('seconds')} s",
            )
        )
    else:
        console.print(
            Text.assemble(
                "verify: ", ("FAILED", "red"), f" — {s['failures']} failures in " + ", ".join(s["failed_tables"])
            )
        )


def describe(failure: dict) -> str:
    where = []
    if "object_id" in failure:
        where.append(f"ObjectId {failure['object_id']}")
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
