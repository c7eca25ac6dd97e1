"""The demo and generated data: `m2pg generate` writes a dataset of the app into MongoDB or a
mongodump layout; `m2pg demo` generates one between embedded servers and runs every stage on it."""

from __future__ import annotations

from pathlib import Path

from bson import json_util
from rich.console import Console

from toolkit.declarations.app import App
from toolkit.pipeline import MIGRATED, PART_SIZE, QUARANTINED, need, quarantined_count, run_all
from toolkit.runtime.errors import ConfigError
from toolkit.runtime.redact import redact
from toolkit.sources.readers import MongoSource
from toolkit.staging.layout import Staging, write_json

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
    return MIGRATED


def demo(app: App, workdir: Path | None, seed: int, out: Console) -> int:
    """Every stage on a generated dataset between embedded servers, which stop at the end; without
    `workdir` their data and the staging folder live in a temporary folder, removed at the end."""
    from pymongo import MongoClient

    from toolkit.generate import sample as generate
    from toolkit.runtime.servers import both

    planned = len(generate.bad_records(app, seed))
    with both(workdir, app.database) as (root, mongo_uri, pg_uri):
        out.print(
            f"demo: started an embedded MongoDB-compatible server and PostgreSQL in {root}; both stop when "
            "the demo ends (`m2pg servers` keeps a pair running)"
        )
        dataset = generate.demo_dataset(app, seed)
        with MongoClient[dict](mongo_uri) as client:
            client.drop_database(app.database)
        generate.write_mongo(mongo_uri, app.database, dataset)
        out.print(
            f"demo: generated {sum(map(len, dataset.values()))} documents in {len(dataset)} collections, "
            f"{planned} of them broken on purpose"
        )
        staging = Staging(root / "staging")
        code = run_all(app, MongoSource(mongo_uri, app.database), pg_uri, staging.root, PART_SIZE, True, out)
        quarantined = quarantined_count(staging)
    if workdir:
        out.print(
            f"\nThe servers are stopped; their data and the staging folder stay in {root}: staged Parquet "
            f"in {staging.root}/raw, clean, idmap, quarantine; reports in {staging.root}/reports"
        )
        see = f"`m2pg errors --staging {staging.root}` lists them"
    else:
        out.print(
            "\nThe servers are stopped and their temporary folder is removed "
            "(`m2pg demo --workdir DIR` keeps their data and the staging folder)"
        )
        see = "the transform table above counts them by collection and rule"
    out.print(_demo_outcome(code, quarantined, planned, see), highlight=False)
    return code


def _demo_outcome(code: int, quarantined: int, planned: int, see: str) -> str:
    """The demo's last line: what its exit code means."""
    if code == QUARANTINED and quarantined == planned:
        return (
            f"exit 3: the dataset holds {planned} records that must be quarantined, and all {planned} were, "
            f"as planned; {see}"
        )
    if code == QUARANTINED:
        return f"exit 3: {quarantined} records were quarantined where {planned} were planned; {see}"
    if code == MIGRATED:
        return f"exit 0: every record migrated, though {planned} were planned to be quarantined"
    return f"exit {code}: the migration failed a check (see the FAILED lines above)"
