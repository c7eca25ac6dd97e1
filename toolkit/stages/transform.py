"""Transform: staged documents -> rows exactly as loaded, quarantine, and junction rows.

A model runs after the collections it references, so a reference is judged against what its
target kept: present and clean (remapped by a join on the ID lookup frame), quarantined, or
missing. Work goes part by part; a part whose inputs (its raw part, the outcome of the
collections it references, its repeated values) are unchanged since the last run is skipped.
On several worker processes, models whose references are done run side by side; a worker reads
the outcome of the referenced collections from their staged files, as a resumed run does.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa

from toolkit.declarations.kinds import KINDS
from toolkit.declarations.spec import NOW, Field, Junction, Kind, ModelSpec
from toolkit.documents.decode import decode_chunk, document_text
from toolkit.documents.ids import in_lists, uuids_of
from toolkit.runtime import interrupt, parallel
from toolkit.runtime.errors import ConfigError
from toolkit.runtime.parallel import Job
from toolkit.runtime.progress import bars
from toolkit.stages.extract import feeds_of
from toolkit.stages.rules import field_rules, indexed_columns, problem, problems_of, repeats
from toolkit.staging.layout import (
    DamagedStaging,
    Staging,
    checked,
    file_record,
    intact,
    read_json,
    read_manifest,
    write_json,
    write_parquet,
)

RULES_VERSION = "2"  # part of every fingerprint: bump when the rules change what they produce
QUARANTINE_SCHEMA = pl.Schema(
    {
        "collection": pl.String,
        "object_id": pl.String,
        "source_id": pl.String,
        "field": pl.String,
        "rule": pl.String,
        "reason": pl.String,
        "document": pl.String,
    }
)
IDS = pl.Schema({"object_id": pl.String, "id": pl.String})
_WITHOUT_DOCUMENTS = pl.exclude("m2pg_document")  # the original BSON is read only for refused rows


@dataclass
class Outcome:
    """What earlier models left behind, for judging the references of later ones."""

    kept: dict[str, pl.DataFrame] = field(default_factory=dict)  # object_id, id; sorted by object_id
    quarantined: dict[str, pl.Series] = field(default_factory=dict)
    idmaps: dict[str, pl.Series] = field(default_factory=dict)  # every extracted ObjectId, sorted
    digests: dict[str, str] = field(default_factory=dict)  # what each model kept, as a hash
    absent: dict[str, str] = field(default_factory=dict)  # model -> its collection, which the source lacks
    collections: dict[str, str] = field(default_factory=dict)  # model -> its collection, for the id maps


def raw_manifest(staging: Staging, model: ModelSpec) -> dict:
    path = staging.manifest(model.source)
    if not path.exists():
        raise ConfigError(
            f"{model.source} has not been extracted to {staging.raw_dir(model.source)}",
            stage="transform",
            hint="run `m2pg extract` first",
        )
    manifest = read_manifest(path, "parts")
    if not manifest.get("complete"):
        raise ConfigError(
            f"the extract of {model.source} was interrupted",
            stage="transform",
            hint="re-run `m2pg extract` to finish it",
        )
    return manifest


def judge(
    raw: pl.DataFrame, model: ModelSpec, enums, outcome: Outcome, repeated: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Attach `problems` (a list of {field, rule, reason}) and the remapped references."""
    extracted = pl.col("m2pg_problems").list.len() > 0
    rules = problems_of(raw, field_rules(model, enums, indexed_columns(model)))
    frame = raw.with_columns(problems=pl.when(extracted).then(pl.col("m2pg_problems")).otherwise(rules))
    if repeated is None:  # the whole collection is in this frame
        frame = frame.with_row_index("m2pg_row")
        repeated = repeats(_keys(frame, model), model)
    if repeated.height:  # most parts repeat nothing
        frame = frame.join(repeated, on="m2pg_row", how="left", maintain_order="left").with_columns(
            problems=pl.when(pl.col("repeats").is_null())
            .then("problems")
            .otherwise(pl.concat_list(["problems", "repeats"]))
        )
    for f in model.references:
        frame = _reference(frame, f, outcome)
    return frame


def _keys(frame: pl.DataFrame, model: ModelSpec) -> pl.DataFrame:
    unique = [f.key for f in model.fields if f.unique]
    return frame.select(
        "m2pg_row", "m2pg_object_id", (pl.col("m2pg_problems").list.len() == 0).alias("m2pg_converted"), *unique
    )


def _reference(frame: pl.DataFrame, f: Field, outcome: Outcome) -> pl.DataFrame:
    """Remap one foreign key by a join; a required one that points nowhere is a problem."""
    target = f.parent.model
    kept = outcome.kept[target].rename({"object_id": f.key, "id": f"m2pg_ref_{f.name}"})
    frame = frame.join(kept, on=f.key, how="left", maintain_order="left")
    dangling = pl.col(f.key).is_not_null() & pl.col(f"m2pg_ref_{f.name}").is_null()
    quarantined = pl.col(f.key).is_in(outcome.quarantined[target].implode())
    frame = frame.with_columns(
        **{
            f"m2pg_miss_{f.name}": pl.when(~dangling)
            .then(None)
            .when(quarantined)
            .then(pl.lit("quarantined"))
            .otherwise(pl.lit("missing"))
        }
    )
    if f.required:
        reason = (
            pl.when(quarantined)
            .then(
                problem(
                    f.name,
                    "quarantined_reference",
                    pl.format(
                        f"{f.name}: {target} {{}} is quarantined, so this record cannot reference it", pl.col(f.key)
                    ),
                )
            )
            .otherwise(
                problem(
                    f.name,
                    "reference",
                    pl.format(
                        f"{f.name}: {target} {{}} does not exist"
                        + (
                            f" (the source holds no {outcome.absent[target]} collection)"
                            if target in outcome.absent
                            else ""
                        ),
                        pl.col(f.key),
                    ),
                )
            )
        )
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
    return frame.select([pl.col(f.name).cast(clean_type(f)) for f in model.fields] + ["_object_id"])


def _value(f: Field, created: pl.Expr) -> pl.Expr:
    value = pl.col(f.key)
    if f.kind is Kind.TEXT_LIST:
        return value.fill_null(pl.lit([], dtype=pl.List(pl.String)))
    if f.default is None or f.optional:
        return value
    if f.default == NOW:
        return value.fill_null(created)
    return value.fill_null(pl.lit(f.default))


def clean_type(f: Field) -> pl.DataType:
    return KINDS[f.kind].clean


def _uuid_lists(lists: pl.Series) -> pl.Series:
    """Map every element through the ID function, keeping order and duplicates."""
    array = lists.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return pl.Series(in_lists(lambda values: uuids_of(pl.Series(values).cast(pl.String)).to_arrow(), array))


def _dangling(object_ids: pl.Series, known: pl.Series) -> int:
    """How many of the ids are not among `known` (sorted)."""
    present = object_ids.drop_nulls()
    return int((~is_among(present, known)).sum())


def quarantine_rows(bad: pl.DataFrame, model: ModelSpec) -> pl.DataFrame:
    """Each refused record with its reasons and its original document as extended JSON."""
    documents = [document_text(raw) for raw in bad["m2pg_document"].to_list()]
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


def _digest(*parts: str | bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part if isinstance(part, bytes) else part.encode())
        hasher.update(b"\0")
    return hasher.hexdigest()


def _ids_digest(ids: pl.Series) -> str:
    return _digest("\n".join(ids.drop_nulls().sort().to_list()))


def _context(model: ModelSpec, outcome: Outcome) -> str:
    """What a part's result depends on beyond its own documents: the referenced collections."""
    targets = sorted({f.parent.model for f in model.references})
    return _digest(RULES_VERSION, *(f"{t}={outcome.digests[t]}" for t in targets))


class _Sum:
    """Adds up the per-part reports of one collection."""

    def __init__(self) -> None:
        self.counts = {"documents": 0, "clean": 0, "quarantined": 0}
        self.maps: dict[str, Counter] = {k: Counter() for k in ("by_rule", "dangling_ids", "unknown_fields")}
        self.nulled: dict[str, Counter] = {}

    def add(self, part: dict) -> None:
        for key in self.counts:
            self.counts[key] += part[key]
        for key, counter in self.maps.items():
            counter.update(part[key])
        for name, reasons in part["nulled_references"].items():
            self.nulled.setdefault(name, Counter()).update(reasons)

    def report(self, collection: str) -> dict:
        return {
            "collection": collection,
            **self.counts,
            **{k: dict(sorted(v.items())) for k, v in self.maps.items()},
            "nulled_references": {k: dict(v) for k, v in self.nulled.items()},
        }


def transform_part(
    staging: Staging,
    model: ModelSpec,
    raw: pl.DataFrame,
    repeated: pl.DataFrame,
    enums,
    outcome: Outcome,
    name: str,
    documents=None,
) -> dict:
    """`documents` reads the part's original documents, which only quarantined rows need."""
    judged = judge(raw, model, enums, outcome, repeated)
    failed = judged["problems"].list.len() > 0
    good, bad = judged.filter(~failed), judged.filter(failed)
    if bad.height and "m2pg_document" not in bad.columns:
        first = raw["m2pg_row"][0]
        bad = bad.with_columns(m2pg_document=documents().gather(bad["m2pg_row"] - first))
    report: dict[str, Any] = {
        "documents": raw.height,
        "clean": good.height,
        "quarantined": bad.height,
        "by_rule": _count_rules(bad),
        "nulled_references": {},
        "dangling_ids": {},
        "unknown_fields": dict(Counter(raw["m2pg_unknown_fields"].explode().drop_nulls().to_list())),
    }
    for f in model.references:
        if not f.required:
            counts = good[f"m2pg_miss_{f.name}"].drop_nulls().value_counts()
            if counts.height:
                report["nulled_references"][f.name] = dict(zip(*counts.to_dict(as_series=False).values(), strict=False))
    rows = clean_rows(good, model, lambda name: _idmap(staging, outcome.collections[name], outcome), report)
    write_parquet(rows.to_arrow(), staging.clean(model.table) / name)
    quarantine_path = staging.quarantine(model.source) / name
    if bad.height:
        write_parquet(quarantine_rows(bad, model).to_arrow(), quarantine_path)
    else:
        quarantine_path.unlink(missing_ok=True)
    return report


def transform_model(staging: Staging, model: ModelSpec, junctions, enums, outcome: Outcome, progress=None) -> dict:
    """Transform a collection part by part, skipping parts whose inputs have not changed."""
    started = time.perf_counter()
    manifest = raw_manifest(staging, model)
    feeds = feeds_of(model, junctions)
    files = [staging.raw_dir(model.source) / p["file"] for p in manifest["parts"]] or [None]
    task = progress.add_task(model.source, total=len(files)) if progress else None
    contents = [_content(staging, model, p) for p in manifest["parts"]] or [b""]
    unique = [f.key for f in model.fields if f.unique]
    keys = [
        pl.read_parquet(checked(p), columns=["m2pg_object_id", "m2pg_problems", *unique])
        if p
        else pl.DataFrame(decode_chunk(b"", model, feeds)).select("m2pg_object_id", "m2pg_problems", *unique)
        for p in files
    ]
    offsets = [0]
    for frame in keys:
        offsets.append(offsets[-1] + frame.height)
    repeated = repeats(_keys(pl.concat(keys).with_row_index("m2pg_row"), model), model)
    context = _context(model, outcome)
    folder = staging.clean(model.table)
    previous: dict = {"parts": {}}
    if (folder / "manifest.json").exists():
        try:
            previous = read_manifest(folder / "manifest.json", "parts")
        except DamagedStaging:  # this stage's own checkpoint: garbled, its parts are made again
            pass
    done, total, skipped = {}, _Sum(), 0
    for number, path in enumerate(files):
        name = f"part-{number:05d}.parquet"
        mine = repeated.filter(pl.col("m2pg_row").is_between(offsets[number], offsets[number + 1] - 1))
        fingerprint = _digest(
            context, contents[number], str(mine.with_columns(pl.col("m2pg_row") - offsets[number]).rows())
        )
        earlier = previous["parts"].get(name)
        quarantined = staging.quarantine(model.source) / name
        if (
            earlier
            and earlier["fingerprint"] == fingerprint
            and intact(folder / name, earlier)
            and (earlier.get("quarantine") is None or intact(quarantined, earlier["quarantine"]))
        ):
            report, skipped = earlier["report"], skipped + 1
            written = {k: earlier[k] for k in ("file_bytes", "file_sha256", "quarantine") if k in earlier}
        else:
            raw = (
                pl.scan_parquet(path).select(_WITHOUT_DOCUMENTS).collect()
                if path
                else pl.DataFrame(decode_chunk(b"", model, feeds))
            )
            raw = raw.with_row_index("m2pg_row", offset=offsets[number])
            report = transform_part(
                staging,
                model,
                raw,
                mine,
                enums,
                outcome,
                name,
                lambda path=path: pl.read_parquet(path, columns=["m2pg_document"])["m2pg_document"],
            )
            written = {
                **file_record(folder / name),
                "quarantine": file_record(quarantined) if quarantined.exists() else None,
            }
            interrupt.crash_point("transform-part")
        done[name] = {"fingerprint": fingerprint, "report": report, **written}
        total.add(report)
        write_json({"parts": {**previous["parts"], **done}}, folder / "manifest.json")
        if task is not None:
            progress.update(task, advance=1)
        interrupt.check(
            "transform",
            f"{model.source}: part {number + 1} of {len(files)} done",
            "the remaining parts and collections",
        )
    _drop_stale(staging, model, set(done))
    write_json({"parts": done}, folder / "manifest.json")
    _remember(staging, model, outcome)
    return {
        **total.report(model.source),
        "parts_skipped": skipped,
        "parts_done": len(files) - skipped,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _content(staging: Staging, model: ModelSpec, part: dict) -> bytes:
    """What identifies a raw part's content: the digest extract took of its documents, with the
    file's size; the file's bytes for a part staged without one."""
    path = staging.raw_dir(model.source) / part["file"]
    if "digest" not in part:
        return path.read_bytes()
    return f"{part['digest']}:{path.stat().st_size}".encode()


def _drop_stale(staging: Staging, model: ModelSpec, names: set[str]) -> None:
    """Parts left from an earlier run with more parts would be read as current: remove them."""
    for path in staging.clean_parts(model.table) + staging.quarantine_parts(model.source):
        if path.name not in names:
            path.unlink()


def _remember(staging: Staging, model: ModelSpec, outcome: Outcome) -> None:
    """Record what the model kept and refused, from its staged parts, for later models."""
    clean = pl.read_parquet(staging.clean_parts(model.table), columns=["_object_id", "id"])
    kept = clean.rename({"_object_id": "object_id"}).cast(IDS).sort("object_id")  # for binary searches
    quarantine = staging.quarantine_parts(model.source)
    refused = (
        pl.read_parquet(quarantine, columns=["object_id"])["object_id"]
        if quarantine
        else pl.Series("object_id", [], pl.String)
    ).drop_nulls()
    outcome.kept[model.name] = kept
    outcome.quarantined[model.name] = refused
    absent = bool(read_json(staging.manifest(model.source)).get("absent"))
    outcome.absent.pop(model.name, None)
    if absent:
        outcome.absent[model.name] = model.source
    outcome.digests[model.name] = _digest(_ids_digest(kept["object_id"]), _ids_digest(refused), str(absent))


def collections_of(models) -> dict[str, str]:
    """Model name -> its collection: a model's name says which staged id map holds its ids only
    through this (Prisma's @@map lets the two differ)."""
    return {m.name: m.source for m in models}


def _idmap(staging: Staging, collection: str, outcome: Outcome) -> pl.Series:
    """The collection's extracted ObjectIds, sorted once so each part looks its ids up by a
    binary search instead of hashing the whole collection again."""
    if collection not in outcome.idmaps:
        path = staging.idmap(collection)
        ids = (
            pl.read_parquet(checked(path), columns=["object_id"])["object_id"]
            if path.exists()
            else pl.Series([], dtype=pl.String)
        )
        outcome.idmaps[collection] = ids.sort()
    return outcome.idmaps[collection]


def _count_rules(bad: pl.DataFrame) -> dict[str, int]:
    rules = bad["problems"].list.eval(pl.element().struct.field("rule")).list.unique().explode().drop_nulls()
    return dict(sorted(Counter(rules.to_list()).items()))


def feed_pairs(
    staging: Staging, model: ModelSpec, key: str, outcome: Outcome
) -> Iterator[tuple[pl.DataFrame, int, int]]:
    """A raw part at a time: the (owner, other) ObjectIds that the arrays under `key` of kept
    owners name, how many elements the arrays of refused owners hold, and how many null elements
    the kept owners' arrays hold (they name no pair). An owner whose `_id` repeats counts once,
    by its first copy. Only these two columns of each part are read."""
    known = outcome.kept[model.name]["object_id"]
    paths = sorted(staging.raw_dir(model.source).glob("part-*.parquet"))
    extracted = (
        pl.read_parquet(paths, columns=["m2pg_object_id"])["m2pg_object_id"]
        if paths
        else pl.Series([], dtype=pl.String)
    )
    repeated, claimed = extracted.filter(extracted.is_duplicated()).unique().implode(), pl.Series([], dtype=pl.String)
    del extracted
    for path in paths:
        arrays = pl.read_parquet(path, columns=["m2pg_object_id", key]).drop_nulls("m2pg_object_id")
        is_kept = is_among(arrays["m2pg_object_id"], known)
        lost = arrays.filter(~is_kept).select(pl.col(key).list.len().sum()).item() or 0
        owners = arrays.filter(is_kept)
        ids = owners["m2pg_object_id"]
        twice = ids.is_in(repeated)
        if twice.any():  # the first copy of a repeated owner, in this part and before it
            keep = ~twice | (ids.is_first_distinct() & ~ids.is_in(claimed.implode()))
            claimed = pl.concat([claimed, ids.filter(twice & keep)])
            owners = owners.filter(keep)
        exploded = owners.select("m2pg_object_id", pl.col(key).alias("other")).explode("other")
        nulls = owners.select(pl.col(key).list.eval(pl.element().is_null()).list.sum().sum()).item() or 0
        yield exploded.drop_nulls("other"), int(lost), int(nulls)


def is_among(values: pl.Series, known: pl.Series) -> pl.Series:
    """Whether each value is in `known` (sorted): a binary search, so no hash table of `known`
    is built again for every part."""
    return _position(values, known).is_not_null()


def _position(values: pl.Series, known: pl.Series) -> pl.Series:
    """Where each value is in `known` (sorted), or null."""
    if known.is_empty():
        return pl.Series([None] * values.len(), dtype=pl.UInt32)
    at = known.search_sorted(values, side="left").clip(0, known.len() - 1)
    return at.zip_with((known.gather(at) == values).fill_null(False), pl.Series([None], dtype=at.dtype))


def junction_rows(staging: Staging, j: Junction, ends, outcome: Outcome) -> tuple[pl.DataFrame, dict]:
    """One row per distinct pair named on either side; pairs with a missing end are skipped.
    The owners' arrays are read a raw part at a time, so memory holds the pairs, not the arrays."""
    pairs, per_feed = [], {}
    skipped = Counter(
        dict.fromkeys(("owner_quarantined", "other_end_quarantined", "other_end_missing", "element_null"), 0)
    )
    by_name = {m.name: m for m in ends}
    for feed in j.feeds:
        owner_side, other_side = j.side_of(feed.model)
        others = outcome.kept[other_side.model]
        refused = outcome.quarantined[other_side.model].implode()
        found: list[pl.DataFrame] = []
        for exploded, lost, nulls in feed_pairs(staging, by_name[feed.model], feed.key, outcome):
            skipped["element_null"] += nulls
            at = _position(exploded["other"], others["object_id"])
            missing = exploded["other"].filter(at.is_null())
            in_quarantine = missing.is_in(refused)
            skipped["owner_quarantined"] += lost
            skipped["other_end_quarantined"] += int(in_quarantine.sum())
            skipped["other_end_missing"] += int((~in_quarantine).sum())
            hit = at.is_not_null()
            found.append(
                pl.DataFrame(
                    {
                        owner_side.column: uuids_of(exploded["m2pg_object_id"].filter(hit)),
                        other_side.column: others["id"].gather(at.filter(hit)),
                    }
                )
            )
        named = (
            pl.concat(found)
            if found
            else pl.DataFrame(schema={owner_side.column: pl.String, other_side.column: pl.String})
        )
        per_feed[f"{feed.model}.{feed.key}"] = named.height
        pairs.append(named.select(j.left.column, j.right.column))
    frame = pl.concat(pairs).unique(maintain_order=True).sort(j.left.column, j.right.column)
    one_sided = 0
    if len(pairs) == 2:  # pairs named by one side's array and not by the other's
        a, b = (p.unique() for p in pairs)
        key = [j.left.column, j.right.column]
        one_sided = a.join(b, on=key, how="anti").height + b.join(a, on=key, how="anti").height
    return frame, {
        "table": j.table,
        "rows": frame.height,
        "pairs_by_feed": per_feed,
        "skipped_pairs": dict(skipped),
        "pairs_known_to_one_side_only": one_sided,
    }


def transform(staging: Staging, models, junctions, enums, workers: int | None = None) -> dict:
    """Every model, then every junction table; on `workers` processes (None: by the size of the
    raw parts), each as soon as what it reads is done."""
    manifests = {m.name: raw_manifest(staging, m) for m in models}
    count = parallel.workers_for(raw_volume(staging, models, manifests), workers)
    with bars() as progress:
        if count <= 1:
            reports, tables = _in_order(staging, models, junctions, enums, progress)
        else:
            reports, tables = _side_by_side(staging, models, junctions, enums, manifests, count, progress)
    report = {
        "collections": reports,
        "junctions": tables,
        "documents": sum(r["documents"] for r in reports),
        "clean": sum(r["clean"] for r in reports),
        "quarantined": sum(r["quarantined"] for r in reports),
        "parts_skipped": sum(r["parts_skipped"] for r in reports),
        "parts_done": sum(r["parts_done"] for r in reports),
    }
    write_json(report, staging.report("transform.json"))
    return report


def raw_volume(staging: Staging, models, manifests: dict) -> int:
    """Bytes of the raw parts to transform, which decide how many workers pay."""
    return sum(
        (staging.raw_dir(m.source) / p["file"]).stat().st_size for m in models for p in manifests[m.name]["parts"]
    )


def _in_order(staging: Staging, models, junctions, enums, progress) -> tuple[list, list]:
    """One process, models in load order, each judged against the outcome the earlier ones left."""
    outcome = Outcome(collections=collections_of(models))
    reports = [transform_model(staging, m, junctions, enums, outcome, progress) for m in models]
    tables = [write_junction(staging, j, models, outcome, progress) for j in junctions]
    return reports, tables


def _side_by_side(
    staging: Staging, models, junctions, enums, manifests: dict, workers: int, progress
) -> tuple[list, list]:
    """Models and junctions as jobs on worker processes, each started once the models it reads
    are done; the largest ready model first, junctions when no model is ready."""
    by_name = {m.name: m for m in models}
    rows = {m.name: sum(p["rows"] for p in manifests[m.name]["parts"]) for m in models}
    jobs: dict[str, Job] = {}
    needs: dict[str, set[str]] = {}
    for m in sorted(models, key=lambda m: -rows[m.name]):
        targets = sorted({f.parent.model for f in m.references})
        jobs[m.name] = (
            _model_job,
            (staging, m, junctions, enums, tuple(by_name[t] for t in targets), collections_of(models)),
        )
        needs[m.name] = set(targets)
    for j in junctions:
        ends = sorted({j.left.model, j.right.model})  # the models whose arrays feed it are among them
        jobs[_junction_job_name(j)] = (_junction_job, (staging, j, tuple(by_name[e] for e in ends)))
        needs[_junction_job_name(j)] = set(ends)
    done = parallel.run_graph(jobs, needs, workers, progress, "transform")
    return [done[m.name] for m in models], [done[_junction_job_name(j)] for j in junctions]


def _junction_job_name(j: Junction) -> str:
    return f"junction {j.table}"  # apart from the model names


_seen: dict[tuple, bytes] = {}  # in a worker: (staging, model) -> what its outcome was read from
_known = Outcome()  # in a worker: the outcome of the models its jobs have read or made


def _recall(staging: Staging, models) -> Outcome:
    """In a worker: the outcome of `models`, read from their staged files once per process
    (again only if a model's clean manifest changed). What this job does not read is let go,
    so a worker's memory stays that of one job."""
    wanted = {m.name for m in models}
    for held in (_known.kept, _known.quarantined, _known.digests):
        for name in set(held) - wanted:
            del held[name]
    for key in [key for key in _seen if key[1] not in wanted]:
        del _seen[key]
    _known.idmaps.clear()
    for model in models:
        state = _staged(staging, model)
        if _seen.get((staging.root, model.name)) != state:
            _remember(staging, model, _known)
            _seen[staging.root, model.name] = state
    return _known


def _model_job(
    staging: Staging, model: ModelSpec, junctions, enums, targets: tuple, collections: dict[str, str], progress
) -> dict:
    """In a worker: one model, judged against the staged outcome of the models it references."""
    outcome = _recall(staging, targets)
    outcome.collections = collections
    report = transform_model(staging, model, junctions, enums, outcome, progress)
    _seen[staging.root, model.name] = _staged(staging, model)  # transform_model remembered it
    return report


def _junction_job(staging: Staging, j: Junction, ends: tuple, progress) -> dict:
    """In a worker: one junction table, from the staged outcome of the models at its ends."""
    return write_junction(staging, j, ends, _recall(staging, ends), progress)


def _staged(staging: Staging, model: ModelSpec) -> bytes:
    """What a model's staged outcome was made from: its clean manifest, written last."""
    return (staging.clean(model.table) / "manifest.json").read_bytes()


def write_junction(staging: Staging, j: Junction, ends, outcome: Outcome, progress=None) -> dict:
    """Stage one junction table as a single part; returns its summary. `ends`: the models at
    its two ends (the owners of the arrays are among them)."""
    task = progress.add_task(j.table, total=1) if progress else None
    frame, summary = junction_rows(staging, j, ends, outcome)
    _drop_stale_junction(staging, j)
    write_parquet(frame.to_arrow(), staging.clean(j.table) / "part-00000.parquet")
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
