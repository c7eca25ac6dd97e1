"""`m2pg generate`: a dataset of the app written into MongoDB or a mongodump layout, without
loading the stages."""

from __future__ import annotations

from pathlib import Path

from bson import json_util
from rich.console import Console

from toolkit.declarations.app import App
from toolkit.runtime.errors import ConfigError
from toolkit.runtime.preflight import need
from toolkit.runtime.redact import redact
from toolkit.staging.layout import write_json

PROFILES = ("sample", "bad", "large")


def generate_data(
    app: App,
    profile: str,
    scale: float,
    seed: int,
    mongo_uri: str | None,
    mongo_db: str | None,
    dump_out: Path | None,
    out: Console,
) -> int:
    """Write a dataset of the app into a MongoDB or straight into a mongodump layout."""
    from toolkit.generate import sample as generate

    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}", hint=f"choose one of {', '.join(PROFILES)}")
    if bool(mongo_uri) == bool(dump_out):
        raise ConfigError("give exactly one target", hint="--dump-out DIR, or --mongo-uri and --mongo-db")
    folder = Path(dump_out) if dump_out else None
    database = mongo_db or app.database
    if profile == "large":
        if folder is None:
            raise ConfigError("the large profile is written to a dump", hint="use --dump-out DIR, then mongorestore")
        from toolkit.generate.large import large

        counts = large(app, scale=scale, seed=seed, dump_out=folder, db=database)
    else:
        beyond_datetime = bool(dump_out)  # a server may refuse dates outside years 1..9999
        dataset = (
            generate.sample(app, seed) if profile == "sample" else generate.demo_dataset(app, seed, beyond_datetime)
        )
        if folder is None:
            generate.write_mongo(need(mongo_uri, "--mongo-uri"), need(mongo_db, "--mongo-db"), dataset)
        else:
            generate.write_dump(folder, database, dataset)
        counts = {c: len(d) for c, d in dataset.items()}
    if profile == "bad" and dump_out:
        expected = [
            {"collection": c, "source_id": json_util.dumps(d["_id"]), "rule": rule}
            for c, d, rule in generate.bad_records(app, seed, beyond_datetime)
        ]
        write_json({"quarantined": expected}, Path(dump_out) / "expected.json")
    where = redact(mongo_uri) + f" database {database}" if mongo_uri else f"{dump_out}/{database}"
    out.print(f"generate: {sum(counts.values())} documents in {len(counts)} collections ({profile}) to {where}")
    return 0  # every document written
