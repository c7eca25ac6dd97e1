"""`m2pg generate`: a dataset of the app written into MongoDB or a mongodump layout, without
loading the stages."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bson import json_util
from rich.console import Console

from toolkit.declarations.app import App
from toolkit.runtime.errors import ConfigError, short_cause
from toolkit.runtime.preflight import mongo_database, need, one_of
from toolkit.runtime.redact import redact
from toolkit.sources.mongodump import file_stem
from toolkit.staging.layout import write_json

PROFILES = ("sample", "bad", "large")
DUMP_FILES = (".bson", ".bson.gz", ".metadata.json", ".metadata.json.gz")  # what mongodump writes per collection
EXPECTED = "expected.json"  # beside a `bad` dump's database folder: the records that must be quarantined


def countable(app: App, scale: float) -> None:
    """A --scale the large profile can write: a positive number, and no collection beyond what
    the 3-byte counter of its generated ObjectIds can number."""
    from toolkit.generate.large import MOST_DOCUMENTS, counts

    if not (math.isfinite(scale) and scale > 0):
        example = sum(counts(app, 10).values())
        raise ConfigError(f"--scale {scale} is not a positive number", hint=f"e.g. --scale 10 ({example:,} documents)")
    name, largest = max(counts(app, scale).items(), key=lambda item: item[1])
    if largest > MOST_DOCUMENTS:
        raise ConfigError(
            f"--scale {scale} would make {largest:,} documents of {name}, more than the {MOST_DOCUMENTS:,} "
            "the generated ObjectIds can number",
            hint=f"use --scale {math.floor(scale * MOST_DOCUMENTS / largest)} or less; nothing was written",
        )


def held_collections(uri: str, db: str, names: list[str]) -> dict[str, int]:
    """The app's collections the database already has, with about how many documents each."""
    from pymongo import MongoClient  # only a write to a server needs the driver

    client: MongoClient[dict[str, Any]]
    with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        present = sorted(set(client[db].list_collection_names()) & set(names))
        return {name: client[db][name].estimated_document_count() for name in present}


def held_files(folder: Path, names: list[str]) -> list[Path]:
    """The files of the app's collections a dump folder already has."""
    paths = (folder / f"{file_stem(name)}{suffix}" for name in names for suffix in DUMP_FILES)
    return [path for path in paths if path.exists()]


def make_room(app: App, mongo_uri: str | None, database: str, folder: Path | None, replace: bool) -> None:
    """A database or dump folder that already has the app's collections holds someone's data:
    stop before writing, unless --replace says to write over them (a server's collections are
    then dropped as each is written; a dump's files of them are removed first)."""
    names = [m.source for m in app.models]
    hint = "nothing was written; name another {}, or pass --replace to write the dataset in their place"
    if folder is None:
        held = held_collections(need(mongo_uri, "--mongo-uri"), database, names)
        if held and not replace:
            documents = sum(held.values())
            raise ConfigError(
                f"database {database!r} at {redact(mongo_uri or '')} already has {len(held)} of the app's "
                f"collections ({documents} document{'' if documents == 1 else 's'}; {next(iter(held))} among them)",
                stage="generate",
                hint=hint.format("--mongo-db (or an empty server)"),
            )
        return
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is a file, not a folder", stage="generate", hint="--dump-out takes a folder")
    files = held_files(folder / database, names)
    listed = [p for p in [folder / EXPECTED] if p.exists()]  # a bad dataset's list of what to quarantine
    if (files or listed) and not replace:
        raise ConfigError(
            f"{folder / database} already has {len(files)} files of the app's collections ({files[0].name} among them)"
            if files
            else f"{folder} already has {EXPECTED} (the records a bad dataset holds for the quarantine)",
            stage="generate",
            hint=hint.format("--dump-out folder"),
        )
    files += listed
    for path in files:  # a stale .bson.gz beside the new .bson would be a second copy; a bad dump's
        path.unlink()  # list of what must be quarantined would be wrong of another dataset


def generate_data(
    app: App,
    profile: str,
    scale: float,
    seed: int,
    mongo_uri: str | None,
    mongo_db: str | None,
    dump_out: Path | None,
    out: Console,
    replace: bool = False,
) -> int:
    """Write a dataset of the app into a MongoDB or straight into a mongodump layout."""

    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}", hint=f"choose one of {', '.join(PROFILES)}")
    if mongo_uri and dump_out:
        raise one_of(("--dump-out", None, dump_out), ("--mongo-uri", "M2PG_MONGO_URI", mongo_uri))
    if not (mongo_uri or dump_out):
        raise ConfigError("give a target", hint="--dump-out DIR, or --mongo-uri and --mongo-db")
    folder = Path(dump_out) if dump_out else None
    database = mongo_db or app.database
    if profile == "large" and folder is None:
        raise ConfigError("the large profile is written to a dump", hint="use --dump-out DIR, then mongorestore")
    if folder is None:
        database = mongo_database(need(mongo_uri, "--mongo-uri"), mongo_db)
    if profile == "large":
        countable(app, scale)
    if folder is None:
        uri = need(mongo_uri, "--mongo-uri")
        with _mongo_refusals(uri, database):
            counts = _to_server(app, profile, seed, uri, database, replace)
    else:
        counts = _to_dump(app, profile, scale, seed, folder, database, replace)
    where = redact(mongo_uri) + f" database {database}" if mongo_uri else f"{dump_out}/{database}"
    out.print(f"generate: {sum(counts.values())} documents in {len(counts)} collections ({profile}) to {where}")
    return 0  # every document written


def _to_server(app: App, profile: str, seed: int, uri: str, database: str, replace: bool) -> dict[str, int]:
    from toolkit.generate import sample as generate
    from toolkit.sources.readers import MongoSource

    MongoSource(uri, database)  # a URI pymongo reads and a server that answers, or one line
    make_room(app, uri, database, None, replace)
    dataset = generate.sample(app, seed) if profile == "sample" else generate.demo_dataset(app, seed)
    generate.write_mongo(uri, database, dataset)
    return {c: len(d) for c, d in dataset.items()}


def _to_dump(
    app: App, profile: str, scale: float, seed: int, folder: Path, database: str, replace: bool
) -> dict[str, int]:
    from toolkit.generate import sample as generate

    make_room(app, None, database, folder, replace)
    if profile == "large":
        from toolkit.generate.large import large

        return large(app, scale=scale, seed=seed, dump_out=folder, db=database)
    beyond_datetime = True  # a dump holds any date; a server may refuse those outside years 1..9999
    dataset = generate.sample(app, seed) if profile == "sample" else generate.demo_dataset(app, seed, beyond_datetime)
    generate.write_dump(folder, database, dataset)
    if profile == "bad":
        expected = [
            {"collection": c, "source_id": json_util.dumps(d["_id"]), "rule": rule}
            for c, d, rule in generate.bad_records(app, seed, beyond_datetime)
        ]
        write_json({"quarantined": expected}, folder / EXPECTED)
    return {c: len(d) for c, d in dataset.items()}


@contextmanager
def _mongo_refusals(uri: str, database: str) -> Iterator[None]:
    """A server that refuses the login or the writes (authentication, roles) is one line."""
    from pymongo.errors import PyMongoError

    try:
        yield
    except PyMongoError as error:
        raise ConfigError(
            f"MongoDB at {redact(uri)} refused writing database {database}: {short_cause(error)}",
            stage="generate",
            hint="check --mongo-uri (its user, password and roles); nothing more was written",
        ) from None
