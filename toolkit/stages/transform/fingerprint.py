"""What a part's result depends on, as hashes: a part whose fingerprint matches the one its
manifest recorded is skipped on the next run."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import polars as pl

from toolkit.declarations.spec import ModelSpec
from toolkit.runtime.errors import ConfigError
from toolkit.staging.layout import RAW_VERSION, Staging, read_json, recorded

if TYPE_CHECKING:
    from toolkit.stages.transform.outcome import Outcome

SEED = 20_261_203  # the ids' hashes: fixed, so every process gets the same digest
RULES_VERSION = "6"  # part of every fingerprint: bump when the rules change what they produce


def other_rules(staging: Staging) -> bool:
    """Whether the staged transform output was made under other rules, or from raw parts another
    version of m2pg decoded: what it keeps and refuses is not what this version would, so no later
    stage may take it."""
    made = read_json(staging.report("transform.json"))
    return made.get("rules_version") != RULES_VERSION or made.get("raw_version") != RAW_VERSION


def refused(staging: Staging, stage: str) -> ConfigError | None:
    """`stage`'s refusal of a transform output made under other rules (`other_rules`), or None."""
    if not other_rules(staging):
        return None
    return ConfigError(
        f"the transform output in {staging.root} was made by another version of m2pg "
        "(its rules may keep or refuse other records)",
        stage=stage,
        hint=f"run `m2pg transform --staging {staging.root}` first",
    )


def digest(*parts: str | bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part if isinstance(part, bytes) else part.encode())
        hasher.update(b"\0")
    return hasher.hexdigest()


def ids_digest(ids: pl.Series) -> str:
    """A set of ids, hashed without leaving polars: each id's 64-bit hash, in sorted order."""
    return digest(ids.drop_nulls().sort().hash(SEED).to_numpy().tobytes())


def context(staging: Staging, model: ModelSpec, enums, outcome: Outcome) -> str:
    """What a part's result depends on beyond its own documents: the model's declaration, the
    referenced collections, and the ids extracted of each collection a plain ObjectId field
    points at (its report counts the ids that point at none)."""
    targets = sorted({f.parent.model for f in model.references})
    pointed = sorted({f.points_to for f in model.fields if f.points_to})
    return digest(
        RULES_VERSION,
        model.declared(enums),
        *(f"{t}={outcome.digests[t]}" for t in targets),
        *(f"{p} ids={_idmap_digest(staging, outcome.collections[p])}" for p in pointed),
    )


def _idmap_digest(staging: Staging, collection: str) -> str:
    """The digest extract recorded of a collection's id map; none for a collection not extracted."""
    record = recorded(staging.idmap(collection))
    return record["file_sha256"] if record else "none"


def content(staging: Staging, model: ModelSpec, part: dict) -> bytes:
    """What identifies a raw part's content: the digest extract took of its documents, with the
    file's size; the file's bytes for a part staged without one."""
    path = staging.raw_dir(model.source) / part["file"]
    if "digest" not in part:
        return path.read_bytes()
    return f"{part['digest']}:{path.stat().st_size}".encode()
