"""Extract: each collection -> Parquet parts of typed columns plus the original documents."""
from __future__ import annotations

import shutil
from collections import Counter

import polars as pl

from toolkit.bson_index import document_bounds
from toolkit.decode import decode_chunk
from toolkit.ids import idmap_frame
from toolkit.progress import bars
from toolkit.spec import Junction, ModelSpec
from toolkit.staging import Staging, write_json, write_parquet

PART_SIZE = 20_000


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


def extract_collection(source, staging: Staging, model: ModelSpec, junctions, part_size: int,
                       progress=None) -> dict:
    """Stage one collection; the manifest is written last, so a half run never looks done."""
    folder = staging.raw_dir(model.source)
    shutil.rmtree(folder, ignore_errors=True)
    feeds = feeds_of(model, junctions)
    task = progress.add_task(model.source, total=source.count(model.source)) if progress else None
    files, unknown, documents, problems, object_ids = [], Counter(), 0, 0, []
    for number, buffer in enumerate(parts(source.chunks(model.source, min(part_size, 10_000)), part_size)):
        table = decode_chunk(buffer, model, feeds)
        name = f"part-{number:05d}.parquet"
        write_parquet(table, folder / name)
        frame = pl.from_arrow(table.select(["m2pg_object_id", "m2pg_problems", "m2pg_unknown_fields"]))
        unknown.update(frame["m2pg_unknown_fields"].explode().drop_nulls().to_list())
        problems += int((frame["m2pg_problems"].list.len() > 0).sum())
        object_ids.append(frame["m2pg_object_id"])
        files.append({"file": name, "rows": table.num_rows})
        documents += table.num_rows
        if task is not None:
            progress.update(task, advance=table.num_rows)
    ids = pl.concat(object_ids) if object_ids else pl.Series("m2pg_object_id", [], pl.String)
    write_parquet(idmap_frame(model.source, ids).to_arrow(), staging.idmap(model.source))
    summary = {"collection": model.source, "documents": documents, "parts": files,
               "type_problems": problems, "unknown_fields": dict(sorted(unknown.items()))}
    write_json(summary, staging.manifest(model.source))
    return summary


def extract(source, staging: Staging, models, junctions, part_size: int = PART_SIZE) -> dict:
    with bars() as progress:
        collections = [extract_collection(source, staging, m, junctions, part_size, progress)
                       for m in models]
    report = {"source": source.describe(), "collections": collections,
              "documents": sum(c["documents"] for c in collections)}
    write_json(report, staging.report("extract.json"))
    return report
