"""A mongodump as the source looks some time after a migration: a few documents changed,
deleted and added, so that a second `m2pg run` has something to catch up on.

Per collection, chosen by a seeded generator: `CHANGED` of the documents get a new value in one
plain field (a text field that is not unique, else another scalar; never a reference), `DELETED`
are removed and `ADDED` new ones are copies of kept documents with a fresh ObjectId and their
unique values made unique. Only documents that no reference of any collection points at are
deleted: a deletion then removes its own row and junction pairs, and no other row changes with
it (a collection where too few such documents exist gets fewer deletions, and says so).
Files are read in blocks of whole documents and indexed by `toolkit.documents.index`; only the
chosen documents are decoded.
"""

from __future__ import annotations

import shutil
import zlib
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

import bson
import numpy as np
import polars as pl
from bson.codec_options import CodecOptions, DatetimeConversion

from toolkit.declarations.spec import Field, Kind, ModelSpec
from toolkit.documents import index as bt
from toolkit.generate.sample import END
from toolkit.sources.readers import file_blocks
from transforms import MODELS

CHANGED, DELETED, ADDED = 0.01, 0.005, 0.005  # shares of each collection's documents
CODEC = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO)
REFERENCE_KINDS = (Kind.OBJECT_ID, Kind.UUID_LIST)
SCALAR_KINDS = (Kind.BOOL, Kind.INT, Kind.DATETIME)
NEW_ID_SECONDS = int((END + timedelta(days=1)).timestamp())  # after every generated id: new ids sort last
NEW_ID_MACHINE = 0xEE


@dataclass
class Planted:
    """What one collection's file holds that the original did not."""

    documents: int  # in the original
    changed: int
    deleted: int
    added: int
    deletions_wanted: int  # deleted is less when too few documents are unreferenced
    changed_field: str | None  # the key whose value the changed documents got anew


def derive(dump: Path, out: Path, seed: int = 11, db: str = "nextcrm") -> dict[str, dict]:
    """Write `out/<db>/` from `dump/<db>/` with the changes planted; return them per collection."""
    source, target = Path(dump) / db, Path(out) / db
    target.mkdir(parents=True, exist_ok=True)
    models = [m for m in MODELS if (source / f"{m.source}.bson").exists()]
    ids = {m.name: _ids(source / f"{m.source}.bson") for m in models}
    referenced = _referenced(source, models)
    planted = {}
    for model in models:
        rng = np.random.default_rng([seed, zlib.crc32(model.source.encode())])
        planted[model.source] = _rewrite(
            model,
            source / f"{model.source}.bson",
            target / f"{model.source}.bson",
            ids[model.name],
            referenced.get(model.name),
            rng,
        )
        metadata = source / f"{model.source}.metadata.json"
        if metadata.exists():
            shutil.copyfile(metadata, target / metadata.name)
    return {name: asdict(p) for name, p in planted.items()}


def totals(planted: dict[str, dict]) -> dict[str, int]:
    return {k: sum(p[k] for p in planted.values()) for k in ("documents", "changed", "deleted", "added")}


def _ids(path: Path) -> np.ndarray:
    """Every document's 12 ObjectId bytes in file order (zeros where `_id` is no ObjectId)."""
    found = []
    for _, block in file_blocks(path):
        ix = bt.index(block, ["_id"])
        ids = np.zeros((len(ix), 12), np.uint8)
        first = ix.elements.filter((pl.col("field") == 0) & pl.col("first") & (pl.col("type") == bt.OBJECT_ID))
        ids[first["doc"].to_numpy()] = ix.gather(first["value"].to_numpy(), 12)
        found.append(ids)
    return np.concatenate(found).view("S12").ravel() if found else np.zeros(0, "S12")


def _referenced(source: Path, models: list[ModelSpec]) -> dict[str, np.ndarray]:
    """Per target model, the ObjectIds that some reference field of some document holds."""
    found: dict[str, list[np.ndarray]] = {}
    for model in models:
        fields = [f for f in model.fields if f.kind in REFERENCE_KINDS and f.key != "_id" and _target(f)]
        if not fields:
            continue
        for _, block in file_blocks(source / f"{model.source}.bson"):
            ix = bt.index(block, [f.key for f in fields])
            for number, f in enumerate(fields):
                values = ix.elements.filter(pl.col("field") == number)
                found.setdefault(_target(f), []).append(_object_ids(ix, values))
    return {name: np.unique(np.concatenate(parts)) for name, parts in found.items()}


def _target(f: Field) -> str | None:
    return f.references.model if f.references else f.points_to


def _object_ids(ix: bt.BsonIndex, values: pl.DataFrame) -> np.ndarray:
    """The ObjectIds among these elements' values, and inside those that are arrays."""
    single = values.filter(pl.col("type") == bt.OBJECT_ID)["value"].to_numpy()
    ids = [ix.gather(single, 12).view("S12").ravel()]
    arrays = values.filter(pl.col("type") == bt.ARRAY)["value"].to_numpy()
    if len(arrays):  # an array's bytes are a document's: index them all at once
        data = np.frombuffer(ix.buffer, np.uint8)
        sizes = bt.int32_at(data, arrays)
        inner = bt.index(b"".join(ix.buffer[a : a + s] for a, s in zip(arrays.tolist(), sizes.tolist(), strict=False)))
        elements = inner.elements.filter(pl.col("type") == bt.OBJECT_ID)["value"].to_numpy()
        ids.append(inner.gather(elements, 12).view("S12").ravel())
    return np.concatenate(ids)


def _rewrite(
    model: ModelSpec,
    source: Path,
    target: Path,
    ids: np.ndarray,
    referenced: np.ndarray | None,
    rng: np.random.Generator,
) -> Planted:
    n = len(ids)
    unreferenced = np.flatnonzero(~np.isin(ids, referenced)) if referenced is not None else np.arange(n)
    wanted = round(n * DELETED)
    deleted = np.sort(rng.choice(unreferenced, min(wanted, len(unreferenced)), replace=False))
    kept = np.setdiff1d(np.arange(n), deleted)
    field = _changeable(model)
    to_change, to_copy = round(n * CHANGED), round(n * ADDED)
    chosen = rng.choice(kept, min(to_change + to_copy, len(kept)), replace=False)
    changed = np.sort(chosen[:to_change]) if field else np.zeros(0, np.int64)
    copied = np.sort(chosen[to_change:])
    action = np.zeros(n, np.uint8)  # 0 keep, 1 delete, 2 change, 3 copy (the original is kept too)
    action[deleted], action[changed], action[copied] = 1, 2, 3
    copies = []
    with target.open("wb") as fh:
        position = 0
        for _, block in file_blocks(source):
            starts, ends = bt.document_bounds(block)
            view, written = memoryview(block), 0
            for i in np.flatnonzero(action[position : position + len(starts)]).tolist():
                what = action[position + i]
                start, end = int(starts[i]), int(ends[i])
                if what == 3:
                    copies.append(bson.decode(bytes(view[start:end]), CODEC))
                    continue
                fh.write(view[written:start])
                if what == 2:
                    fh.write(_changed(bson.decode(bytes(view[start:end]), CODEC), field))
                written = end
            fh.write(view[written:])
            position += len(starts)
        for number, document in enumerate(copies):
            fh.write(_copy(document, model, number))
    return Planted(n, len(changed), len(deleted), len(copies), wanted, field.key if field else None)


def _changeable(model: ModelSpec) -> Field | None:
    """The field the changed documents get a new value in: plain text if the model has some
    (a required one first), else a boolean, integer or date; never unique, never a reference."""
    plain = [f for f in model.fields if f.key != "_id" and not f.unique and not f.references and not f.points_to]
    text = [f for f in plain if f.kind is Kind.TEXT]
    return (sorted(text, key=lambda f: not f.required) or [f for f in plain if f.kind in SCALAR_KINDS] or [None])[0]


def _changed(document: dict, field: Field) -> bytes:
    """The document with another valid value under the field's key."""
    old = document.get(field.key)
    if field.kind is Kind.TEXT:
        new = f"{old} (changed)" if isinstance(old, str) else "changed"
    elif field.kind is Kind.BOOL:
        new = not old
    elif field.kind is Kind.INT:
        new = old + 1 if isinstance(old, int) and old < 2**31 - 1 else 1
    else:
        new = old + timedelta(seconds=1) if hasattr(old, "year") else END
    document[field.key] = new
    return bson.encode(document, codec_options=CODEC)


def _copy(document: dict, model: ModelSpec, number: int) -> bytes:
    """A new document like `document`: a fresh ObjectId after every existing one, each unique
    text value prefixed to stay unique; references and junction arrays as they were."""
    new_id = (
        NEW_ID_SECONDS.to_bytes(4, "big")
        + bytes([NEW_ID_MACHINE])
        + zlib.crc32(model.source.encode()).to_bytes(4, "big")
        + number.to_bytes(3, "big")
    )
    copy = {"_id": bson.ObjectId(new_id), **{k: v for k, v in document.items() if k != "_id"}}
    for f in model.fields:
        if f.unique and isinstance(copy.get(f.key), str):
            copy[f.key] = f"copy{number}.{copy[f.key]}"
    return bson.encode(copy, codec_options=CODEC)
