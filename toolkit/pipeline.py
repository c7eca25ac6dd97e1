"""The stages in order over one staging folder, for the CLI and notebooks: each runs its stage
and has its report rendered (`reports/console.py`); `run_all` checks the target and runs them all."""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console
from rich.text import Text

from toolkit.declarations.app import App
from toolkit.reports import console, error_log
from toolkit.reports.words import counted, were
from toolkit.runtime import interrupt, parallel, preflight, sizes
from toolkit.runtime.errors import ConfigError
from toolkit.runtime.preflight import need
from toolkit.runtime.redact import redact
from toolkit.sources import coverage
from toolkit.sources.readers import DumpSource, MongoSource
from toolkit.stages import extract as extract_mod
from toolkit.stages import load as load_mod
from toolkit.stages import transform as transform_mod
from toolkit.staging.layout import Staging, read_json, write_json

PART_SIZE = sizes.PART_SIZE
BATCH_SIZE = sizes.BATCH_SIZE
MIGRATED, QUARANTINED, FAILED = 0, 3, 1


def source(app: App, mongo_uri: str | None, mongo_db: str | None, dump: Path | None):
    """The one source the options name, a dump directory or a live server, once it is known to
    hold the app's collections (checked before any command writes a file or touches the target)."""
    if dump and mongo_uri:
        raise preflight.one_of(("--dump", "M2PG_DUMP", dump), ("--mongo-uri", "M2PG_MONGO_URI", mongo_uri))
    src: DumpSource | MongoSource
    if dump:
        src = DumpSource(dump, mongo_db)
    elif mongo_uri:
        src = MongoSource(mongo_uri, preflight.mongo_database(mongo_uri, mongo_db))
    else:
        raise ConfigError("no source given", hint="pass --mongo-uri and --mongo-db, or --dump DIR")
    preflight.source_holds_app(src, app.models)
    return src


def quarantined_count(staging: Staging) -> int:
    path = staging.report("transform.json")
    return read_json(path)["quarantined"] if path.exists() else 0


def nulled_count(staging: Staging) -> int:
    """Optional references the transform loaded as NULL, the document naming a missing or
    quarantined one."""
    path = staging.report("transform.json")
    collections = read_json(path)["collections"] if path.exists() else []
    return sum(n for c in collections for reasons in c["nulled_references"].values() for n in reasons.values())


def _code(staging: Staging) -> int:
    return QUARANTINED if quarantined_count(staging) else MIGRATED


def extract_stage(
    app: App, src, root: Path, part_size: int, out: Console, workers: int | None = None, trust_updated_at: bool = False
) -> int:
    for note in preflight.source_holds_app(src, app.models):
        out.print(Text(note))
    staging = Staging(root)
    report = extract_mod.extract(src, staging, app.models, app.junctions, part_size, workers, trust_updated_at)
    console.print_extract(report, staging.root / "raw", out)
    if not report["documents"]:
        raise ConfigError(
            f"{report['source']} holds no document of the app's collections: nothing to migrate",
            stage="extract",
            hint="check the source (--mongo-uri and --mongo-db, or --dump)",
        )
    return MIGRATED


def transform_stage(app: App, root: Path, out: Console, workers: int | None = None) -> int:
    preflight.staging_inputs(root, "transform")
    staging = Staging(root)
    report = transform_mod.transform(staging, app.models, app.junctions, app.enums, workers)
    log = error_log.write_error_log(staging.root)
    console.print_transform(report, log, staging.root / "quarantine", out)
    return _code(staging)


def validate_stage(app: App, root: Path, out: Console) -> int:
    from toolkit.stages import validate as validate_mod

    preflight.staging_inputs(root, "validate")
    staging = Staging(root)
    report = validate_mod.validate(app, staging.root)
    console.print_validate(report, out)
    return FAILED if not all(r["ok"] for r in report["tables"].values()) else _code(staging)


def load_stage(
    app: App,
    pg_uri: str,
    root: Path,
    batch_size: int,
    replace: bool,
    out: Console,
    overwrite: bool = False,
    in_run: bool = False,
) -> int:
    """Exit 1 when rows someone else changed are left unlike the source: the target does not equal it."""
    staging = Staging(root)
    report = load_mod.load(
        staging,
        pg_uri,
        app.models,
        app.junctions,
        batch_size,
        replace,
        overwrite=overwrite,
        enums=app.enums,
        in_run=in_run,
    )
    console.print_load(report, out)
    warn_case_folding(pg_uri, out)
    return FAILED if report["left_changed"] else _code(staging)


def plan_alone(dry_run: bool, replace: bool, stage: str) -> None:
    if dry_run and replace:
        raise ConfigError(
            "--dry-run and --replace together: a load after --replace writes every staged row",
            stage=stage,
            hint="drop one of them",
        )


def plan_stage(app: App, pg_uri: str, root: Path, out: Console, overwrite: bool = False) -> int:
    """What a load of the staged rows would write, per table; the target is only read."""
    staging = Staging(root)
    report = load_mod.plan(staging, pg_uri, app.models, app.junctions, overwrite, enums=app.enums)
    report["quarantined"] = quarantined_count(staging)
    write_json(report, staging.report("plan.json"))
    console.print_plan(report, out)
    warn_case_folding(pg_uri, out)
    if "stop" in report:
        raise ConfigError(report["stop"], stage="plan")
    return FAILED if report["left_changed"] else _code(staging)  # as the load would: the target unlike the source


def reconcile_stage(app: App, pg_uri: str, root: Path, out: Console) -> int:
    from toolkit.stages import reconcile as reconcile_mod
    from toolkit.target import preflight as preflight_target

    preflight.staging_inputs(root, "reconcile")
    preflight_target.holds_app(pg_uri, "reconcile", preflight_target.tables_of(app.models, app.junctions))
    staging = Staging(root)
    report = reconcile_mod.reconcile(app, staging.root, pg_uri)
    console.print_reconcile(report, out)
    return _code(staging) if report["ok"] else FAILED


def warn_case_folding(pg_uri: str, out: Console) -> None:
    from toolkit.target.preflight import ascii_case_only

    folding = ascii_case_only(pg_uri)
    if folding:
        out.print(Text.assemble(("warning:", "yellow"), f" {folding}"), highlight=False)


def warn_client_drift(app: App, out: Console) -> None:
    from toolkit.target.schema import client_drift

    drift = client_drift(app.models)
    if drift:
        out.print(Text.assemble(("warning:", "yellow"), f" {drift}"), highlight=False)


def schema_stage(app: App, pg_uri: str, out: Console, alone: bool = True) -> int:
    """Create the app's schema in an empty target, under the writer lock: two commands
    creating it at once would race on the same type and table names. Run `alone` (not by
    `run`, whose load warns later), it warns of a target that folds case in ASCII only."""
    from toolkit.target import preflight as preflight_target

    preflight_target.usable_target(
        pg_uri, "schema", preflight_target.tables_of(app.models, app.junctions), ledger=False
    )
    with preflight_target.only_writer(pg_uri, "schema"):
        code = _schema_once(app, pg_uri, out)
    if alone:
        warn_case_folding(pg_uri, out)
    return code


def _schema_once(app: App, pg_uri: str, out: Console) -> int:
    from toolkit.target.schema import check_target, create_schema, read_catalog

    declared, live = app.tables, read_catalog(pg_uri)["tables"]
    existing = [t for t in declared if t in live]
    if existing:
        differences = check_target(pg_uri, app.models, app.junctions, app.enums)
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
        f"schema: created {counted(len(app.models), 'table')}, {counted(len(app.junctions), 'junction table')} "
        f"and {counted(len(app.enums), 'enum')}"
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
    overwrite: bool = False,
    trust_updated_at: bool = False,
) -> int:
    """Every stage in order, once the target is known to take the load: reachable, its schema
    the app's (or none, then created), and on --replace no other table referencing the app's,
    else no row of someone else holding a unique value of a source document."""
    from toolkit.target import preflight as preflight_target
    from toolkit.target.schema import has_schema

    plan_alone(dry_run, replace, "run")
    preflight_target.usable_target(
        pg_uri, "run", preflight_target.tables_of(app.models, app.junctions), writes=not dry_run
    )
    if has_schema(pg_uri, app.models, app.junctions):
        preflight_target.schema_matches(pg_uri, app.models, app.junctions, "run", app.enums)
        if replace:
            with load_mod.connect(pg_uri) as conn:
                preflight_target.may_empty(conn, preflight_target.tables_of(app.models, app.junctions), "run")
                preflight_target.may_replace(conn, load_mod.keys_of(app.models, app.junctions), "run")
        else:
            if not dry_run:  # a plan shows what such a load would delete
                present = set(src.collections())
                absent = [m for m in app.models if m.source not in present]
                empty = [m for m in app.models if m.source in present and not src.volume(m.source)]
                preflight_target.emptied_but_loaded(pg_uri, absent, empty, "run")
            preflight_target.source_clash(pg_uri, src, app.models)
    elif not dry_run:  # a plan only reads the target
        schema_stage(app, pg_uri, out, alone=False)
    with parallel.kept_workers():  # the workers that extracted transform too; gone before the load
        extract_stage(app, src, root, part_size, out, workers, trust_updated_at)
        transform_stage(app, root, out, workers)
    if validate_stage(app, root, out) == FAILED:
        return FAILED
    if dry_run:
        return plan_stage(app, pg_uri, root, out, overwrite)
    load_stage(app, pg_uri, root, batch_size or BATCH_SIZE, replace, out, overwrite, in_run=True)
    interrupt.crash_point("run-loaded")  # the load reported; the run's reconcile and last line to come
    loaded = read_json(Staging(root).report("load.json"))
    code = reconcile_stage(app, pg_uri, root, out)
    explained = code != FAILED or loaded["left_changed"]  # rows others deleted fail reconcile's counts too
    extracted = read_json(Staging(root).report("extract.json"))
    # writes during the transform and the load make "as the source holds it now" as untrue
    written = extract_mod.written_since(src, extracted["server_writes"]) if "server_writes" in extracted else None
    console.print_run(
        loaded if explained else None,
        quarantined_count(Staging(root)),
        out,
        extracted.get("documents_unread", 0),
        extracted.get("read_before_interruption"),
        nulled_count(Staging(root)),
        written,
    )
    load_mod.run_ended(pg_uri)  # its last line said what it wrote: a run killed before it is gone on with
    return FAILED if loaded["left_changed"] else code


_OF_THE_LOAD = tuple(f"reports/{name}" for name in load_mod.OF_THE_TARGET)  # of the target as it was
_VALIDATE = ("reports/validate.json", "reports/validate_failures.parquet", *_OF_THE_LOAD)
STAGE_FILES = {  # what resetting a stage removes, with everything the later stages made from it
    "extract": ("raw", "idmap", "clean", "quarantine", "reports"),
    "transform": ("clean", "quarantine", "reports/transform.json", "reports/errors.log", *_VALIDATE),
    "validate": _VALIDATE,
}


STAGING_MARKS = ("raw/run.json", "reports/extract.json")  # what an extract leaves in a staging folder, first


def reset(app: App, root: Path, stage: str, pg_uri: str | None, confirm, out: Console) -> int:
    """Start a stage over: remove what it staged (and what depends on it); `load` empties the tables."""
    staging = Staging(root)
    if stage == "load":
        target = need(pg_uri, "--pg-uri")
        from toolkit.target import preflight as preflight_target

        keys = load_mod.keys_of(app.models, app.junctions)
        with load_mod.connect(target) as conn:
            preflight_target.public_schema(conn, "reset")
            preflight_target.writable(conn, "reset")
            preflight_target.privileged(conn, "reset", preflight_target.tables_of(app.models, app.junctions), True)
            others = sum(preflight_target.not_the_migrations(conn, keys).values())
            if others and not preflight_target.exists(conn, load_mod.LEDGER):
                # no m2pg load ever wrote here: those rows are someone else's (--pg-uri naming the
                # app's own database), and emptying them is no reset of a load, whatever --yes says
                raise ConfigError(
                    f"no m2pg load ever wrote to {redact(target)} (it has no {load_mod.LEDGER}), yet the app's "
                    f"tables there hold {counted(others, 'row')}: they are not the migration's, and reset would "
                    "delete them",
                    stage="reset",
                    hint="nothing was emptied; check --pg-uri (is it the app's own database?); "
                    "if those rows must go, empty the tables yourself",
                )
        among = (
            f" ({counted(others, 'row')} this migration did not write or that {were(others)} changed since among them)"
            if others
            else ""
        )
        if not confirm(f"Empty every {app.name} table{among} and the load ledger in {redact(target)}?"):
            raise ConfigError("reset cancelled: nothing was dropped")
        with preflight_target.only_writer(target, "reset"), load_mod.connect(target) as conn:
            load_mod.ensure_target(  # the reports of a load no longer in the target go first
                conn, target, app.models, app.junctions, replace=True, stage="reset", reports_of=staging
            )
        out.print("reset: target tables and ledger emptied")
        return MIGRATED
    names = dict.fromkeys(name for s in (list(STAGE_FILES) if stage == "all" else [stage]) for name in STAGE_FILES[s])
    inside = [n for n in names if not any(n.startswith(f"{other}/") for other in names)]  # not in a doomed folder
    doomed = [staging.root / name for name in inside if (staging.root / name).exists()]
    if not doomed:
        out.print("reset: nothing to remove")
        return MIGRATED
    if not any((staging.root / mark).exists() for mark in STAGING_MARKS):  # the user's own folders, named alike
        raise ConfigError(
            f"reset: {root} is no staging folder (it holds no {' or '.join(STAGING_MARKS)}): nothing was removed",
            hint="check --staging (./staging unless given)",
        )
    if not confirm("Remove " + ", ".join(str(p) for p in doomed) + "?"):
        raise ConfigError("reset cancelled: nothing was removed")
    for path in doomed:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    out.print(f"reset: removed {counted(len(doomed), 'staged item')}")
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
    from toolkit.target import preflight as preflight_target

    if extra == drop:
        raise ConfigError("choose --extra (add the optional indexes) or --drop (remove them)")
    with load_mod.connect(pg_uri) as conn:
        preflight_target.public_schema(conn, "indexes")
        preflight_target.writable(conn, "indexes")
    if extra:
        added, there = indexes.add_extra_indexes(pg_uri, app.extra_indexes)
        kept = f"; already there: {', '.join(there)}" if there else ""
        out.print(f"indexes: added {', '.join(added) or 'none'}{kept}")
    else:
        dropped = indexes.drop_extra_indexes(pg_uri, app.extra_indexes)
        out.print(f"indexes: dropped {', '.join(dropped) or 'none (none of them was there)'}")
    return MIGRATED


def verify_stage(
    app: App, src, pg_uri: str, root: Path, sample: int, full: bool, seed: int, out: Console, workers: int | None = None
) -> int:
    """The four layers against the source, read again: exit 0 on pass, 1 on fail."""
    from toolkit.stages.verify.run import verify
    from toolkit.target import preflight as preflight_target

    preflight.staging_inputs(root, "verify")
    preflight.source_holds_app(src, app.models)
    preflight_target.holds_app(pg_uri, "verify", preflight_target.tables_of(app.models, app.junctions))
    staging = Staging(root)
    report = verify(app, src, staging.root, pg_uri, sample=sample, full=full, seed=seed, workers=workers)
    report["not_migrated"] = coverage.read(staging.root)
    report["summary"]["staged_from"] = read_json(staging.root / "raw" / "run.json").get("source")
    write_json(report, staging.report("verify.json"))
    console.print_verify(report, out)
    console.print_warnings([*coverage.warnings(report["not_migrated"]), *_another_source(report["summary"])], out)
    return MIGRATED if report["status"] == "pass" else FAILED


def _another_source(summary: dict) -> list[str]:
    """A verify of a source other than the one the staging folder was extracted from fails on
    each record the two differ in: said once, so those failures are read for what they are."""
    staged_from, read = summary.get("staged_from"), summary["source"]
    if staged_from is None or staged_from == read:
        return []
    return [
        f"verify read {read}, but the staging folder was extracted from {staged_from}: each record they differ in fails"
    ]


def report_stage(root: Path, out: Console) -> int:
    """The HTML page of a staging folder's reports; a folder holding none (a mistyped --staging)
    is refused rather than given an empty page, or created."""
    from toolkit.reports.html import STAGES, render_report

    staging = Staging(root)
    if not any(staging.report(f"{stage}.json").exists() for stage in STAGES):
        raise ConfigError(
            f"report: {root} holds no stage's report (reports/<stage>.json)",
            hint=f"check --staging, or run `m2pg run --staging {root}` (or its stages) first; nothing was written",
        )
    path = render_report(staging.root)
    out.print(f"report: {path} (one self-contained page: open it in a browser)")
    return MIGRATED
