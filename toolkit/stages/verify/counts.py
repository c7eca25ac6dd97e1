"""Layer 1, counts: every source document is loaded or quarantined, and every junction holds
the distinct pairs whose both ends were loaded."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from toolkit.declarations.spec import Junction, ModelSpec
from toolkit.reports.words import counted
from toolkit.stages.verify.failures import Failures
from toolkit.stages.verify.ownership import expected_ids, migration_pairs, migration_rows, model_rows, quarantined_ids
from toolkit.stages.verify.source import Collection, Quarantine


def count_model(
    con, model: ModelSpec, found: Collection, quarantine: Quarantine, recorded: bool, fails: Failures
) -> dict:
    """`recorded`: whether the target keeps the load's record of the rows it wrote."""
    rows = model_rows(con, model.table, expected_ids(found), quarantined_ids(quarantine), recorded)
    loaded, stale, held = rows["loaded"], rows["stale_rows"], rows["quarantined_rows"]
    result = {
        "collection": model.source,
        "source": found.documents,
        "quarantined": found.quarantined,
        "expected": found.rows.height,
        **rows,
        "quarantine_rows_without_source": quarantine.rows - found.quarantined,
    }
    if found.documents != loaded + found.quarantined:
        fails.add(
            "counts", model.table, f"source {found.documents} != loaded {loaded} + quarantined {found.quarantined}"
        )
    if held:
        fails.add("counts", model.table, f"{counted(held, 'row')} of quarantined documents in the target")
    if stale:
        fails.add(
            "counts",
            model.table,
            f"{counted(stale, 'row')} the migration wrote of documents no longer in the source "
            "(the load of a fresh extract deletes such rows)",
        )
    for doc in found.unloadable:
        fails.add(
            "counts",
            model.table,
            f"not quarantined, yet cannot be loaded: {doc['problem']}",
            object_id=doc.get("object_id"),
            source_id=doc.get("source_id"),
        )
    return result


def count_junction(
    con,
    j: Junction,
    expected: pl.DataFrame,
    by_feed: dict,
    ends: dict[str, pa.Array],
    recorded: bool,
    fails: Failures,
) -> dict:
    """`recorded`: whether the target keeps the load's record of the pairs it wrote."""
    loaded, other = migration_pairs(con, j, expected) if recorded else migration_rows(con, j.table, ends)
    if loaded != expected.height:
        fails.add(
            "counts",
            j.table,
            f"expected {counted(expected.height, 'pair')} (distinct, both ends loaded), found {loaded}",
        )
    return {
        "expected": expected.height,
        "loaded": loaded,
        "other_rows": other,
        "pairs_by_feed": {k: v.height for k, v in by_feed.items()},
    }
