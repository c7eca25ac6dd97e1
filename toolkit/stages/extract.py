"""Extract: each collection -> Parquet parts of typed columns plus the original documents."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from toolkit.declarations.spec import Junction, ModelSpec
from toolkit.documents.decode import decode_chunk, malformed_bytes
from toolkit.documents.ids import idmap_slices
from toolkit.documents.index import document_bounds
from toolkit.reports.words import counted
from toolkit.runtime import interrupt, parallel
from toolkit.runtime.errors import ConfigError
from toolkit.runtime.progress import bars
from toolkit.runtime.sizes import PART_BYTES, PART_SIZE
from toolkit.sources import coverage
from toolkit.sources.readers import MongoSource, Position, changes, resume_point, unresumable
from toolkit.sources.unchanged import CLOCK_MARGIN, kept, last_ids, stamps
from toolkit.stages.reports import ExtractReport
from toolkit.staging.layout import (
    RAW_VERSION,
    DamagedStaging,
    Staging,
    file_record,
    intact,
    read_json,
    write_json,
    write_parquet,
    write_parquet_slices,
)

log = logging.getLogger(__name__)
IDMAP_SLICE = 50_000  # rows of the id map built and written at once


def other_raw(collection: str, manifest: dict) -> ConfigError | None:
    """Transform's refusal of a collection whose parts another version of m2pg decoded (they hold
    what that version staged: extract reads it again from its start), or None."""
    if manifest.get("raw_version") == RAW_VERSION:
        return None
    return ConfigError(
        f"{collection} was extracted by another version of m2pg",
        stage="transform",
        hint="run `m2pg extract` to extract it again",
    )


def feeds_of(model: ModelSpec, junctions: tuple[Junction, ...]) -> tuple[str, ...]:
    """Array keys of this model that fill junction tables."""
    return tuple(f.key for j in junctions for f in j.feeds if f.model == model.name)


def parts(chunks, part_size: int, part_bytes: int = PART_BYTES):
    """Regroup raw chunks into parts of `part_size` documents, or fewer where they would pass
    `part_bytes` (the last part may be short): (bytes, each document's offset in its file or
    None when read from a server)."""
    pending, places, count, size = [], [], 0, 0
    for chunk in chunks:
        starts, ends = document_bounds(chunk)
        offsets = getattr(chunk, "offsets", None)
        view = memoryview(chunk)
        position = 0
        while position < len(starts):
            fits = int(np.searchsorted(ends[position:] - starts[position], part_bytes - size, side="right"))
            take = min(part_size - count, max(fits, 0 if count else 1))  # one at least, fits at most the rest
            if take:
                pending.append(view[starts[position] : ends[position + take - 1]])
                places.append(None if offsets is None else offsets[position : position + take])
                size += int(ends[position + take - 1] - starts[position])
                count += take
                position += take
            if position < len(starts) or count == part_size:  # full: by count, or the next does not fit
                yield _joined(pending, places)
                pending, places, count, size = [], [], 0, 0
    if count:
        yield _joined(pending, places)


def _joined(pieces: list, places: list) -> tuple[bytes, np.ndarray | None]:
    return b"".join(pieces), None if any(p is None for p in places) else np.concatenate(places)


def _resumable(staging: Staging, model: ModelSpec, source, part_size: int) -> dict | None:
    """The checkpoint this collection left in an interrupted extract from this source, if any.

    A collection the interrupted run finished is kept whole; after a run that finished,
    extract starts over, since the source may have changed (records fixed in MongoDB).
    """
    path = staging.manifest(model.source)
    run = staging.root / "raw" / "run.json"
    if not path.exists() or not run.exists():
        return None
    try:
        manifest, marker = read_json(path), read_json(run)
    except DamagedStaging:  # a garbled checkpoint is no checkpoint: the collection starts over
        return None
    return manifest if manifest.get("run") == marker["run"] and not marker.get("complete") else None


def decoded_by(model: ModelSpec, feeds: tuple[str, ...]) -> str:
    """A digest of what the model's raw parts are decoded by: its declared fields and the arrays
    that feed junction tables. Parts staged under another declaration are read again."""
    return hashlib.sha256(f"{model!r} feeds={feeds!r}".encode()).hexdigest()


def _vouched(
    source, staging: Staging, model: ModelSpec, trust: dict, made_by: str
) -> tuple[list[dict], list[bool], bool] | str:
    """The previous extract's parts, which of them the server vouches for (see
    sources/unchanged) and whether it holds documents after the last; or why none can be kept.
    `made_by`: the declaration the parts must have been decoded by (`decoded_by`)."""
    if not model.updated_at:
        return "the app declares no field it sets on every write"
    try:
        manifest = read_json(staging.manifest(model.source))
    except (FileNotFoundError, DamagedStaging):
        manifest = {}
    earlier = manifest.get("run") == trust["previous_run"] and manifest.get("complete") and manifest.get("parts")
    if not earlier or manifest.get("raw_version") != RAW_VERSION or "declared" not in manifest:
        return "no complete earlier extract of it by this version is staged"
    if manifest["declared"] != made_by:
        return "the app's declaration of it changed since the earlier extract"
    parts = manifest["parts"]
    bounds = last_ids(parts)
    since = int((datetime.fromisoformat(trust["since"]) - CLOCK_MARGIN).timestamp() * 1000)
    found = stamps(source.stamp_batches(model.source, model.updated_at), model.updated_at, since)
    if bounds is None or found is None:
        return "it holds _ids that are not ObjectIds"
    ids, written = found
    folder = staging.raw_dir(model.source)
    keep = kept(bounds, [p["rows"] for p in parts], ids, written)
    keep = [k and intact(folder / p["file"], p) for k, p in zip(keep, parts, strict=True)]
    return parts, keep, bool(ids.len()) and ids[-1] > bounds[-1]


def _segments(source, model: ModelSpec, earlier: list[dict], keep: list[bool], beyond: bool, part_size: int):
    """The earlier parts the server vouches for, as they are, and between them the documents
    of every other range read afresh into parts; then, if `beyond`, whatever sorts after the last."""
    batch, start = min(part_size, 10_000), 0
    while start < len(earlier):
        if keep[start]:
            yield earlier[start]
            start += 1
            continue
        stop = start
        while stop < len(earlier) and not keep[stop]:
            stop += 1
        after = earlier[start - 1]["last_id"] if start else None
        yield from parts(source.range_chunks(model.source, batch, after, earlier[stop - 1]["last_id"]), part_size)
        start = stop
    if beyond:
        yield from parts(source.range_chunks(model.source, batch, earlier[-1]["last_id"], None), part_size)


def _staged_part(buffer: bytes, offsets, model: ModelSpec, feeds, path: Path, position: Position) -> dict:
    """Decode and write one part; its manifest entry (`position`: where the read stood before it)."""
    table = decode_chunk(buffer, model, feeds, offsets)
    # raw parts are written once and read once: no dictionaries or statistics; LZ4 keeps them a
    # third of their size for about the time the bytes it saves take to write and hash
    write_parquet(table, path, use_dictionary=False, write_statistics=False)
    interrupt.crash_point("extract-part")
    frame = pl.DataFrame(table.select(["m2pg_problems", "m2pg_unknown_fields"]))
    last, key, copies = resume_point(buffer)
    if copies == table.num_rows and key == position.last_key:  # the part repeats one _id throughout
        copies += position.copies
    return {
        "file": path.name,
        "rows": table.num_rows,
        "last_id": last,
        "last_key": key,
        "last_id_copies": copies,
        "digest": hashlib.sha256(buffer).hexdigest(),
        **file_record(path),
        "type_problems": int((frame["m2pg_problems"].list.len() > 0).sum()),
        "malformed_bytes": malformed_bytes(table),
        "unknown_fields": dict(Counter(frame["m2pg_unknown_fields"].explode().drop_nulls().to_list())),
    }


def extract_collection(
    source, staging: Staging, model: ModelSpec, junctions, part_size: int, progress=None, *, trust: dict | None = None
) -> dict:
    """Stage one collection part by part; the manifest after each part is the checkpoint. With
    `trust` (the previous complete extract's run and start), parts of it the server vouches for
    are kept unread."""
    started = time.perf_counter()
    folder = staging.raw_dir(model.source)
    earlier = folder.parent / f".{folder.name}.earlier"  # parts of the previous extract that may be kept
    shutil.rmtree(earlier, ignore_errors=True)  # an interrupted catch-up's: the resume reads their documents
    checkpoint = _resumable(staging, model, source, part_size)
    identity = source.identity(model.source)
    feeds = feeds_of(model, junctions)
    made_by = decoded_by(model, feeds)
    restarted = changes(checkpoint.get("source_file"), identity) if checkpoint else None
    if checkpoint and checkpoint.get("declared") != made_by:
        restarted = "the app's declaration of it changed since the interrupted extract"
    if checkpoint and checkpoint.get("raw_version") != RAW_VERSION:
        restarted = "the interrupted extract was made by another version of m2pg"
    if checkpoint and identity is None and not checkpoint.get("complete") and unresumable(checkpoint["last_id"]):
        restarted = "its last staged _id is a regular expression, after which no server can resume"
    if restarted:  # a resume would mix two versions of the collection
        log.warning("extract: %s: %s: extracting it again from the start", model.source, restarted)
        checkpoint = None
    if checkpoint and checkpoint.get("complete"):
        return {**checkpoint, "parts_resumed": len(checkpoint["parts"]), "parts_written": 0}
    vouched = _vouched(source, staging, model, trust, made_by) if checkpoint is None and trust else None
    if checkpoint is None:
        if isinstance(vouched, tuple):
            folder.rename(earlier)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob(".*.tmp"):
        leftover.unlink()
    files = checkpoint["parts"] if checkpoint else []
    position = (
        Position(
            checkpoint["documents"],
            checkpoint["last_id"],
            checkpoint.get("last_id_copies", 1),
            checkpoint.get("last_key"),
        )
        if checkpoint
        else Position()
    )
    resumed = len(files)
    count = source.count(model.source)  # None for a dump: its size is known before it is read, its count is not
    task = (
        progress.add_task(
            model.source,
            total=source.volume(model.source) if count is None else count,
            unit="bytes" if count is None else "documents",
        )
        if progress
        else None
    )
    if task is not None and count is not None:
        progress.update(task, advance=position.documents)
    manifest = {
        "collection": model.source,
        "table": model.table,
        "source": source.describe(),
        "part_size": part_size,
        "run": read_json(staging.root / "raw" / "run.json")["run"],
        "complete": False,
        "parts": files,
        "source_file": identity,
        "raw_version": RAW_VERSION,
        "declared": made_by,
        **({"restarted": restarted} if restarted else {}),
    }
    items = (
        _segments(source, model, *vouched, part_size)
        if isinstance(vouched, tuple)
        else parts(source.chunks(model.source, min(part_size, 10_000), position), part_size)
    )
    for item in items:
        path = folder / f"part-{len(files):05d}.parquet"
        if isinstance(item, dict):  # vouched for by the server: moved into place, not read
            os.replace(earlier / item["file"], path)
            interrupt.crash_point("extract-part")
            entry, size = {**item, "file": path.name, "unread": True}, 0
        else:
            buffer, offsets = item
            entry, size = _staged_part(buffer, offsets, model, feeds, path, position), len(buffer)
        position = Position(
            position.documents + entry["rows"], entry["last_id"], entry["last_id_copies"], entry["last_key"]
        )
        files.append(entry)
        write_json(
            {
                **manifest,
                "documents": position.documents,
                "last_id": position.last_id,
                "last_key": position.last_key,
                "last_id_copies": position.copies,
            },
            staging.manifest(model.source),
        )
        if task is not None:
            progress.update(task, advance=entry["rows"] if count is not None else size)
        parallel.release_memory()  # a large collection's worker then holds one part, not the most of many
        interrupt.check(
            "extract",
            f"{model.source}: {counted(position.documents, 'document')} in {counted(len(files), 'part')}",
            "the rest of this collection and the collections after it",
        )
    columns = [pl.read_parquet(folder / f["file"], columns=["m2pg_object_id"])["m2pg_object_id"] for f in files]
    ids = pl.concat(columns) if columns else pl.Series("m2pg_object_id", [], pl.String)
    write_parquet_slices(
        (frame.to_arrow() for frame in idmap_slices(model.source, ids, IDMAP_SLICE)), staging.idmap(model.source)
    )
    shutil.rmtree(earlier, ignore_errors=True)
    unknown: Counter[str] = Counter()
    for f in files:
        unknown.update(f["unknown_fields"])
    unread = [f for f in files if f.get("unread")]
    summary = {
        **manifest,
        "complete": True,
        "documents": position.documents,
        "last_id": position.last_id,
        "last_key": position.last_key,
        "last_id_copies": position.copies,
        "idmap": file_record(staging.idmap(model.source)),
        "parts_resumed": resumed,
        "parts_written": len(files) - resumed - sum(1 for f in files[resumed:] if f.get("unread")),
        "parts_unread": len(unread),
        "documents_unread": sum(f["rows"] for f in unread),
        **({"read_whole": vouched} if isinstance(vouched, str) else {}),
        "seconds": round(time.perf_counter() - started, 3),
        "type_problems": sum(f["type_problems"] for f in files),
        "malformed_bytes": sum(f.get("malformed_bytes", 0) for f in files),
        "unknown_fields": dict(sorted(unknown.items())),
    }
    write_json(summary, staging.manifest(model.source))
    return summary


def written_since(source: MongoSource, counted: dict) -> dict | None:
    """Whether the server took writes since `counted` (its write counters then, and when: an
    extract's `server_writes`): then a document read early may have changed since, and one
    written behind the read position was not seen. None when it took none. The counters count
    every database's writes."""
    before, after = counted["before"], source.writes()
    if isinstance(before, int) and isinstance(after, int) and after >= before:
        return {"since": counted["since"], "writes": after - before} if after != before else None
    unknown = next((c for c in (before, after) if isinstance(c, str)), "the server restarted: its counters went back")
    return {"since": counted["since"], "writes": None, "unknown": unknown}


def extract(
    source,
    staging: Staging,
    models,
    junctions,
    part_size: int = PART_SIZE,
    workers: int | None = None,
    trust_updated_at: bool = False,
) -> ExtractReport:
    """Extract every collection, the largest first, on `workers` processes (None: by source size);
    resumes an interrupted run of the same source and part size. `trust_updated_at`: keep the
    parts of the previous complete run that a live server vouches for (sources/unchanged)."""
    run = staging.root / "raw" / "run.json"
    marker = {"source": source.describe(), "part_size": part_size, "complete": False}
    previous = read_json(run) if run.exists() else {}
    same = all(previous.get(k) == marker[k] for k in ("source", "part_size"))
    if previous.get("complete") or not same:
        after = (  # what a part kept from the finished run is vouched for against
            {"previous_run": previous["run"], "since": previous["started_at"]}
            if previous.get("complete") and same and "started_at" in previous
            else {}
        )
        started = datetime.now(UTC).isoformat()
        previous = {**marker, "run": uuid.uuid4().hex, "started_at": started, **after}  # earlier checkpoints: void
        write_json(previous, run)
    marker = previous
    trust = None
    if trust_updated_at and not hasattr(source, "stamp_batches"):  # a dump has no index to ask
        log.warning("extract: --trust-updated-at: %s is read whole (only a server vouches)", source.describe())
    elif trust_updated_at and "since" not in marker:
        log.warning("extract: --trust-updated-at: no complete earlier extract from this source: it is read whole")
    elif trust_updated_at:
        trust = {"previous_run": marker["previous_run"], "since": marker["since"]}
    volumes = {m.source: source.volume(m.source) for m in models}
    counted = (
        {"since": datetime.now(UTC).isoformat(), "before": source.writes()} if isinstance(source, MongoSource) else None
    )
    largest_first = sorted(models, key=lambda m: -volumes[m.source])
    job = functools.partial(extract_collection, trust=trust)
    jobs = [(job, (source, staging, m, junctions, part_size)) for m in largest_first]
    with bars() as progress:
        done = parallel.run_jobs(jobs, parallel.workers_for(sum(volumes.values()), workers), progress, "extract")
    by_name = {c["collection"]: c for c in done}
    not_migrated = coverage.of_source(source, models)
    for name in not_migrated["absent_collections"]:  # transform says so in the reasons it gives
        if by_name[name]["documents"]:  # staged before it was dropped or renamed: not the source's now
            log.warning(
                "extract: %s is absent from the source now, though %d of its documents were staged (dropped or "
                "renamed during the extract?): staged empty",
                name,
                by_name[name]["documents"],
            )
            staging.manifest(name).unlink()  # no checkpoint: read again from the start, where it holds nothing
            model = next(m for m in models if m.source == name)
            by_name[name] = extract_collection(source, staging, model, junctions, part_size)
        by_name[name]["absent"] = True
        write_json(by_name[name], staging.manifest(name))
    collections = [by_name[m.source] for m in models]
    written = written_since(source, counted) if counted else None
    not_migrated["unknown_fields"] = coverage.unknown_fields(staging, models)
    report: ExtractReport = {
        "source": source.describe(),
        "collections": collections,
        "documents": sum(c["documents"] for c in collections),
        "parts_resumed": sum(c["parts_resumed"] for c in collections),
        "parts_written": sum(c["parts_written"] for c in collections),
        "parts_unread": sum(c.get("parts_unread", 0) for c in collections),
        "documents_unread": sum(c.get("documents_unread", 0) for c in collections),
        "not_migrated": not_migrated,
    }
    if trust:
        report["trusted_since"] = trust["since"]
    if counted:
        report["server_writes"] = counted
    if written:
        report["written_while_read"] = written
    kept_as_read = [c["collection"] for c in collections if c["parts_resumed"]]
    if kept_as_read and isinstance(source, MongoSource):  # a dump that changed is read again from its start
        report["read_before_interruption"] = {"since": marker["started_at"], "collections": kept_as_read}
    write_json(report, staging.report("extract.json"))
    finished = datetime.now(UTC).isoformat()  # a load compares it with the extracts the target was loaded from
    write_json({**marker, "complete": True, "extracted_at": finished}, run)
    return report
