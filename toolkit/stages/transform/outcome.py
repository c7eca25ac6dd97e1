"""What the models transformed so far left behind, read back from their staged parts: later
models judge their references against it, and a worker process rebuilds it from disk."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from toolkit.declarations.spec import ModelSpec
from toolkit.stages.transform.fingerprint import digest, ids_digest
from toolkit.staging.layout import Staging, checked, read_json

IDS = pl.Schema({"object_id": pl.String})


@dataclass
class Outcome:
    """What earlier models left behind, for judging the references of later ones."""

    kept: dict[str, pl.DataFrame] = field(default_factory=dict)  # object_id, sorted; each id is its UUID
    quarantined: dict[str, pl.Series] = field(default_factory=dict)
    idmaps: dict[str, pl.Series] = field(default_factory=dict)  # every extracted ObjectId, sorted
    digests: dict[str, str] = field(default_factory=dict)  # what each model kept, as a hash
    absent: dict[str, str] = field(default_factory=dict)  # model -> its collection, which the source lacks
    collections: dict[str, str] = field(default_factory=dict)  # model -> its collection, for the id maps


def remember(staging: Staging, model: ModelSpec, outcome: Outcome) -> None:
    """Record what the model kept and refused, from its staged parts, for later models."""
    clean = pl.read_parquet(staging.clean_parts(model.table), columns=["_object_id"])
    kept = clean.rename({"_object_id": "object_id"}).cast(IDS)
    if not kept["object_id"].is_sorted():  # parts in `_id` order usually are: no copy then
        kept = kept.sort("object_id")  # for binary searches
    kept = kept.with_columns(pl.col("object_id").set_sorted())
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
    outcome.digests[model.name] = digest(ids_digest(kept["object_id"]), ids_digest(refused), str(absent))


def collections_of(models) -> dict[str, str]:
    """Model name -> its collection: a model's name says which staged id map holds its ids only
    through this (Prisma's @@map lets the two differ)."""
    return {m.name: m.source for m in models}


def idmap(staging: Staging, collection: str, outcome: Outcome) -> pl.Series:
    """The collection's extracted ObjectIds, sorted once so each part looks its ids up by a
    binary search instead of hashing the whole collection again."""
    if collection not in outcome.idmaps:
        path = staging.idmap(collection)
        ids = (
            pl.read_parquet(checked(path), columns=["object_id"])["object_id"]
            if path.exists()
            else pl.Series([], dtype=pl.String)
        )
        outcome.idmaps[collection] = ids if ids.is_sorted() else ids.sort()  # extract writes them sorted
    return outcome.idmaps[collection]
