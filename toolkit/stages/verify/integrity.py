"""Layer 3, referential integrity: no row names a row that does not exist, whoever wrote it;
for a relation stored on both sides, the pairs only one side knew (informational)."""

from __future__ import annotations

import polars as pl

from toolkit.declarations.spec import Junction, ModelSpec
from toolkit.documents.ids import migrated_object_id
from toolkit.stages.verify.failures import LIMIT, Failures
from toolkit.target.schema import quote

SAMPLES = 5  # examples given for informational findings


def orphans(conn, table: str, where: str, target: str, column: str, label: str) -> tuple[int, list[str]]:
    """Rows of `table` whose `column` names no `target` row, with a few labels of them."""
    count, labels = conn.execute(
        f"SELECT count(*), (array_agg({label} ORDER BY {label}))[1:{LIMIT}] FROM {quote(table)} AS c "
        f"WHERE {where} NOT EXISTS (SELECT 1 FROM {quote(target)} AS t WHERE t.id = c.{quote(column)})"
    ).fetchone()
    return count, labels or []


def named(uuid: str) -> dict[str, str]:
    """How a failure names a row: by its document's ObjectId, or by its id when the app wrote it."""
    object_id = migrated_object_id(uuid)
    return {"object_id": object_id} if object_id else {"id": uuid}


def model_integrity(conn, model: ModelSpec, tables: dict[str, str], nulled: dict, fails: Failures) -> dict:
    found = {}
    for f in model.references:
        target = tables[f.parent.model]
        count, labels = orphans(
            conn,
            model.table,
            f"c.{quote(f.name)} IS NOT NULL AND",
            target,
            f.name,
            f"c.id::text || ' ' || c.{quote(f.name)}::text",
        )
        found[f.name] = count
        for label in labels:
            uuid, missing = label.split()
            fails.add(
                "integrity",
                model.table,
                f"orphan: names {target} {missing}, which does not exist",
                **named(uuid),
                field=f.name,
            )
    return {"orphans": found, "references_nulled": nulled}


def junction_integrity(
    conn, j: Junction, tables: dict[str, str], by_feed: dict[str, pl.DataFrame], fails: Failures
) -> dict:
    found = {}
    for side in (j.left, j.right):
        count, labels = orphans(
            conn,
            j.table,
            "",
            tables[side.model],
            side.column,
            f"c.{quote(j.left.column)}::text || ' ' || c.{quote(j.right.column)}::text",
        )
        found[side.column] = count
        for label in labels:
            a, b = label.split()
            fails.add(
                "integrity",
                j.table,
                f"{side.column} names no {tables[side.model]} row",
                pair={j.left.column: migrated_object_id(a) or a, j.right.column: migrated_object_id(b) or b},
                field=side.column,
            )
    return {"orphans": found, "one_sided": one_sided(j, by_feed)}


def one_sided(j: Junction, by_feed: dict[str, pl.DataFrame]) -> dict | None:
    """For a relation stored on both sides: the pairs only one side knew (informational)."""
    if len(by_feed) != 2:
        return None
    (a, first), (b, second) = by_feed.items()
    only = {
        a: first.join(second, on=[j.left.column, j.right.column], how="anti"),
        b: second.join(first, on=[j.left.column, j.right.column], how="anti"),
    }
    return {
        "count": sum(f.height for f in only.values()),
        "by_feed": {k: f.height for k, f in only.items()},
        "samples": [
            {"known_to": k, "pair": pair}
            for k, f in only.items()
            for pair in f.sort(j.left.column, j.right.column)
            .head(SAMPLES)
            .select(pl.all().bin.encode("hex"))
            .to_dicts()
        ],  # the first by id: the same samples on every run
    }
