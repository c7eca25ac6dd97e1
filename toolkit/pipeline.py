"""The stages as plain functions over one staging folder, shared by the CLI and notebooks."""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from toolkit import error_log
from toolkit import extract as extract_mod
from toolkit import load as load_mod
from toolkit import transform as transform_mod
from toolkit.errors import ConfigError
from toolkit.redact import redact
from toolkit.sources import DumpSource, MongoSource
from bson import json_util

from toolkit.staging import Staging, read_json, write_json
from transforms import ENUMS, JUNCTIONS, MODELS

PART_SIZE = extract_mod.PART_SIZE
BATCH_SIZE = load_mod.BATCH_SIZE
MIGRATED, QUARANTINED, FAILED = 0, 3, 1


def need(value: str | None, option: str) -> str:
    if not value:
        env = "M2PG_" + option.strip("-").replace("-", "_").upper()
        raise ConfigError(f"{option} is required", hint=f"pass {option} or set {env}")
    return value


def source(mongo_uri: str | None, mongo_db: str | None, dump: Path | None):
    """The one source the options name: a dump directory or a live server."""
    if dump and mongo_uri:
        raise ConfigError("give either --dump or --mongo-uri, not both")
    if dump:
        return DumpSource(dump, mongo_db)
    if mongo_uri:
        return MongoSource(mongo_uri, need(mongo_db, "--mongo-db"))
    raise ConfigError("no source given", hint="pass --mongo-uri and --mongo-db, or --dump DIR")


def _quarantined(staging: Staging) -> int:
    path = staging.report("transform.json")
    return read_json(path)["quarantined"] if path.exists() else 0


def _code(staging: Staging) -> int:
    return QUARANTINED if _quarantined(staging) else MIGRATED


def extract_stage(src, root: Path, part_size: int, out: Console, workers: int | None = None) -> int:
    staging = Staging(root)
    report = extract_mod.extract(src, staging, MODELS, JUNCTIONS, part_size, workers)
    table = Table("collection", "documents", "parts", "resumed", "type problems", "unknown fields",
                  title=f"extract from {report['source']}")
    for c in report["collections"]:
        unknown = ", ".join(f"{k} ({v})" for k, v in c["unknown_fields"].items())
        table.add_row(c["collection"], str(c["documents"]), str(len(c["parts"])), str(c["parts_resumed"]),
                      str(c["type_problems"]), unknown)
    out.print(table)
    out.print(f"{report['documents']} documents staged under {staging.root / 'raw'}; "
              f"parts written {report['parts_written']}, parts kept from the interrupted run {report['parts_resumed']}")
    return MIGRATED


def transform_stage(root: Path, out: Console, workers: int | None = None) -> int:
    staging = Staging(root)
    report = transform_mod.transform(staging, MODELS, JUNCTIONS, ENUMS, workers)
    table = Table("collection", "documents", "clean", "quarantined", "rules", "nulled refs", "dangling ids",
                  title="transform")
    for c in report["collections"]:
        nulled = sum(sum(v.values()) for v in c["nulled_references"].values())
        table.add_row(c["collection"], str(c["documents"]), str(c["clean"]), str(c["quarantined"]),
                      ", ".join(f"{k} {v}" for k, v in c["by_rule"].items()), str(nulled),
                      str(sum(c["dangling_ids"].values())))
    out.print(table)
    junctions = Table("junction", "rows", "skipped pairs", "known to one side only", title="junctions")
    for j in report["junctions"]:
        junctions.add_row(j["table"], str(j["rows"]), str(sum(j["skipped_pairs"].values())),
                          str(j["pairs_known_to_one_side_only"]))
    out.print(junctions)
    log = error_log.write_error_log(staging.root)
    out.print(f"{report['documents']} documents: {report['clean']} clean, {report['quarantined']} quarantined "
              f"(see {log} and {staging.root / 'quarantine'}); "
              f"parts done {report['parts_done']}, parts skipped (unchanged) {report['parts_skipped']}")
    return _code(staging)


def validate_stage(root: Path, out: Console) -> int:
    from toolkit import validate as validate_mod
    staging = Staging(root)
    report = validate_mod.validate(staging.root)
    failing = [t for t, r in report["tables"].items() if not r["ok"]]
    out.print(f"validate: {len(report['tables']) - len(failing)} tables pass"
              + (f", {len(failing)} fail: {', '.join(failing)}" if failing else "")
              + f" ({report['skipped']} unchanged since the last check, not checked again)")
    return FAILED if failing else _code(staging)


def load_stage(pg_uri: str, root: Path, batch_size: int, replace: bool, out: Console) -> int:
    staging = Staging(root)
    report = load_mod.load(staging, pg_uri, MODELS, JUNCTIONS, batch_size, replace)
    out.print(f"load: {report['inserted']} rows inserted into {len(report['tables'])} tables of {report['target']}"
              + (f"; {report['already_loaded']} rows of batches already loaded were skipped"
                 if report["already_loaded"] else ""))
    return _code(staging)


def reconcile_stage(pg_uri: str, root: Path, out: Console) -> int:
    from toolkit import reconcile as reconcile_mod
    staging = Staging(root)
    report = reconcile_mod.reconcile(staging.root, pg_uri)
    reconcile_mod.print_reconcile(report, out)
    return _code(staging) if report["ok"] else FAILED


def schema_stage(pg_uri: str, out: Console) -> int:
    from toolkit.schema import create_schema, has_schema
    if has_schema(pg_uri):
        raise ConfigError("the target database already has NextCRM tables",
                          hint="use an empty database, or load into the existing schema")
    create_schema(pg_uri)
    out.print(f"schema: created {len(MODELS)} tables, {len(JUNCTIONS)} junction tables and {len(ENUMS)} enums")
    return MIGRATED


def run_all(src, pg_uri: str, root: Path, part_size: int, replace: bool, out: Console,
            workers: int | None = None) -> int:
    from toolkit.schema import has_schema
    if not has_schema(pg_uri):
        schema_stage(pg_uri, out)
    extract_stage(src, root, part_size, out, workers)
    transform_stage(root, out, workers)
    if validate_stage(root, out) == FAILED:
        return FAILED
    load_stage(pg_uri, root, part_size, replace, out)
    if not read_json(Staging(root).report("load.json"))["inserted"]:
        out.print("run: nothing changed in the target: it already holds every row of this migration")
    return reconcile_stage(pg_uri, root, out)


def _age(path: Path) -> str:
    seconds = int(time.time() - path.stat().st_mtime)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def status(root: Path, out: Console, pg_uri: str | None = None) -> int:
    """Per collection: what extract and transform have done, what is left, and how old it is;
    with a target, what the load left there."""
    staging = Staging(root)
    table = Table("collection", "extracted", "parts", "transformed parts", "clean", "quarantined", "checkpoint age",
                  title=f"staging {root}")
    for m in MODELS:
        manifest = staging.manifest(m.source)
        raw = read_json(manifest) if manifest.exists() else None
        cleaned = staging.clean(m.table) / "manifest.json"
        parts = read_json(cleaned)["parts"] if cleaned.exists() else {}
        extracted = "-" if raw is None else f"{raw['documents']}" + ("" if raw.get("complete") else " (interrupted)")
        total = len(raw["parts"]) if raw else 0
        latest = max((p for p in (manifest, cleaned) if p.exists()), key=lambda p: p.stat().st_mtime, default=None)
        table.add_row(m.source, extracted, str(total) if raw else "-", f"{len(parts)} of {max(total, 1)}" if raw else "-",
                      str(sum(p["report"]["clean"] for p in parts.values())) if parts else "-",
                      str(sum(p["report"]["quarantined"] for p in parts.values())) if parts else "-",
                      _age(latest) if latest else "-")
    out.print(table)
    for stage in ("extract", "transform", "validate", "load", "reconcile"):
        path = staging.report(f"{stage}.json")
        out.print(f"{stage:<10} " + (f"last finished {_age(path)} ago" if path.exists() else "not finished"))
    if pg_uri:
        target_status(pg_uri, out)
    return MIGRATED


def target_status(pg_uri: str, out: Console) -> None:
    found = load_mod.target_progress(pg_uri)
    loaded, waiting = found["loaded"], found["stored_foreign_keys"]
    out.print(f"target {redact(pg_uri)}: " + (
        f"{sum(t['rows'] for t in loaded.values())} rows in {sum(t['batches'] for t in loaded.values())} "
        f"batches recorded in {load_mod.LEDGER}, {len(loaded)} tables" if loaded else "no batch loaded yet"))
    if waiting:
        count = sum(map(len, waiting.values()))
        tables = ", ".join(f"{t} ({len(keys)})" for t, keys in waiting.items())
        out.print(f"[yellow]{count} foreign keys are stored in {load_mod.DEFERRED}, not yet restored "
                  f"(a load stopped before putting them back), of: {tables}[/]\n"
                  "run `m2pg load` to restore them", highlight=False)
    else:
        out.print("foreign keys: none waiting to be restored")


STAGE_FILES = {  # what resetting a stage removes, with everything the later stages made from it
    "extract": ("raw", "idmap", "clean", "quarantine", "reports"),
    "transform": ("clean", "quarantine", "reports/transform.json", "reports/validate.json",
                  "reports/validate_failures.parquet", "reports/errors.log"),
    "validate": ("reports/validate.json", "reports/validate_failures.parquet"),
}


def reset(root: Path, stage: str, pg_uri: str | None, confirm, out: Console) -> int:
    """Start a stage over: remove what it staged (and what depends on it); `load` empties the tables."""
    staging = Staging(root)
    if stage == "load":
        target = need(pg_uri, "--pg-uri")
        if not confirm(f"Empty every NextCRM table and the load ledger in {redact(target)}?"):
            raise ConfigError("reset cancelled: nothing was dropped")
        with load_mod.connect(target) as conn:
            load_mod.ensure_target(conn, target, MODELS, JUNCTIONS, replace=True)
        out.print("reset: target tables and ledger emptied")
        return MIGRATED
    stages = list(STAGE_FILES) if stage == "all" else [stage]
    doomed = [staging.root / name for s in stages for name in STAGE_FILES[s] if (staging.root / name).exists()]
    if not doomed:
        out.print("reset: nothing to remove")
        return MIGRATED
    if not confirm("Remove " + ", ".join(str(p) for p in doomed) + "?"):
        raise ConfigError("reset cancelled: nothing was removed")
    for path in doomed:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    out.print(f"reset: removed {len(doomed)} staged item(s)")
    return MIGRATED


def errors(root: Path, out: Console) -> int:
    staging = Staging(root)
    error_log.write_error_log(staging.root)
    found = error_log.summary(staging.root)
    error_log.print_summary(found, out)
    return QUARANTINED if found["quarantined"] else MIGRATED


def indexes_stage(pg_uri: str, extra: bool, drop: bool, out: Console) -> int:
    """Optional indexes for the plan's query patterns that Prisma's schema lacks."""
    from toolkit import indexes
    if extra == drop:
        raise ConfigError("choose --extra (add the optional indexes) or --drop (remove them)")
    names = indexes.add_extra_indexes(pg_uri) if extra else indexes.drop_extra_indexes(pg_uri)
    out.print(f"indexes: {'added' if extra else 'dropped'} {', '.join(names) or 'none'}")
    return MIGRATED


def verify_stage(src, pg_uri: str, root: Path, sample: int, full: bool, seed: int, out: Console) -> int:
    """The four layers against the source, read again: exit 0 on pass, 1 on fail."""
    from toolkit.verify import print_verify, verify
    report = verify(src, Staging(root).root, pg_uri, sample=sample, full=full, seed=seed)
    print_verify(report, out)
    return MIGRATED if report["status"] == "pass" else FAILED


def report_stage(root: Path, out: Console) -> int:
    from toolkit.html_report import render_report
    path = render_report(Staging(root).root)
    out.print(f"report: {path} (one self-contained page: open it in a browser)")
    return MIGRATED


PROFILES = ("sample", "bad", "large")


def generate_data(profile: str, scale: float, seed: int, mongo_uri: str | None, mongo_db: str | None,
                  dump_out: Path | None, out: Console) -> int:
    """Write a NextCRM dataset into a MongoDB or straight into a mongodump layout."""
    from toolkit import generate
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}", hint=f"choose one of {', '.join(PROFILES)}")
    if bool(mongo_uri) == bool(dump_out):
        raise ConfigError("give exactly one target", hint="--dump-out DIR, or --mongo-uri and --mongo-db")
    database = mongo_db or "nextcrm"
    if profile == "large":
        if mongo_uri:
            raise ConfigError("the large profile is written to a dump", hint="use --dump-out DIR, then mongorestore")
        from toolkit.generate_large import large
        counts = large(scale=scale, seed=seed, dump_out=Path(dump_out), db=database)
    else:
        dataset = generate.sample(seed) if profile == "sample" else generate.demo_dataset(seed)
        if mongo_uri:
            generate.write_mongo(mongo_uri, need(mongo_db, "--mongo-db"), dataset)
        else:
            generate.write_dump(dump_out, database, dataset)
        counts = {c: len(d) for c, d in dataset.items()}
    if profile == "bad" and dump_out:
        expected = [{"collection": c, "source_id": json_util.dumps(d["_id"]), "rule": rule}
                    for c, d, rule in generate.bad_records(seed)]
        write_json({"quarantined": expected}, Path(dump_out) / "expected.json")
    where = redact(mongo_uri) + f" database {database}" if mongo_uri else f"{dump_out}/{database}"
    out.print(f"generate: {sum(counts.values())} documents in {len(counts)} collections ({profile}) to {where}")
    return MIGRATED


def demo(workdir: Path | None, seed: int, out: Console) -> int:
    from toolkit import generate
    from toolkit.servers import DATABASE, embedded_mongo, embedded_postgres
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="m2pg-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    with embedded_mongo(root / "mongo") as mongo_uri, embedded_postgres(root / "postgres") as pg_uri:
        out.print(f"demo: MongoDB-compatible server at {mongo_uri}, PostgreSQL at {pg_uri}")
        dataset = generate.demo_dataset(seed)
        from pymongo import MongoClient
        MongoClient(mongo_uri).drop_database(DATABASE)
        generate.write_mongo(mongo_uri, DATABASE, dataset)
        out.print(f"demo: generated {sum(map(len, dataset.values()))} documents in {len(dataset)} collections")
        code = run_all(MongoSource(mongo_uri, DATABASE), pg_uri, root / "staging", PART_SIZE, True, out)
    staging = Staging(root / "staging")
    out.print(f"\nStaged Parquet: {staging.root}/raw, clean, idmap, quarantine\n"
              f"Reports: {staging.root}/reports (extract, transform, validate, load, reconcile)")
    return code
