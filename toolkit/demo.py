"""`m2pg demo`: generates the app's data between embedded servers and runs every stage on it."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from toolkit.declarations.app import App
from toolkit.pipeline import MIGRATED, PART_SIZE, QUARANTINED, quarantined_count, run_all
from toolkit.sources.readers import MongoSource
from toolkit.staging.layout import Staging


def demo(app: App, workdir: Path | None, seed: int, out: Console) -> int:
    """Every stage on a generated dataset between embedded servers, which stop at the end; without
    `workdir` their data and the staging folder live in a temporary folder, removed at the end."""
    from pymongo import MongoClient

    from toolkit.generate import sample as generate
    from toolkit.runtime.servers import both

    planned = len(generate.bad_records(app, seed))
    with both(workdir, app.database, "demo") as (root, mongo_uri, pg_uri):
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
