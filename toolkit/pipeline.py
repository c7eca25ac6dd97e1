"""The stages as plain functions over one staging folder, shared by the CLI and notebooks."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from bson import json_util
from rich.console import Console
from rich.table import Table
from rich.text import Text

from toolkit.declarations.app import App
from toolkit.reports import error_log
from toolkit.runtime import preflight
from toolkit.runtime.errors import ConfigError
from toolkit.runtime.redact import redact
from toolkit.sources import coverage
from toolkit.sources.readers import DumpSource, MongoSource
from toolkit.stages import extract as extract_mod
from toolkit.stages import load as load_mod
from toolkit.stages import transform as transform_mod
from toolkit.staging.layout import DamagedStaging, Staging, read_json, read_manifest, size_problem, write_json
from toolkit.staging.layout import damaged as staging_damaged

PART_SIZE = extract_mod.PART_SIZE
BATCH_SIZE = load_mod.BATCH_SIZE
MIGRATED, QUARANTINED, FAILED = 0, 3, 1


def need(value: str | None, option: str) -> str:
    if not value:
        env = "M2PG_" + option.strip("-").replace("-", "_").upper()
        raise ConfigError(f"{option} is required", hint=f"pass {option} or set {env}")
    return value


def source(app: App, mongo_uri: str | None, mongo_db: str | None, dump: Path | None):
    """The one source the options name, a dump directory or a live server, once it is known to
    hold the app's collections (checked before any command writes a file or touches the target)."""
    if dump and mongo_uri:
        raise ConfigError("give either --dump or --mongo-uri, not both")
    src: DumpSource | MongoSource
    if dump:
        src = DumpSource(dump, mongo_db)
    elif mongo_uri:
        src = MongoSource(mongo_uri, need(mongo_db, "--mongo-db"))
    else:
        raise ConfigError("no source given", hint="pass --mongo-uri and --mongo-db, or --dump DIR")
    preflight.source_holds_app(src, app.models)
    return src


def _quarantined(staging: Staging) -> int:
    path = staging.report("transform.json")
    return read_json(path)["quarantined"] if path.exists() else 0


def _code(staging: Staging) -> int:
    return QUARANTINED if _quarantined(staging) else MIGRATED


def extract_stage(app: App, src, root: Path, part_size: int, out: Console, workers: int | None = None) -> int:
    for note in preflight.source_holds_app(src, app.models):
        out.print(Text(note))
    staging = Staging(root)
    report = extract_mod.extract(src, staging, app.models, app.junctions, part_size, workers)
    table = Table(
        "collection",
        "documents",
        "parts",
        "resumed",
        "type problems",
        "unknown fields",
        title=f"extract from {report['source']}",
    )
    for c in report["collections"]:
        unknown = ", ".join(f"{k} ({v})" for k, v in c["unknown_fields"].items())
        table.add_row(
            c["collection"],
            "absent from the source" if c.get("absent") else str(c["documents"]),
            str(len(c["parts"])),
            str(c["parts_resumed"]),
            str(c["type_problems"]),
            unknown,
        )
    out.print(table)
    print_warnings(coverage.warnings(report["not_migrated"]), out)
    print_warnings(
        [
            f"{c['collection']}: {c['malformed_bytes']} bytes of the source are not well-formed BSON; "
            "they go to the quarantine whole (rules bson and utf8)"
            for c in report["collections"]
            if c.get("malformed_bytes")
        ],
        out,
    )
    out.print(
        f"{report['documents']} documents staged under {staging.root / 'raw'}; "
        f"parts written {report['parts_written']}, parts kept from the interrupted run {report['parts_resumed']}"
    )
    if not report["documents"]:
        raise ConfigError(
            f"{report['source']} holds no document of the app's collections: nothing to migrate",
            stage="extract",
            hint="check the source (--mongo-uri and --mongo-db, or --dump)",
        )
    return MIGRATED


def print_warnings(lines: list[str], out: Console) -> None:
    """What is not migrated, one line each, before the stage's last line."""
    for line in lines:
        out.print(Text.assemble(("warning: ", "yellow"), line))


def transform_stage(app: App, root: Path, out: Console, workers: int | None = None) -> int:
    preflight.staging_inputs(root, "transform")
    staging = Staging(root)
    report = transform_mod.transform(staging, app.models, app.junctions, app.enums, workers)
    table = Table(
        "collection", "documents", "clean", "quarantined", "rules", "nulled refs", "dangling ids", title="transform"
    )
    for c in report["collections"]:
        nulled = sum(sum(v.values()) for v in c["nulled_references"].values())
        table.add_row(
            c["collection"],
            str(c["documents"]),
            str(c["clean"]),
            str(c["quarantined"]),
            ", ".join(f"{k} {v}" for k, v in c["by_rule"].items()),
            str(nulled),
            str(sum(c["dangling_ids"].values())),
        )
    out.print(table)
    junctions = Table("junction", "rows", "skipped pairs", "known to one side only", title="junctions")
    for j in report["junctions"]:
        junctions.add_row(
            j["table"], str(j["rows"]), str(sum(j["skipped_pairs"].values())), str(j["pairs_known_to_one_side_only"])
        )
    out.print(junctions)
    log = error_log.write_error_log(staging.root)
    out.print(
        f"{report['documents']} documents: {report['clean']} clean, {report['quarantined']} quarantined "
        f"(see {log} and {staging.root / 'quarantine'}); "
        f"parts done {report['parts_done']}, parts skipped (unchanged) {report['parts_skipped']}"
    )
    return _code(staging)


def validate_stage(app: App, root: Path, out: Console) -> int:
    from toolkit.stages import validate as validate_mod

    preflight.staging_inputs(root, "validate")
    staging = Staging(root)
    report = validate_mod.validate(app, staging.root)
    failing = [t for t, r in report["tables"].items() if not r["ok"]]
    out.print(
        f"validate: {len(report['tables']) - len(failing)} tables pass"
        + (f", {len(failing)} fail: {', '.join(failing)}" if failing else "")
        + f" ({report['skipped']} unchanged since the last check, not checked again)"
    )
    return FAILED if failing else _code(staging)


def load_stage(app: App, pg_uri: str, root: Path, batch_size: int, replace: bool, out: Console) -> int:
    staging = Staging(root)
    report = load_mod.load(staging, pg_uri, app.models, app.junctions, batch_size, replace)
    print_writes(report["tables"], load_mod.WRITES, "written", out)
    out.print(
        f"load: {report['inserted']} rows inserted, {report['updated']} updated, {report['deleted']} deleted, "
        f"{report['unchanged']} unchanged in {len(report['tables'])} tables of {report['target']}"
    )
    return _code(staging)


def print_writes(rows: list[dict], names: tuple[str, ...], title: str, out: Console) -> None:
    """The tables with something to write (the first three `names`), and what."""
    changed = [row for row in rows if any(row[n] for n in names[:3])]
    if changed:
        table = Table("table", *names, title=title)
        for row in changed:
            table.add_row(row["table"], *(str(row[n]) for n in names))
        out.print(table)


def plan_alone(dry_run: bool, replace: bool, stage: str) -> None:
    if dry_run and replace:
        raise ConfigError(
            "--dry-run and --replace together: a load after --replace writes every staged row",
            stage=stage,
            hint="drop one of them",
        )


def plan_stage(app: App, pg_uri: str, root: Path, out: Console) -> int:
    """What a load of the staged rows would write, per table; the target is only read."""
    staging = Staging(root)
    report = load_mod.plan(staging, pg_uri, app.models, app.junctions)
    report["quarantined"] = _quarantined(staging)
    write_json(report, staging.report("plan.json"))
    print_writes(report["tables"], load_mod.PLANNED, "a load would write", out)
    out.print(
        f"plan: a load would insert {report['insert']} rows, update {report['update']}, delete "
        f"{report['delete']} and leave {report['unchanged']} unchanged in {report['target']}; "
        f"{report['quarantined']} documents are quarantined. Nothing was written to the target."
    )
    return _code(staging)


def reconcile_stage(app: App, pg_uri: str, root: Path, out: Console) -> int:
    from toolkit.reports.console import print_reconcile
    from toolkit.stages import reconcile as reconcile_mod

    staging = Staging(root)
    report = reconcile_mod.reconcile(app, staging.root, pg_uri)
    print_reconcile(report, out)
    return _code(staging) if report["ok"] else FAILED


def warn_client_drift(app: App, out: Console) -> None:
    from toolkit.target.schema import client_drift

    drift = client_drift(app.models)
    if drift:
        out.print(f"[yellow]warning:[/] {drift}", highlight=False)


def schema_stage(app: App, pg_uri: str, out: Console) -> int:
    from toolkit.target.schema import check_target, create_schema, read_catalog

    declared = app.tables
    existing = [t for t in declared if t in read_catalog(pg_uri)["tables"]]
    if existing:
        differences = check_target(pg_uri, app.models, app.junctions)
        if not differences:
            out.print(
                f"schema: the target already holds the app's schema ({len(declared)} tables, as declared); "
                "nothing to create"
            )
            return MIGRATED
        raise ConfigError(
            f"the target already holds {len(existing)} of the app's {len(declared)} table names "
            f"({preflight.listed(existing)}) and they differ from the app's schema: "
            f"{preflight.listed(differences, 3)}",
            stage="schema",
            hint="create the schema in an empty database, or bring these tables "
            "to the app's schema (its Prisma migration) and load into them",
        )
    create_schema(pg_uri, app.models, app.junctions, app.enums)
    out.print(
        f"schema: created {len(app.models)} tables, {len(app.junctions)} junction tables and {len(app.enums)} enums"
    )
    warn_client_drift(app, out)
    return MIGRATED


def run_all(
    app: App,
    src,
    pg_uri: str,
    root: Path,
    part_size: int,
    replace: bool,
    out: Console,
    workers: int | None = None,
    dry_run: bool = False,
    batch_size: int | None = None,
) -> int:
    """Every stage in order, once the target is known to take the load: reachable, its schema
    the app's (or none, then created), and on --replace no other table referencing the app's,
    else no row of someone else holding a unique value of a source document."""
    from toolkit.target import preflight as preflight_target
    from toolkit.target.schema import has_schema

    plan_alone(dry_run, replace, "run")
    if has_schema(pg_uri, app.models, app.junctions):
        preflight_target.schema_matches(pg_uri, app.models, app.junctions, "run")
        if replace:
            with load_mod.connect(pg_uri) as conn:
                preflight_target.may_empty(conn, preflight_target.tables_of(app.models, app.junctions), "run")
        else:
            preflight_target.source_clash(pg_uri, src, app.models)
    elif not dry_run:  # a plan only reads the target
        schema_stage(app, pg_uri, out)
    extract_stage(app, src, root, part_size, out, workers)
    transform_stage(app, root, out, workers)
    if validate_stage(app, root, out) == FAILED:
        return FAILED
    if dry_run:
        return plan_stage(app, pg_uri, root, out)
    load_stage(app, pg_uri, root, batch_size or BATCH_SIZE, replace, out)
    loaded = read_json(Staging(root).report("load.json"))
    code = reconcile_stage(app, pg_uri, root, out)
    if code != FAILED:
        unchanged = not any(loaded[k] for k in load_mod.WRITES[:3])
        quarantined = _quarantined(Staging(root))
        out.print(
            ("run: nothing to write: " if unchanged else "run: ")
            + "the target equals the source: every document's row is loaded as the source holds it now"
            + (f", except the {quarantined} quarantined documents (`m2pg errors`)" if quarantined else "")
            + "; `m2pg verify` compares them value by value"
        )
    else:
        out.print("run: the target does NOT equal the source: see reconcile's table above")
    return code


def _age(path: Path) -> str:
    seconds = int(time.time() - path.stat().st_mtime)
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
    )


def status(app: App, root: Path, out: Console, pg_uri: str | None = None) -> int:
    """Per collection: what extract and transform have done, what is left, and how old it is;
    with a target, what the load left there. A damaged manifest or part (garbled, missing, of
    another size than recorded) is named with the stage to re-run, and the exit code is 1."""
    staging = Staging(root)
    table = Table(
        "collection",
        "extracted",
        "parts",
        "transformed parts",
        "clean",
        "quarantined",
        "checkpoint age",
        title=f"staging {root}",
    )
    damage: list[str] = []
    for m in app.models:
        manifest, cleaned = staging.manifest(m.source), staging.clean(m.table) / "manifest.json"
        raw, clean = _readable(manifest, damage), _readable(cleaned, damage)
        files = [staging.raw_dir(m.source) / p["file"] for p in raw["parts"]] if isinstance(raw, dict) else []
        files += [cleaned.parent / name for name in clean["parts"]] if isinstance(clean, dict) else []
        damage += filter(None, map(size_problem, files))
        latest = max((p for p in (manifest, cleaned) if p.exists()), key=lambda p: p.stat().st_mtime, default=None)
        if isinstance(raw, dict):
            total = len(raw["parts"])
            cells = [f"{raw['documents']}" + ("" if raw.get("complete") else " (interrupted)"), str(total)]
        else:
            total, cells = None, [raw or "-", "-"]
        if isinstance(clean, dict) and clean["parts"]:
            reports = [p["report"] for p in clean["parts"].values()]
            done = f"{len(reports)} of {max(total, 1)}" if total is not None else str(len(reports))
            cells += [done, str(sum(r["clean"] for r in reports)), str(sum(r["quarantined"] for r in reports))]
        elif clean == "damaged":
            cells += [clean] * 3
        else:
            cells += ["-" if total is None else f"0 of {max(total, 1)}", "-", "-"]
        table.add_row(m.source, *cells, _age(latest) if latest else "-")
    out.print(table)
    for stage in ("extract", "transform", "validate", "load", "reconcile"):
        path = staging.report(f"{stage}.json")
        out.print(f"{stage:<10} " + (f"last finished {_age(path)} ago" if path.exists() else "not finished"))
    for line in damage:
        out.print(Text.assemble(("damaged: ", "red"), line), soft_wrap=True)
    if pg_uri:
        target_status(pg_uri, out)
    return FAILED if damage else MIGRATED


def _readable(path: Path, damage: list[str]) -> dict | str | None:
    """A manifest whose parts status can list; None when there is none; "damaged" (with a line
    in `damage` naming it) when it cannot be read."""
    if not path.exists():
        return None
    try:
        found = read_manifest(path, "parts")
        if isinstance(found["parts"], list):  # extract's: a list of parts, and the documents read
            [(p["file"], int(p["rows"])) for p in found["parts"]], int(found["documents"])
        else:  # transform's: each part's report
            [(int(p["report"]["clean"]), int(p["report"]["quarantined"])) for p in found["parts"].values()]
        return found
    except DamagedStaging as error:
        damage.append(str(error))
    except (KeyError, TypeError, ValueError, AttributeError):
        damage.append(str(staging_damaged(path, "is garbled (its parts cannot be read)")))
    return "damaged"


def target_status(pg_uri: str, out: Console) -> None:
    found = load_mod.target_progress(pg_uri)
    loaded, waiting = found["loaded"], found["stored_foreign_keys"]
    out.print(
        f"target {redact(pg_uri)}: "
        + (
            f"{sum(t['rows'] for t in loaded.values())} rows in {sum(t['batches'] for t in loaded.values())} "
            f"batches recorded in {load_mod.LEDGER}, {len(loaded)} tables"
            if loaded
            else "no batch loaded yet"
        )
    )
    if waiting:
        count = sum(map(len, waiting.values()))
        tables = ", ".join(f"{t} ({len(keys)})" for t, keys in waiting.items())
        out.print(
            f"[yellow]{count} foreign keys are stored in {load_mod.DEFERRED}, not yet restored "
            f"(a load stopped before putting them back), of: {tables}[/]\n"
            "run `m2pg load` to restore them",
            highlight=False,
        )
    else:
        out.print("foreign keys: none waiting to be restored")


STAGE_FILES = {  # what resetting a stage removes, with everything the later stages made from it
    "extract": ("raw", "idmap", "clean", "quarantine", "reports"),
    "transform": (
        "clean",
        "quarantine",
        "reports/transform.json",
        "reports/validate.json",
        "reports/validate_failures.parquet",
        "reports/errors.log",
    ),
    "validate": ("reports/validate.json", "reports/validate_failures.parquet"),
}


def reset(app: App, root: Path, stage: str, pg_uri: str | None, confirm, out: Console) -> int:
    """Start a stage over: remove what it staged (and what depends on it); `load` empties the tables."""
    staging = Staging(root)
    if stage == "load":
        target = need(pg_uri, "--pg-uri")
        if not confirm(f"Empty every {app.name} table and the load ledger in {redact(target)}?"):
            raise ConfigError("reset cancelled: nothing was dropped")
        with load_mod.connect(target) as conn:
            load_mod.ensure_target(conn, target, app.models, app.junctions, replace=True, stage="reset")
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
    preflight.staging_inputs(root, "errors")
    staging = Staging(root)
    error_log.write_error_log(staging.root)
    found = error_log.summary(staging.root)
    error_log.print_summary(found, out)
    return QUARANTINED if found["quarantined"] else MIGRATED


def indexes_stage(app: App, pg_uri: str, extra: bool, drop: bool, out: Console) -> int:
    """Optional indexes for the plan's query patterns that Prisma's schema lacks."""
    from toolkit.target import indexes

    if extra == drop:
        raise ConfigError("choose --extra (add the optional indexes) or --drop (remove them)")
    names = (
        indexes.add_extra_indexes(pg_uri, app.extra_indexes)
        if extra
        else indexes.drop_extra_indexes(pg_uri, app.extra_indexes)
    )
    out.print(f"indexes: {'added' if extra else 'dropped'} {', '.join(names) or 'none'}")
    return MIGRATED


def verify_stage(app: App, src, pg_uri: str, root: Path, sample: int, full: bool, seed: int, out: Console) -> int:
    """The four layers against the source, read again: exit 0 on pass, 1 on fail."""
    from toolkit.reports.console import print_verify
    from toolkit.stages.verify import verify

    preflight.staging_inputs(root, "verify")
    preflight.source_holds_app(src, app.models)
    staging = Staging(root)
    report = verify(app, src, staging.root, pg_uri, sample=sample, full=full, seed=seed)
    report["not_migrated"] = coverage.read(staging.root)
    write_json(report, staging.report("verify.json"))
    print_verify(report, out)
    print_warnings(coverage.warnings(report["not_migrated"]), out)
    return MIGRATED if report["status"] == "pass" else FAILED


def report_stage(root: Path, out: Console) -> int:
    from toolkit.reports.html import render_report

    path = render_report(Staging(root).root)
    out.print(f"report: {path} (one self-contained page: open it in a browser)")
    return MIGRATED


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
        quarantined = _quarantined(staging)
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
