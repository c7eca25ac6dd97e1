"""Explore the quarantine by rule and collection, with the original documents and what to fix.

Interactive: `marimo edit notebooks/quarantine.py`. Headless (prints the tables and the sample
documents, exits non-zero if a cell raises): `python notebooks/quarantine.py`. The staging
folder is $M2PG_STAGING (default `staging`).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full")

with app.setup:
    import json
    import os
    from pathlib import Path

    import marimo as mo
    import polars as pl
    from notebook_view import say, show

    from toolkit.reports import error_log
    from toolkit.runtime.errors import ConfigError
    from toolkit.staging.layout import Staging

    STAGING = Staging(Path(os.environ.get("M2PG_STAGING", "staging")))
    ALL = "(all)"


@app.function
def pretty(document: str | None) -> str:
    """The stored extended JSON indented; text that is not JSON as stored."""
    if document is None:
        return "(no document stored)"
    try:
        return json.dumps(json.loads(document), indent=2, ensure_ascii=False)
    except ValueError:
        return document


@app.cell
def _():
    if not STAGING.root.is_dir():
        raise ConfigError(
            f"{STAGING.root.resolve()} is not a staging folder",
            hint="set M2PG_STAGING to the staging folder, or run `m2pg extract` and `m2pg transform`",
        )
    records = error_log.read_quarantine(STAGING.root)
    summary = error_log.summary(STAGING.root)
    say(
        f"# Quarantine in `{STAGING.root.resolve()}`\n\n"
        f"{summary['quarantined']} record(s) quarantined in {len(summary['collections'])} collection(s); "
        f"{summary['tool_failures']} failure(s) of m2pg itself logged. Every record with what to fix: "
        f"`{summary['log']}` (rewritten by `m2pg errors`)."
    )
    return records, summary


@app.cell
def _(summary):
    show(
        "By rule: records, sample ids and what to fix",
        pl.DataFrame(
            [
                {"rule": rule, "records": r["records"], "sample ids": ", ".join(r["samples"]), "what to fix": r["hint"]}
                for rule, r in summary["rules"].items()
            ],
            schema={"rule": pl.String, "records": pl.Int64, "sample ids": pl.String, "what to fix": pl.String},
        ),
    )
    return


@app.cell
def _(records):
    by_collection = (
        records.with_columns(pl.col("rule").fill_null("(none)"))
        .pivot(on="rule", index="collection", values="object_id", aggregate_function="len", sort_columns=True)
        .fill_null(0)
    )
    show(
        "By collection and rule (records)",
        by_collection.with_columns(total=pl.sum_horizontal(pl.exclude("collection"))).sort("collection")
        if records.height
        else pl.DataFrame({"collection": [], "total": []}, schema={"collection": pl.String, "total": pl.Int64}),
    )
    return


@app.cell
def _(records):
    rule = mo.ui.dropdown([ALL, *sorted(records["rule"].drop_nulls().unique())], value=ALL, label="rule")
    collection = mo.ui.dropdown([ALL, *sorted(records["collection"].unique())], value=ALL, label="collection")
    samples = mo.ui.slider(1, 50, value=3, label="documents per rule")
    mo.hstack([rule, collection, samples], justify="start")
    return collection, rule, samples


@app.cell
def _(collection, records, rule, samples):
    chosen = records.filter(
        (pl.lit(rule.value == ALL) | (pl.col("rule") == rule.value))
        & (pl.lit(collection.value == ALL) | (pl.col("collection") == collection.value))
    )
    shown = chosen.group_by("rule", maintain_order=True).head(samples.value)
    show(
        f"{chosen.height} record(s) of rule {rule.value} in collection {collection.value}; "
        f"up to {samples.value} per rule",
        shown.select("collection", "object_id", "source_id", "field", "rule", "reason"),
    )
    return (shown,)


@app.cell
def _(shown):
    titles = [
        f"{n}. {r['collection']} {r['object_id'] or r['source_id']}: {r['rule']} on "
        f"{r['field'] or 'the document'} ({r['reason']})"
        for n, r in enumerate(shown.iter_rows(named=True), 1)
    ]
    documents = [pretty(d) for d in shown["document"]]
    if mo.running_in_notebook():
        output = (
            mo.accordion({t: mo.plain_text(d) for t, d in zip(titles, documents, strict=False)})
            if titles
            else mo.md("No quarantined record matches.")
        )
    else:
        print("\n== The original documents")
        print(
            "\n\n".join(f"{t}\n{d}" for t, d in zip(titles, documents, strict=False))
            or "No quarantined record matches."
        )
        output = None
    output
    return


if __name__ == "__main__":
    app.run()
