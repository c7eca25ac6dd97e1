"""Extract: each collection -> Parquet parts of typed columns plus the original documents."""
from __future__ import annotations

import hashlib
import shutil
import time
import uuid
from collections import Counter

import polars as pl

from toolkit import interrupt, parallel
from toolkit.bson_index import document_bounds
from toolkit.decode import decode_chunk
from toolkit.ids import idmap_frame
from toolkit.progress import bars
from toolkit.sources import Position, last_id
from toolkit.spec import Junction, ModelSpec
from toolkit.staging import Staging, read_json, write_json, write_parquet

PART_SIZE = 10_000


def feeds_of(model: ModelSpec, junctions: tuple[Junction, ...]) -> tuple[str, ...]:
    """Array keys of this model that fill junction tables."""
    return tuple(f.key for j in junctions for f in j.feeds if f.model == model.name)


def parts(chunks, part_size: int):
    """Regroup raw chunks into parts of exactly `part_size` documents (the last may be short)."""
    pending, count = [], 0
    for chunk in chunks:
        starts, ends = document_bounds(chunk)
        view = memoryview(chunk)
        position = 0
        while position < len(starts):
            take = min(part_size - count, len(starts) - position)
            pending.append(view[starts[position]:ends[position + take - 1]])
            count += take
            position += take
            if count == part_size:
                yield b"".join(pending)
                pending, count = [], 0
    if count:
        yield b"".join(pending)


def _resumable(staging: Staging, model: ModelSpec, source, part_size: int) -> dict | None:
    """The checkpoint this collection left in an interrupted extract from this source, if any.

    A collection the interrupted run finished is kept whole; after a run that finished,
    extract starts over, since the source may have changed (records fixed in MongoDB).
    """
    path = staging.manifest(model.source)
    run = staging.root / "raw" / "run.json"
    if not path.exists() or not run.exists():
        return None
    manifest, marker = read_json(path), read_json(run)
    return manifest if manifest.get("run") == marker["run"] and not marker.get("complete") else None


def extract_collection(source, staging: Staging, model: ModelSpec, junctions, part_size: int,
                       progress=None) -> dict:
    """Stage one collection part by part; the manifest after each part is the checkpoint."""
    started = time.perf_counter()
    folder = staging.raw_dir(model.source)
    checkpoint = _resumable(staging, model, source, part_size)
    if checkpoint and checkpoint.get("complete"):
        return {**checkpoint, "parts_resumed": len(checkpoint["parts"]), "parts_written": 0}
    if checkpoint is None:
        shutil.rmtree(folder, ignore_errors=True)
    for leftover in folder.glob(".*.tmp"):
        leftover.unlink()
    files = checkpoint["parts"] if checkpoint else []
    position = Position(checkpoint["documents"], checkpoint["last_id"]) if checkpoint else Position()
    resumed = len(files)
    feeds = feeds_of(model, junctions)
    task = progress.add_task(model.source, total=source.count(model.source)) if progress else None
    if task is not None:
        progress.update(task, advance=position.documents)
    manifest = {"collection": model.source, "source": source.describe(), "part_size": part_size,
                "run": read_json(staging.root / "raw" / "run.json")["run"], "complete": False, "parts": files}
    for buffer in parts(source.chunks(model.source, min(part_size, 10_000), position), part_size):
        table = decode_chunk(buffer, model, feeds)
        name = f"part-{len(files):05d}.parquet"
        # raw parts are written once and read once: no compression, dictionaries or statistics
        write_parquet(table, folder / name, compression="none", use_dictionary=False, write_statistics=False)
        interrupt.crash_point("extract-part")
        frame = pl.from_arrow(table.select(["m2pg_problems", "m2pg_unknown_fields"]))
        position = Position(position.documents + table.num_rows, last_id(buffer))
        files.append({"file": name, "rows": table.num_rows, "last_id": position.last_id,
                      "digest": hashlib.sha256(buffer).hexdigest(),
                      "type_problems": int((frame["m2pg_problems"].list.len() > 0).sum()),
                      "unknown_fields": dict(Counter(frame["m2pg_unknown_fields"].explode().drop_nulls().to_list()))})
        write_json({**manifest, "documents": position.documents, "last_id": position.last_id},
                   staging.manifest(model.source))
        if task is not None:
            progress.update(task, advance=table.num_rows)
        interrupt.check("extract", f"{model.source}: {position.documents} documents in {len(files)} parts",
                        "the rest of this collection and the collections after it")
    ids = [pl.read_parquet(folder / f["file"], columns=["m2pg_object_id"])["m2pg_object_id"] for f in files]
    ids = pl.concat(ids) if ids else pl.Series("m2pg_object_id", [], pl.String)
    write_parquet(idmap_frame(model.source, ids).to_arrow(), staging.idmap(model.source))
    unknown = Counter()
    for f in files:
        unknown.update(f["unknown_fields"])
    summary = {**manifest, "complete": True, "documents": position.documents, "last_id": position.last_id,
               "parts_resumed": resumed, "parts_written": len(files) - resumed,
               "seconds": round(time.perf_counter() - started, 3),
               "type_problems": sum(f["type_problems"] for f in files), "unknown_fields": dict(sorted(unknown.items()))}
    write_json(summary, staging.manifest(model.source))
    return summary


def extract(source, staging: Staging, models, junctions, part_size: int = PART_SIZE,
            workers: int | None = None) -> dict:
    """Extract every collection, the largest first, on `workers` processes (None: by source size);
    resumes an interrupted run of the same source and part size."""
    run = staging.root / "raw" / "run.json"
    marker = {"source": source.describe(), "part_size": part_size, "complete": False}
    previous = read_json(run) if run.exists() else {}
    if previous.get("complete") or any(previous.get(k) != marker[k] for k in ("source", "part_size")):
        previous = {**marker, "run": uuid.uuid4().hex}  # a new run: earlier checkpoints do not count
        write_json(previous, run)
    marker = previous
    volumes = {m.source: source.volume(m.source) for m in models}
    largest_first = sorted(models, key=lambda m: -volumes[m.source])
    jobs = [(extract_collection, (source, staging, m, junctions, part_size)) for m in largest_first]
    with bars() as progress:
        done = parallel.run_jobs(jobs, parallel.workers_for(sum(volumes.values()), workers), progress, "extract")
    by_name = {c["collection"]: c for c in done}
    collections = [by_name[m.source] for m in models]
    report = {"source": source.describe(), "collections": collections,
              "documents": sum(c["documents"] for c in collections),
              "parts_resumed": sum(c["parts_resumed"] for c in collections),
              "parts_written": sum(c["parts_written"] for c in collections)}
    write_json(report, staging.report("extract.json"))
    write_json({**marker, "complete": True}, run)
    return report
