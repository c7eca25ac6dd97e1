"""Reconcile the staged Parquet with the live database in DuckDB: counts, keys, values, orphans.

Interactive: `marimo edit notebooks/reconcile.py`. Headless (prints every check, exits non-zero
if a cell raises): `python notebooks/reconcile.py`. The staging folder is $M2PG_STAGING (default
`staging`), the database $M2PG_PG_URI. PostgreSQL is attached read-only as `pg`; the staged
Parquet is in the views raw."<collection>", clean."<table>" and quarantine."<collection>".
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full")

with app.setup:
    import json
    import os
    from pathlib import Path

    import duckdb
    import marimo as mo
    import polars as pl
    from notebook_view import say, show

    from toolkit.declarations.spec import Kind
    from toolkit.runtime.errors import ConfigError
    from toolkit.runtime.redact import redact
    from toolkit.stages import reconcile
    from toolkit.staging.layout import Staging
    from toolkit.target import duck
    from toolkit.target.schema import quote
    from transforms import APP, JUNCTIONS, MODELS

    STAGING = Staging(Path(os.environ.get("M2PG_STAGING", "staging")))
    PG_URI = os.environ.get("M2PG_PG_URI")
    LAYERS = ("raw", "clean", "quarantine")


@app.function
def records(rows: list[dict], columns: list[str]) -> pl.DataFrame:
    """Check results as one frame with every column in `columns` (a row has an `error` only when
    its query failed); the error column is left out when no query failed."""
    frame = pl.DataFrame(
        [{c: row.get(c) for c in columns} for row in rows], schema=columns, orient="row", infer_schema_length=None
    )
    return frame.drop("error") if frame["error"].null_count() == frame.height else frame


@app.cell
def _():
    if not PG_URI:
        raise ConfigError("M2PG_PG_URI is not set", hint="export M2PG_PG_URI=postgresql://user:password@host/db")
    if not (STAGING.root / "raw").is_dir():
        raise ConfigError(
            f"{STAGING.root.resolve()} holds no staged Parquet (no raw/ folder)",
            hint="set M2PG_STAGING to the staging folder, or run `m2pg extract` first",
        )
    if not any((STAGING.root / "clean").glob("*/part-*.parquet")):
        raise ConfigError(
            f"{STAGING.root.resolve()} holds no transformed rows (clean/ is empty)",
            hint="run `m2pg transform` and `m2pg load` first",
        )
    con = duck.connect(PG_URI, alias=reconcile.PG)
    views = []
    for layer in LAYERS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {layer}")
        for folder in sorted(p for p in (STAGING.root / layer).glob("*") if any(p.glob("part-*.parquet"))):
            parts = reconcile.parquet_files(sorted(p.resolve() for p in folder.glob("part-*.parquet")))
            con.execute(f"CREATE VIEW {layer}.{quote(folder.name)} AS SELECT * FROM {parts}")
            views.append(f"{layer}.{folder.name}")
    say(
        f"# Reconciliation of `{STAGING.root.resolve()}` with `{redact(PG_URI)}`\n\n"
        f"DuckDB has PostgreSQL attached read-only as `pg` and {len(views)} views over the staged Parquet "
        f'(`raw."<collection>"`, `clean."<table>"`, `quarantine."<collection>"`).'
    )
    return (con,)


@app.cell
def _(con):
    counts = records(
        [reconcile.model_row(con, STAGING, m) for m in MODELS]
        + [reconcile.junction_row(con, STAGING, j, {m.name: m.source for m in MODELS}) for j in JUNCTIONS],
        ["table", "kind", "collection", "source", "staged", "quarantined", "loaded", "other_rows", "ok", "error"],
    )
    failing = counts.filter(~pl.col("ok"))
    show(
        f"Counts: source = loaded + quarantined, staged junction pairs = loaded "
        f"({counts.height - failing.height} of {counts.height} tables add up)",
        counts,
    )
    return


@app.cell
def _(con):
    def keys_of(table: str) -> list[str]:
        junction = next((j for j in JUNCTIONS if j.table == table), None)
        return [junction.left.column, junction.right.column] if junction else ["id"]

    def key_difference(table: str) -> dict:
        """Staged keys the database lacks, and database keys this staging did not produce."""
        keys = keys_of(table)
        on = " AND ".join(f"s.{quote(k)} = p.{quote(k)}::varchar" for k in keys)
        first = quote(keys[0])
        row = {"table": table, "key": ", ".join(keys)}
        try:
            staged, missing, unstaged = con.execute(
                f"SELECT count(s.{first}), count(*) FILTER (WHERE p.{first} IS NULL),"
                f" count(*) FILTER (WHERE s.{first} IS NULL)"
                f" FROM clean.{quote(table)} AS s FULL OUTER JOIN pg.{quote(table)} AS p ON {on}"
            ).fetchone()
        except duckdb.Error as error:
            return row | {"error": str(error).splitlines()[0]}
        return row | {"staged": staged, "missing from the database": missing, "in the database, not staged": unstaged}

    tables = [m.table for m in MODELS] + [j.table for j in JUNCTIONS]
    show(
        "Keys: every staged id (or junction pair) is in the database, and nothing else is",
        records(
            [key_difference(t) for t in tables if STAGING.clean_parts(t)],
            ["table", "key", "staged", "missing from the database", "in the database, not staged", "error"],
        ),
    )
    return


@app.cell
def _(con):
    def differing_json(table: str, column: str) -> int:
        """Rows whose JSON differs as a value: jsonb reorders keys, so the text alone may differ."""
        pairs = con.execute(
            f"SELECT s.{quote(column)}, p.{quote(column)}::varchar FROM clean.{quote(table)} AS s"
            f" JOIN pg.{quote(table)} AS p ON s.id = p.id::varchar"
            f" WHERE s.{quote(column)} IS DISTINCT FROM p.{quote(column)}::varchar"
        ).fetchall()
        return sum(a is None or b is None or json.loads(a) != json.loads(b) for a, b in pairs)

    def value_differences(model) -> list[dict]:
        """Per column, the rows whose staged value differs from the loaded one, compared as text."""
        plain = [f for f in model.fields if f.kind is not Kind.JSON]
        table = quote(model.table)
        counts = ", ".join(
            f"count(*) FILTER (WHERE s.{quote(f.name)}::varchar IS DISTINCT FROM p.{quote(f.name)}::varchar)"
            for f in plain
        )
        try:
            compared, *different = con.execute(
                f"SELECT count(*), {counts} FROM clean.{table} AS s JOIN pg.{table} AS p ON s.id = p.id::varchar"
            ).fetchone()
            different += [differing_json(model.table, f.name) for f in model.fields if f.kind is Kind.JSON]
        except duckdb.Error as error:
            return [{"table": model.table, "column": "*", "error": str(error).splitlines()[0]}]
        fields = plain + [f for f in model.fields if f.kind is Kind.JSON]
        return [
            {"table": model.table, "column": f.name, "kind": str(f.kind), "rows compared": compared, "differing": n}
            for f, n in zip(fields, different, strict=False)
        ]

    values = records(
        [row for m in MODELS if STAGING.clean_parts(m.table) for row in value_differences(m)],
        ["table", "column", "kind", "rows compared", "differing", "error"],
    )
    failed = pl.col("error").is_not_null() if "error" in values.columns else pl.lit(False)
    show(
        f"Values: loaded rows equal their staged rows ({values['differing'].sum()} differing value(s) "
        f"in {values.height} columns; the columns that differ or could not be compared)",
        values.filter((pl.col("differing") != 0) | failed),
    )
    return


@app.cell
def _(con):
    orphans = records(
        reconcile.orphan_checks(con, APP, MODELS, JUNCTIONS),
        ["table", "column", "references", "orphans", "ok", "error"],
    )
    show(
        f"Foreign keys: {orphans.filter(~pl.col('ok')).height} of {orphans.height} checks find orphans",
        orphans.sort("ok", "table"),
    )
    return


@app.cell
def _():
    say(
        '## Your own query\n\nEdit the SQL below: `clean."<table>"` is the staged Parquet, '
        '`pg."<table>"` the loaded table (ids are `uuid` there, text in the Parquet).'
    )
    return


@app.cell
def _(con):
    latest = mo.sql(
        """
        SELECT s.id, s.name AS staged_name, p.name AS loaded_name, s."updatedAt"
        FROM clean."crm_Accounts" AS s
        LEFT JOIN pg."crm_Accounts" AS p ON p.id::varchar = s.id
        ORDER BY s."updatedAt" DESC NULLS LAST
        LIMIT 10
        """,
        engine=con,
    )
    return (latest,)


@app.cell
def _(latest):
    if not mo.running_in_notebook():
        show("Your own query: the latest staged accounts next to the loaded ones", latest)
    return


if __name__ == "__main__":
    app.run()
