"""Browse a staging folder: parts per collection, null rates, sample rows, quarantine by rule.

Run it as a script (`python notebooks/staging_overview.py staging`) or cell by cell in an
editor that understands `# %%` cells.
"""
# %%
import sys
from pathlib import Path

import polars as pl

STAGING = Path(sys.argv[1] if len(sys.argv) > 1 else "staging")

# %% Parts and rows extracted per collection
raw = sorted((STAGING / "raw").glob("*/part-*.parquet"))
parts = pl.DataFrame({"collection": [p.parent.name for p in raw],
                      "rows": [pl.scan_parquet(p).select(pl.len()).collect().item() for p in raw]})
print(parts.group_by("collection").agg(pl.len().alias("parts"), pl.col("rows").sum()).sort("collection"))

# %% Null rate of every clean column, worst first
for table in sorted(p for p in (STAGING / "clean").iterdir() if p.is_dir()):
    frame = pl.read_parquet(sorted(table.glob("part-*.parquet")))
    if frame.height:
        rates = frame.select(pl.all().is_null().mean()).unpivot(variable_name="column", value_name="null_rate")
        print(table.name, frame.height, "rows;", rates.sort("null_rate", descending=True).head(3).rows())

# %% A few clean rows of one table
print(pl.read_parquet(STAGING / "clean" / "crm_Accounts" / "*.parquet").head(3))

# %% Quarantine by collection and rule
quarantine = sorted((STAGING / "quarantine").glob("*/part-*.parquet"))
if quarantine:
    found = pl.concat([pl.read_parquet(p) for p in quarantine])
    print(found.group_by("collection", "rule").agg(pl.len().alias("records"), pl.col("object_id").first())
          .sort("collection", "rule"))
