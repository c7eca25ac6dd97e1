"""Browse the staged Parquet: parts per collection, schemas, null rates and sample rows.

Interactive: `marimo edit notebooks/staging.py`. Headless (prints every table, exits non-zero
if a cell raises): `python notebooks/staging.py`. The staging folder is $M2PG_STAGING
(default `staging`).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full")

with app.setup:
    import os
    from pathlib import Path

    import bson
    import marimo as mo
    import polars as pl
    import polars.selectors as cs
    import pyarrow.parquet as pq
    from bson import json_util
    from bson.codec_options import CodecOptions, DatetimeConversion
    from notebook_view import say, show

    from toolkit.runtime.errors import ConfigError
    from toolkit.staging.layout import Staging, read_json
    from transforms import JUNCTIONS, MODELS

    STAGING = Staging(Path(os.environ.get("M2PG_STAGING", "staging")))
    LAYERS = ("raw", "clean", "quarantine")
    ANY_DATE = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO)  # years < 1 or > 9999 too


@app.function
def rows(parts: list[Path]) -> int:
    """Rows in Parquet parts, from their footers (no data is read)."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in parts)


@app.function
def parts_of(layer: str, name: str) -> list[Path]:
    return sorted((STAGING.root / layer / name).glob("part-*.parquet"))


@app.cell
def _():
    if not (STAGING.root / "raw").is_dir():
        raise ConfigError(
            f"{STAGING.root.resolve()} holds no staged Parquet (no raw/ folder)",
            hint="set M2PG_STAGING to the staging folder, or run `m2pg extract` first",
        )
    say(f"# Staged Parquet in `{STAGING.root.resolve()}`")
    return


@app.cell
def _():
    def manifest(collection: str) -> dict:
        path = STAGING.manifest(collection)
        return read_json(path) if path.exists() else {}

    overview = pl.DataFrame(
        [
            {
                "collection": m.source,
                "table": m.table,
                "extract complete": manifest(m.source).get("complete"),
                "raw parts": len(parts_of("raw", m.source)),
                "raw rows": rows(parts_of("raw", m.source)),
                "clean parts": len(parts_of("clean", m.table)),
                "clean rows": rows(parts_of("clean", m.table)),
                "quarantine parts": len(parts_of("quarantine", m.source)),
                "quarantined": rows(parts_of("quarantine", m.source)),
            }
            for m in MODELS
        ]
        + [
            {
                "collection": None,
                "table": j.table,
                "extract complete": None,
                "raw parts": 0,
                "raw rows": 0,
                "clean parts": len(parts_of("clean", j.table)),
                "clean rows": rows(parts_of("clean", j.table)),
                "quarantine parts": 0,
                "quarantined": 0,
            }
            for j in JUNCTIONS
        ],
        schema_overrides={"collection": pl.String, "extract complete": pl.Boolean},
    )
    show("Parts and rows per collection (raw, clean, quarantine)", overview)
    return


@app.cell
def _():
    def null_rates(parts: list[Path]) -> pl.DataFrame:
        frame = pl.scan_parquet(parts)
        counts = frame.select(pl.len().alias("m2pg_rows"), pl.all().null_count()).collect()
        total = counts["m2pg_rows"][0]
        return (
            counts.drop("m2pg_rows")
            .unpivot(variable_name="column", value_name="nulls")
            .with_columns(null_rate=pl.col("nulls") / pl.max_horizontal(pl.lit(total), pl.lit(1)))
        )

    worst = []
    for table in sorted({m.table for m in MODELS} | {j.table for j in JUNCTIONS}):
        parts = parts_of("clean", table)
        if not parts:
            continue
        rates = null_rates(parts).sort("null_rate", descending=True)
        worst.append(
            {
                "table": table,
                "rows": rows(parts),
                "columns": rates.height,
                "always null": ", ".join(rates.filter(pl.col("null_rate") == 1)["column"]),
                "most nulls": rates["column"][0],
                "its null rate": rates["null_rate"][0],
            }
        )
    show("Null rates of every clean table (a column always null may be a field named wrongly)", pl.DataFrame(worst))
    return (null_rates,)


@app.cell
def _():
    datasets = [
        f"{layer}/{path.name}"
        for layer in LAYERS
        if (STAGING.root / layer).is_dir()
        for path in sorted((STAGING.root / layer).iterdir())
        if parts_of(layer, path.name)
    ]
    default = "clean/crm_Accounts" if "clean/crm_Accounts" in datasets else (datasets or [None])[0]
    dataset = mo.ui.dropdown(datasets, value=default, label="staged Parquet")
    samples = mo.ui.slider(1, 50, value=5, label="sample rows")
    mo.hstack([dataset, samples], justify="start")
    return dataset, samples


@app.cell
def _(dataset, null_rates):
    mo.stop(dataset.value is None, mo.md("Nothing is staged yet."))
    chosen = parts_of(*dataset.value.split("/", 1))
    schema = pl.DataFrame(
        {"column": list(pq.read_schema(chosen[0]).names), "type": [str(t) for t in pq.read_schema(chosen[0]).types]}
    )
    show(
        f"Schema and null rates of {dataset.value} ({len(chosen)} part(s), {rows(chosen)} rows)",
        schema.join(null_rates(chosen), on="column", how="left"),
    )
    return (chosen,)


@app.cell
def _(chosen, dataset, samples):
    def readable(frame: pl.DataFrame) -> pl.DataFrame:
        """Timestamps as text (Python's datetime holds no year before 1 or after 9999), and the
        original BSON document of a raw part as relaxed extended JSON."""
        frame = frame.with_columns(cs.datetime().dt.to_string("%Y-%m-%d %H:%M:%S%.3f"))
        if "m2pg_document" not in frame.columns:
            return frame
        return frame.with_columns(
            pl.col("m2pg_document").map_elements(
                lambda raw: json_util.dumps(bson.decode(raw, ANY_DATE)), return_dtype=pl.String
            )
        )

    show(
        f"First {samples.value} rows of {dataset.value}",
        readable(pl.scan_parquet(chosen).head(samples.value).collect()),
        by_column=True,
    )
    return


if __name__ == "__main__":
    app.run()
