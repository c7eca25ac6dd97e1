"""What the source and the app's declarations do not share: declared collections the source
lacks, collections and fields it holds that the app does not declare. None of these is
migrated, so each is reported (with counts and sample ids) wherever the run is reported:
nothing is silently gone."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from bson.json_util import RELAXED_JSON_OPTIONS, dumps
from bson.objectid import ObjectId
from pymongo.errors import OperationFailure

from toolkit.documents.index import document_bounds, document_id
from toolkit.reports.words import counted
from toolkit.runtime.errors import short_cause
from toolkit.staging.layout import Staging, checked_all, read_json

SAMPLES = 3


def of_source(src, models) -> dict:
    """Declared collections the source lacks, and the ones it holds that no model declares."""
    present = set(src.collections())
    declared = {m.source for m in models}
    return {
        "absent_collections": sorted(declared - present),
        "undeclared_collections": [
            _undeclared(src, name) for name in sorted(present - declared) if not name.startswith("system.")
        ],
    }


def _undeclared(src, name: str) -> dict:
    """Its documents (counted through the source when it cannot say) and the first few ids. One
    the server refuses to read (a view whose pipeline fails, a collection the user may not read)
    is not the app's and not needed: it is listed with the server's reason, and the extract goes on."""
    count, documents, samples = None, 0, list[str]()
    try:
        count = src.count(name)
        for chunk in src.chunks(name, 1000):
            starts, ends = document_bounds(chunk)
            samples += [_id_text(chunk[s:e]) for s, e in zip(starts[: SAMPLES - len(samples)], ends, strict=False)]
            documents += len(starts)
            if count is not None and len(samples) >= SAMPLES:
                break
    except OperationFailure as error:
        return {"collection": name, "documents": 0, "sample_ids": [], "unreadable": short_cause(error)}
    return {"collection": name, "documents": count if count is not None else documents, "sample_ids": samples}


def _id_text(document: bytes) -> str:
    """A sample's `_id` as text; of a document pymongo cannot decode (bytes a real MongoDB may
    hold), read as the quarantine reads it, not a crash of the extract."""
    value = document_id(document)
    return str(value) if isinstance(value, ObjectId) else dumps(value, json_options=RELAXED_JSON_OPTIONS)


def unknown_fields(staging: Staging, models) -> list[dict]:
    """Per collection and undeclared field: documents holding it and a few of their ids, read
    from the raw parts of the collections whose manifest counted any."""
    found = []
    for m in models:
        path = staging.manifest(m.source)
        if not path.exists() or not read_json(path).get("unknown_fields"):
            continue
        parts = checked_all(sorted(staging.raw_dir(m.source).glob("part-*.parquet")))
        frame = (
            pl.read_parquet(parts, columns=["m2pg_object_id", "m2pg_source_id", "m2pg_unknown_fields"])
            .explode("m2pg_unknown_fields")
            .drop_nulls("m2pg_unknown_fields")
            .group_by("m2pg_unknown_fields", maintain_order=True)
            .agg(
                documents=pl.len(),  # ids that documents share (a dump may hold two) are shown once
                sample_ids=pl.coalesce("m2pg_object_id", "m2pg_source_id").unique(maintain_order=True).head(SAMPLES),
            )
            .sort("m2pg_unknown_fields")
        )
        found += [
            {
                "collection": m.source,
                "field": row["m2pg_unknown_fields"],
                "documents": row["documents"],
                "sample_ids": row["sample_ids"],
            }
            for row in frame.iter_rows(named=True)
        ]
    return found


def read(staging_root: Path | str) -> dict | None:
    """What extract found not migrated, from reports/extract.json (None before an extract)."""
    path = Staging(Path(staging_root)).report("extract.json")
    return read_json(path).get("not_migrated") if path.exists() else None


def warnings(not_migrated: dict | None) -> list[str]:
    """One line per thing not migrated, for consoles and logs."""
    if not not_migrated:
        return []
    lines = [
        f"collection {name} is declared but absent from the source: nothing of it is migrated, and "
        "records that must reference it are quarantined"
        for name in not_migrated.get("absent_collections", [])
    ]
    lines += [
        f"collection {c['collection']} could not be read ({c['unreadable']}) and is not declared by the app: "
        "not migrated"
        if c.get("unreadable")
        else f"collection {c['collection']} ({counted(c['documents'], 'document')}, e.g. _id "
        f"{', '.join(c['sample_ids'])}) is not declared by the app: not migrated"
        for c in not_migrated.get("undeclared_collections", [])
    ]
    lines += [
        f"field {f['collection']}.{f['field'] or '(the empty name)'} ({counted(f['documents'], 'document')}, e.g. _id "
        f"{', '.join(f['sample_ids'])}) is not declared by the app: not migrated"
        for f in not_migrated.get("unknown_fields", [])
    ]
    return lines
