"""Transform: staged documents -> rows exactly as loaded, quarantine, and junction rows.

Models run in load order, so a reference is judged against what its target collection
kept: present and clean (remapped by a join on the ID lookup frame), quarantined, or missing.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa
from bson import decode as bson_decode
from bson.json_util import RELAXED_JSON_OPTIONS, dumps

from toolkit.decode import CODEC, decode_chunk
from toolkit.extract import feeds_of
from toolkit.ids import uuids_of
from toolkit.progress import bars
from toolkit.rules import field_rules, indexed_columns, problem, unique_rules
from toolkit.spec import NOW, Field, Junction, Kind, ModelSpec
from toolkit.staging import Staging, write_json, write_parquet
from toolkit.errors import ConfigError

QUARANTINE_SCHEMA = {"collection": pl.String, "object_id": pl.String, "source_id": pl.String,
                     "field": pl.String, "rule": pl.String, "reason": pl.String, "document": pl.String}


@dataclass
class Outcome:
    """What earlier models left behind, for judging the references of later ones."""

    kept: dict[str, pl.DataFrame] = field(default_factory=dict)  # object_id, id
    quarantined: dict[str, pl.Series] = field(default_factory=dict)
    idmaps: dict[str, pl.DataFrame] = field(default_factory=dict)
    feeds: dict[str, pl.DataFrame] = field(default_factory=dict)  # clean owners' junction arrays
    lost_feeds: dict[str, pl.DataFrame] = field(default_factory=dict)  # quarantined owners' arrays


def read_raw(staging: Staging, model: ModelSpec, feeds: tuple[str, ...]) -> pl.DataFrame:
    folder = staging.raw_dir(model.source)
    if not staging.manifest(model.source).exists():
        raise ConfigError(f"{model.source} has not been extracted to {folder}",
                          stage="transform", hint="run `m2pg extract` first")
    files = sorted(folder.glob("part-*.parquet"))
    if files:
        return pl.read_parquet(files)
    return _empty_raw(model, feeds)


def _empty_raw(model: ModelSpec, feeds) -> pl.DataFrame:
    return pl.from_arrow(decode_chunk(b"", model, feeds))


def judge(raw: pl.DataFrame, model: ModelSpec, enums, outcome: Outcome) -> pl.DataFrame:
    """Attach `problems` (a list of {field, rule, reason}) and the remapped references."""
    extracted = pl.col("m2pg_problems").list.len() > 0
    rules = pl.concat_list(field_rules(model, enums, indexed_columns(model))).list.drop_nulls()
    frame = raw.with_columns(problems=pl.when(extracted).then(pl.col("m2pg_problems")).otherwise(rules))
    clean = pl.col("problems").list.len() == 0
    uniques = unique_rules(model, clean)
    frame = frame.with_columns(problems=pl.concat_list(["problems", *uniques]).list.drop_nulls())
    for f in model.references:
        frame = _reference(frame, f, outcome)
    return frame


def _reference(frame: pl.DataFrame, f: Field, outcome: Outcome) -> pl.DataFrame:
    """Remap one foreign key by a join; a required one that points nowhere is a problem."""
    target = f.references.model
    kept = outcome.kept[target].rename({"object_id": f.key, "id": f"m2pg_ref_{f.name}"})
    frame = frame.join(kept, on=f.key, how="left", maintain_order="left")
    dangling = pl.col(f.key).is_not_null() & pl.col(f"m2pg_ref_{f.name}").is_null()
    quarantined = pl.col(f.key).is_in(outcome.quarantined[target].implode())
    frame = frame.with_columns(**{f"m2pg_miss_{f.name}": pl.when(~dangling).then(None)
                                  .when(quarantined).then(pl.lit("quarantined")).otherwise(pl.lit("missing"))})
    if f.required:
        reason = pl.when(quarantined).then(problem(
            f.name, "quarantined_reference",
            pl.format(f"{f.name}: {target} {{}} is quarantined, so this record cannot reference it", pl.col(f.key))
        )).otherwise(problem(
            f.name, "reference", pl.format(f"{f.name}: {target} {{}} does not exist", pl.col(f.key))))
        flagged = pl.when(dangling & (pl.col("problems").list.len() == 0)).then(reason)
        frame = frame.with_columns(problems=pl.concat_list(["problems", flagged]).list.drop_nulls())
    return frame


def clean_rows(good: pl.DataFrame, model: ModelSpec, idmaps, report: dict) -> pl.DataFrame:
    """The rows to load: declared columns in order, defaults applied, ids as UUID text."""
    created = (pl.col("m2pg_object_id").str.slice(0, 8).str.to_integer(base=16) * 1000).cast(pl.Datetime("ms"))
    out = {}
    for f in model.fields:
        if f.key == "_id":
            out[f.name] = uuids_of(good["m2pg_object_id"])
        elif f.references:
            out[f.name] = good[f"m2pg_ref_{f.name}"]
        elif f.kind is Kind.OBJECT_ID:
            out[f.name] = uuids_of(good[f.key])
            report["dangling_ids"][f.name] = _dangling(good[f.key], idmaps(f.points_to))
        elif f.kind is Kind.UUID_LIST:
            out[f.name] = _uuid_lists(good[f.key].fill_null([]))
            report["dangling_ids"][f.name] = _dangling(good[f.key].explode(), idmaps(f.points_to))
        else:
            out[f.name] = good.select(_value(f, created)).to_series()
    frame = pl.DataFrame(out).with_columns(_object_id=good["m2pg_object_id"])
    return frame.select([pl.col(f.name).cast(_clean_type(f)) for f in model.fields] + ["_object_id"])


def _value(f: Field, created: pl.Expr) -> pl.Expr:
    value = pl.col(f.key)
    if f.kind is Kind.TEXT_LIST:
        return value.fill_null(pl.lit([], dtype=pl.List(pl.String)))
    if f.default is None or f.optional:
        return value
    if f.default == NOW:
        return value.fill_null(created)
    return value.fill_null(pl.lit(f.default))


def _clean_type(f: Field) -> pl.DataType:
    return {Kind.OBJECT_ID: pl.String, Kind.TEXT: pl.String, Kind.ENUM: pl.String, Kind.INT: pl.Int32,
            Kind.BOOL: pl.Boolean, Kind.DATETIME: pl.Datetime("ms"), Kind.JSON: pl.String,
            Kind.TEXT_LIST: pl.List(pl.String), Kind.UUID_LIST: pl.List(pl.String)}[f.kind]


def _uuid_lists(lists: pl.Series) -> pl.Series:
    """Map every element through the ID function, keeping order and duplicates."""
    array = lists.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    values = uuids_of(pl.from_arrow(array.values).cast(pl.String)).to_arrow()
    return pl.from_arrow(pa.LargeListArray.from_arrays(array.offsets.cast(pa.int64()), values))


def _dangling(object_ids: pl.Series, idmap: pl.DataFrame) -> int:
    present = object_ids.drop_nulls()
    return int((~present.is_in(idmap["object_id"].implode())).sum())


def quarantine_rows(bad: pl.DataFrame, model: ModelSpec) -> pl.DataFrame:
    """Each refused record with its reasons and its original document as extended JSON."""
    documents = [dumps(bson_decode(raw, CODEC), json_options=RELAXED_JSON_OPTIONS, ensure_ascii=False)
                 for raw in bad["m2pg_document"].to_list()]
    first = pl.col("problems").list.first()
    return bad.select(
        pl.lit(model.source).alias("collection"),
        pl.col("m2pg_object_id").alias("object_id"),
        pl.col("m2pg_source_id").alias("source_id"),
        first.struct.field("field").alias("field"),
        first.struct.field("rule").alias("rule"),
        pl.col("problems").list.eval(pl.element().struct.field("reason")).list.join("; ").alias("reason"),
        pl.Series("document", documents, dtype=pl.String),
    ).cast(QUARANTINE_SCHEMA)


def transform_model(staging: Staging, model: ModelSpec, junctions, enums, outcome: Outcome) -> dict:
    feeds = feeds_of(model, junctions)
    raw = read_raw(staging, model, feeds)
    judged = judge(raw, model, enums, outcome)
    failed = judged["problems"].list.len() > 0
    good, bad = judged.filter(~failed), judged.filter(failed)
    report = {"collection": model.source, "documents": raw.height, "clean": good.height,
              "quarantined": bad.height, "by_rule": _count_rules(bad), "nulled_references": {},
              "dangling_ids": {}, "unknown_fields": _count_unknown(raw)}
    for f in model.references:
        if not f.required:
            counts = good[f"m2pg_miss_{f.name}"].drop_nulls().value_counts()
            if counts.height:
                report["nulled_references"][f.name] = dict(zip(*counts.to_dict(as_series=False).values()))
    write_parquet(clean_rows(good, model, lambda c: _idmap(staging, c, outcome), report).to_arrow(),
                  staging.clean(model.table))
    quarantine_path = staging.quarantine(model.source)
    if bad.height:
        write_parquet(quarantine_rows(bad, model).to_arrow(), quarantine_path)
    elif quarantine_path.exists():
        quarantine_path.unlink()
    outcome.kept[model.name] = pl.DataFrame({"object_id": good["m2pg_object_id"],
                                             "id": uuids_of(good["m2pg_object_id"])})
    outcome.quarantined[model.name] = bad["m2pg_object_id"].drop_nulls()
    if feeds:
        outcome.feeds[model.name] = good.select("m2pg_object_id", *feeds)
        outcome.lost_feeds[model.name] = bad.select("m2pg_object_id", *feeds)
    return report


def _idmap(staging: Staging, collection: str, outcome: Outcome) -> pl.DataFrame:
    if collection not in outcome.idmaps:
        path = staging.idmap(collection)
        outcome.idmaps[collection] = pl.read_parquet(path) if path.exists() else pl.DataFrame(
            {"collection": [], "object_id": [], "id": []}, schema={"collection": pl.String, "object_id": pl.String, "id": pl.String})
    return outcome.idmaps[collection]


def _count_rules(bad: pl.DataFrame) -> dict[str, int]:
    rules = bad["problems"].list.eval(pl.element().struct.field("rule")).list.unique().explode().drop_nulls()
    return dict(sorted(Counter(rules.to_list()).items()))


def _count_unknown(raw: pl.DataFrame) -> dict[str, int]:
    return dict(sorted(Counter(raw["m2pg_unknown_fields"].explode().drop_nulls().to_list()).items()))


def junction_rows(j: Junction, outcome: Outcome) -> tuple[pl.DataFrame, dict]:
    """One row per distinct pair named on either side; pairs with a missing end are skipped."""
    pairs, skipped, per_feed = [], Counter(), {}
    for feed in j.feeds:
        owner_side, other_side = j.side_of(feed.model)
        owners = outcome.feeds[feed.model]
        exploded = owners.select("m2pg_object_id", pl.col(feed.key).alias("other")).explode("other").drop_nulls("other")
        lost = outcome.lost_feeds[feed.model].select(pl.col(feed.key).list.len().sum()).item() or 0
        skipped["owner_quarantined"] += int(lost)
        kept = outcome.kept[other_side.model]
        joined = exploded.join(kept.rename({"object_id": "other", "id": "other_id"}), on="other", how="left")
        missing = joined.filter(pl.col("other_id").is_null())
        in_quarantine = missing["other"].is_in(outcome.quarantined[other_side.model].implode())
        skipped["other_end_quarantined"] += int(in_quarantine.sum())
        skipped["other_end_missing"] += int((~in_quarantine).sum())
        found = joined.filter(pl.col("other_id").is_not_null())
        per_feed[f"{feed.model}.{feed.key}"] = found.height
        pairs.append(pl.DataFrame({owner_side.column: uuids_of(found["m2pg_object_id"]),
                                   other_side.column: found["other_id"]}).select(j.left.column, j.right.column))
    frame = pl.concat(pairs).unique(maintain_order=True) if pairs else pl.DataFrame(
        schema={j.left.column: pl.String, j.right.column: pl.String})
    sides = [set(map(tuple, p.rows())) for p in pairs]
    one_sided = len(sides[0] ^ sides[1]) if len(sides) == 2 else 0
    return frame, {"table": j.table, "rows": frame.height, "pairs_by_feed": per_feed,
                   "skipped_pairs": dict(skipped), "pairs_known_to_one_side_only": one_sided}


def transform(staging: Staging, models, junctions, enums) -> dict:
    outcome = Outcome()
    reports, tables = [], []
    with bars() as progress:
        task = progress.add_task("transform", total=len(models) + len(junctions))
        for model in models:
            reports.append(transform_model(staging, model, junctions, enums, outcome))
            progress.update(task, advance=1, description=f"transform {model.name}")
        for j in junctions:
            frame, summary = junction_rows(j, outcome)
            write_parquet(frame.to_arrow(), staging.clean(j.table))
            tables.append(summary)
            progress.update(task, advance=1, description=f"transform {j.table}")
    report = {"collections": reports, "junctions": tables,
              "documents": sum(r["documents"] for r in reports),
              "clean": sum(r["clean"] for r in reports),
              "quarantined": sum(r["quarantined"] for r in reports)}
    write_json(report, staging.report("transform.json"))
    return report
