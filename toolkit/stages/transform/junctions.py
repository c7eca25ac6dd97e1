"""Junction tables: the pairs that the arrays of kept owners name, with ends remapped to the
kept rows' ids, staged as one part; pairs with an end refused or missing are counted, not kept."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import polars as pl

from toolkit.declarations.spec import Junction, ModelSpec
from toolkit.documents.ids import uuids_of
from toolkit.documents.lookup import is_among, pair_keys, pair_places, position
from toolkit.stages.changes import with_digests
from toolkit.stages.transform.outcome import Outcome
from toolkit.staging.layout import Staging, file_record, write_json, write_parquet_slices

SLICE_ROWS = 10_000  # junction rows given their UUIDs and written at once
OBJECT_ID_TEXT = r"^[0-9a-f]{24}$"


def feed_pairs(
    staging: Staging, model: ModelSpec, key: str, outcome: Outcome
) -> Iterator[tuple[pl.DataFrame, int, int]]:
    """A raw part at a time: the pairs that the arrays under `key` of kept owners name (the
    owner's place among the kept ObjectIds, `m2pg_place`, and the other's ObjectId), how many
    elements the arrays of refused owners hold, and how many null elements the kept owners'
    arrays hold (they name no pair). An owner whose `_id` repeats counts once, by its first copy.
    Only these two columns of each part are read. A kept `_id` that the quarantine holds too is
    one that repeats: its first copy was kept, a later one refused as a repeat."""
    known = outcome.kept[model.name]["object_id"]
    paths = sorted(staging.raw_dir(model.source).glob("part-*.parquet"))
    refused = outcome.quarantined[model.name]
    repeated = refused.filter(is_among(refused, known)).unique().implode()
    claimed = pl.Series([], dtype=pl.String)
    for path in paths:
        arrays = pl.read_parquet(path, columns=["m2pg_object_id", key]).drop_nulls("m2pg_object_id")
        place = position(arrays["m2pg_object_id"], known)
        is_kept = place.is_not_null()
        lost = arrays.filter(~is_kept).select(pl.col(key).list.len().sum()).item() or 0
        owners = arrays.with_columns(m2pg_place=place).filter(is_kept)
        ids = owners["m2pg_object_id"]
        twice = ids.is_in(repeated)
        if twice.any():  # the first copy of a repeated owner, in this part and before it
            keep = ~twice | (ids.is_first_distinct() & ~ids.is_in(claimed.implode()))
            claimed = pl.concat([claimed, ids.filter(twice & keep)])
            owners = owners.filter(keep)
        exploded = owners.select("m2pg_place", pl.col(key).alias("other")).explode("other")
        nulls = owners.select(pl.col(key).list.eval(pl.element().is_null()).list.sum().sum()).item() or 0
        yield exploded.drop_nulls("other"), int(lost), int(nulls)


def junction_places(staging: Staging, j: Junction, ends, outcome: Outcome) -> tuple[pl.DataFrame, dict]:
    """One row per distinct pair named on either side, each end held as its place among its
    model's kept ObjectIds (four bytes), distinct and sorted; pairs with a missing end are
    skipped. The owners' arrays are read a raw part at a time, the other ends of a feed's pairs
    looked up at once."""
    pairs, per_feed = [], {}
    skipped = Counter(
        dict.fromkeys(("owner_quarantined", "other_end_quarantined", "other_end_missing", "element_null"), 0)
    )
    by_name = {m.name: m for m in ends}
    for feed in j.feeds:
        owner_side, other_side = j.side_of(feed.model)
        others = outcome.kept[other_side.model]["object_id"]
        refused = outcome.quarantined[other_side.model].implode()
        found: list[pl.DataFrame] = []
        for exploded, lost, nulls in feed_pairs(staging, by_name[feed.model], feed.key, outcome):
            skipped["element_null"] += nulls
            skipped["owner_quarantined"] += lost
            found.append(exploded)
        exploded = pl.concat(found) if found else pl.DataFrame(schema={"m2pg_place": pl.UInt32, "other": pl.String})
        at = position(exploded["other"], others)  # the feed's ids at once: one lookup, not one a part
        missing = exploded["other"].filter(at.is_null())
        in_quarantine = missing.is_in(refused)
        skipped["other_end_quarantined"] += int(in_quarantine.sum())
        skipped["other_end_missing"] += int((~in_quarantine).sum())
        hit = at.is_not_null()
        owner, other = exploded["m2pg_place"].filter(hit), at.filter(hit)
        named = pair_keys(*((owner, other) if owner_side.column == j.left.column else (other, owner))).sort()
        per_feed[f"{feed.model}.{feed.key}"] = named.len()
        pairs.append(named.unique(maintain_order=True))  # sorted: a distinct value is a run
    keys = pl.concat(pairs).sort().unique(maintain_order=True) if len(pairs) > 1 else pairs[0]
    left, right = pair_places(keys)
    places = pl.DataFrame({j.left.column: left, j.right.column: right})
    one_sided = 0
    if len(pairs) == 2:  # pairs named by one side's array and not by the other's
        a, b = pairs
        one_sided = int((~is_among(a, b)).sum()) + int((~is_among(b, a)).sum())
    return places, {
        "table": j.table,
        "rows": places.height,
        "pairs_by_feed": per_feed,
        "skipped_pairs": dict(skipped),
        "pairs_known_to_one_side_only": one_sided,
    }


def uuid_slices(places: pl.DataFrame, j: Junction, outcome: Outcome, rows: int = SLICE_ROWS) -> Iterator[pl.DataFrame]:
    """The pairs with their ends' UUIDs, sorted by both, `rows` pairs at a time (at least one
    frame), so a large table's UUID text is never all held at once. A UUID keeps the order of
    an ObjectId written as 24 lowercase hex digits (`toolkit.documents.ids`), so pairs sorted
    by place are sorted by UUID; should a kept id be written otherwise, all are made at once
    and sorted."""
    ids = {side.column: outcome.kept[side.model]["object_id"] for side in (j.left, j.right)}

    def with_uuids(chunk: pl.DataFrame) -> pl.DataFrame:
        return chunk.select(uuids_of(ids[c].gather(chunk[c])).alias(c) for c in ids)

    if not all(column.str.contains(OBJECT_ID_TEXT).all() for column in ids.values()):
        yield with_uuids(places).sort(j.left.column, j.right.column)
        return
    for at in range(0, max(places.height, 1), rows):
        yield with_uuids(places.slice(at, rows))


def write_junction(staging: Staging, j: Junction, ends, outcome: Outcome, progress=None) -> dict:
    """Stage one junction table as a single part; returns its summary. `ends`: the models at
    its two ends (the owners of the arrays are among them)."""
    task = progress.add_task(j.table, total=1) if progress else None
    places, summary = junction_places(staging, j, ends, outcome)
    _drop_stale_junction(staging, j)
    columns = [j.left.column, j.right.column]
    slices = (with_digests(frame, columns).to_arrow() for frame in uuid_slices(places, j, outcome))
    write_parquet_slices(slices, staging.clean(j.table) / "part-00000.parquet")
    write_json(
        {"parts": {"part-00000.parquet": file_record(staging.clean(j.table) / "part-00000.parquet")}},
        staging.clean(j.table) / "manifest.json",
    )
    if task is not None:
        progress.update(task, advance=1)
    return summary


def _drop_stale_junction(staging: Staging, j: Junction) -> None:
    for path in staging.clean_parts(j.table):
        if path.name != "part-00000.parquet":
            path.unlink()
