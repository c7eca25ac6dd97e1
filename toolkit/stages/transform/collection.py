"""One collection, part by part: each part judged, its clean and quarantine rows staged and
recorded in the manifest with its fingerprint; a part whose fingerprint is unchanged is skipped."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import polars as pl

from toolkit.declarations.spec import ModelSpec
from toolkit.documents.decode import decode_chunk
from toolkit.runtime import interrupt, parallel
from toolkit.runtime.errors import ConfigError
from toolkit.stages.changes import with_digests
from toolkit.stages.extract import feeds_of, other_raw
from toolkit.stages.rules import repeats
from toolkit.stages.transform.fingerprint import content, context, digest, ids_digest
from toolkit.stages.transform.judge import judge, repeat_keys
from toolkit.stages.transform.outcome import Outcome, idmap
from toolkit.stages.transform.quarantine import quarantine_rows
from toolkit.stages.transform.rows import clean_rows
from toolkit.staging.layout import (
    DamagedStaging,
    Staging,
    checked,
    file_record,
    intact,
    read_manifest,
    write_frame,
    write_json,
)

_WITHOUT_DOCUMENTS = pl.exclude("m2pg_document")  # the original BSON is read only for refused rows


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
    refusal = other_raw(model.source, manifest)
    if refusal:
        raise refusal
    return manifest


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
    rows = clean_rows(good, model, lambda name: idmap(staging, outcome.collections[name], outcome), report)
    write_frame(with_digests(rows, [f.name for f in model.fields]), staging.clean(model.table) / name)
    quarantine_path = staging.quarantine(model.source) / name
    if bad.height:
        write_frame(quarantine_rows(bad, model), quarantine_path)
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
    contents = [content(staging, model, p) for p in manifest["parts"]] or [b""]
    keys = [
        pl.scan_parquet(checked(p)).select(repeat_keys(model)).collect()
        if p
        else pl.DataFrame(decode_chunk(b"", model, feeds)).select(repeat_keys(model))
        for p in files
    ]
    offsets = [0]
    for frame in keys:
        offsets.append(offsets[-1] + frame.height)
    repeated = repeats(pl.concat(keys).with_row_index("m2pg_row"), model)
    del keys  # a whole collection's keys: not held while its parts are made

    def read(number: int, path) -> pl.DataFrame:
        raw = (
            pl.scan_parquet(path).select(_WITHOUT_DOCUMENTS).collect()
            if path
            else pl.DataFrame(decode_chunk(b"", model, feeds))
        )
        return raw.with_row_index("m2pg_row", offset=offsets[number])

    def of_part(number: int) -> pl.DataFrame:
        return repeated.filter(pl.col("m2pg_row").is_between(offsets[number], offsets[number + 1] - 1))

    if any(f.parent.model == model.name for f in model.references):
        own_outcome(
            model,
            (judge(read(n, p), model, enums, outcome, of_part(n), own=False) for n, p in enumerate(files)),
            outcome,
        )
    depends_on = context(staging, model, enums, outcome)
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
        mine = of_part(number)
        fingerprint = digest(
            depends_on, contents[number], str(mine.with_columns(pl.col("m2pg_row") - offsets[number]).rows())
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
            raw = read(number, path)
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
            del raw
            parallel.release_memory()  # a large collection's worker then holds one part, not the most of many
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
    return {
        **total.report(model.source),
        "parts_skipped": skipped,
        "parts_done": len(files) - skipped,
        "seconds": round(time.perf_counter() - started, 3),
    }


def own_outcome(model: ModelSpec, judged: Iterable[pl.DataFrame], outcome: Outcome) -> None:
    """What a model referencing itself keeps, for judging those references: its documents no
    other rule refuses, less those whose required reference to it names a document refused,
    again until none is (a reply to a refused reply is refused in turn). `judged`: its parts,
    one at a time, each judged but for those references."""
    required = [f.key for f in model.references if f.parent.model == model.name and f.required]
    frame = pl.concat([j.select("m2pg_object_id", *required, ok=pl.col("problems").list.len() == 0) for j in judged])
    while True:
        kept = frame.filter("ok")["m2pg_object_id"].drop_nulls()
        orphaned = pl.any_horizontal(
            False, *(pl.col(k).is_not_null() & ~pl.col(k).is_in(kept.implode()) for k in required)
        )
        refused = frame.filter(pl.col("ok") & orphaned).height
        if not refused:
            break
        frame = frame.with_columns(ok=pl.col("ok") & ~orphaned)
    kept = kept.unique().sort().set_sorted().rename("object_id")
    refused_ids = frame.filter(~pl.col("ok"))["m2pg_object_id"].drop_nulls().rename("object_id")
    outcome.kept[model.name] = kept.to_frame()
    outcome.quarantined[model.name] = refused_ids
    outcome.digests[model.name] = digest("own", ids_digest(kept), ids_digest(refused_ids))


def _drop_stale(staging: Staging, model: ModelSpec, names: set[str]) -> None:
    """Parts left from an earlier run with more parts would be read as current: remove them."""
    for path in staging.clean_parts(model.table) + staging.quarantine_parts(model.source):
        if path.name not in names:
            path.unlink()


def _count_rules(bad: pl.DataFrame) -> dict[str, int]:
    rules = bad["problems"].list.eval(pl.element().struct.field("rule")).list.unique().explode().drop_nulls()
    return dict(sorted(Counter(rules.to_list()).items()))
