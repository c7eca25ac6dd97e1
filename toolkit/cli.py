"""The `m2pg` command: parses options, calls a stage, prints its summary, sets the exit code.

Exit codes: 0 everything migrated; 3 completed with quarantined records; 2 usage or
configuration error; 1 failure; 130 interrupted; 141 the output's reader quit.
"""

from __future__ import annotations

from toolkit.runtime.allocator import give_back_at_once
from toolkit.runtime.collector import collect_less_often

give_back_at_once()  # before anything loads polars
collect_less_often()

import inspect  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from contextlib import contextmanager, suppress  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from importlib.metadata import version as installed_version  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import IO, TYPE_CHECKING, Annotated, NoReturn, cast  # noqa: E402

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.text import Text  # noqa: E402

from toolkit.declarations.app import installed  # noqa: E402
from toolkit.runtime import interrupt, preflight, progress  # noqa: E402
from toolkit.runtime import servers as servers_mod  # noqa: E402
from toolkit.runtime.errors import (  # noqa: E402
    ConfigError,  # noqa: E402
    M2pgError,
    WorkerLost,
    environment_failure,
    one_line,
    short_cause,
)
from toolkit.runtime.lazy import lazy  # noqa: E402
from toolkit.runtime.redact import ScrubbedStream, redact, remember_given, scrub  # noqa: E402
from toolkit.runtime.sizes import BATCH_SIZE, PART_BYTES, PART_SIZE  # noqa: E402
from toolkit.staging import lock  # noqa: E402
from toolkit.staging.layout import Staging, read_json  # noqa: E402

if TYPE_CHECKING:
    from toolkit import demo as demo_mod
    from toolkit import pipeline
    from toolkit import status as status_mod
    from toolkit.generate import command as generate_command
    from toolkit.reports import console, error_log
else:  # loaded by the commands that use them
    demo_mod, pipeline, status_mod = lazy("toolkit.demo"), lazy("toolkit.pipeline"), lazy("toolkit.status")
    generate_command = lazy("toolkit.generate.command")
    console, error_log = lazy("toolkit.reports.console"), lazy("toolkit.reports.error_log")

try:  # the installed app's declarations are checked as they are read: a mistake is one line
    APP = installed()
except ConfigError as mistake:
    sys.stderr.write(f"error: {mistake}\n")
    sys.exit(mistake.exit_code)
progress.show_notes()

app = typer.Typer(
    help=f"Move {APP.name}'s data from MongoDB into its Prisma PostgreSQL schema, stage by stage.\n\n"
    "Stages: extract -> transform -> validate -> load -> reconcile; each reads only what the "
    "previous one staged and can be re-run. `m2pg run` does them all; `m2pg demo` shows them.",
    epilog="Exit codes: 0 everything migrated; 3 completed with quarantined records; "
    "2 usage or configuration error; 1 failure; 130 interrupted (re-run to resume); 141 the output's reader quit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
if hasattr(sys.stdout, "reconfigure"):  # in a locale that is not UTF-8, what the locale cannot show is
    sys.stdout.reconfigure(errors="backslashreplace")  # escaped, as Python does on stderr, not a crash
# A closed pipe on any console (these, the bars', typer's help): exit 141, where rich exits 1, a failure
Console.on_broken_pipe = interrupt.reader_gone  # type: ignore[method-assign,assignment]
# No console markup: what they print holds the source's field names and values, the user's paths
# and the servers' words, any of which may look like a markup tag; colour comes through Text.
out = Console(
    file=cast(IO[str], ScrubbedStream(lambda: sys.stdout, "the standard output")),
    width=None if sys.stdout.isatty() else 160,
    markup=False,
)
err = Console(  # with --json the tables come here: as wide as standard output's, not cut to 80
    file=cast(IO[str], ScrubbedStream(lambda: sys.stderr, "the standard error")),
    width=None if sys.stderr.isatty() else 160,
    stderr=True,
    soft_wrap=True,
    markup=False,
)


def _mongo_uri(value: str | None) -> str | None:
    return preflight.as_drivers_read(value)


MongoUri = Annotated[
    str | None,
    typer.Option(
        "--mongo-uri", envvar="M2PG_MONGO_URI", callback=_mongo_uri, help="MongoDB connection URI to read from."
    ),
]


def _database_name(value: str | None) -> str | None:
    return _usage(lambda: preflight.database_name(value))


MongoDb = Annotated[
    str | None,
    typer.Option(
        "--mongo-db",
        envvar="M2PG_MONGO_DB",
        callback=_database_name,
        help="Database to read (also picks one in a dump); by default the one --mongo-uri names after its hosts.",
    ),
]


def _usable_path(value: Path | None) -> Path | None:
    return _usage(lambda: preflight.usable_path(value))


Dump = Annotated[
    Path | None,
    typer.Option(
        "--dump",
        envvar="M2PG_DUMP",
        callback=_usable_path,
        help="mongodump output: DIR/<db>/<c>.bson or DIR/<c>.bson (.bson.gz with "
        "--gzip), or an --archive file (gzipped or not).",
    ),
]


def _usage(check):
    """An option's value checked as typer parses it: a ConfigError is a usage error (exit 2)."""
    try:
        return check()
    except ConfigError as error:
        raise typer.BadParameter(str(error)) from None


def _app_uri(value: str | None) -> str | None:
    return _usage(lambda: preflight.without_prisma_schema(preflight.as_drivers_read(value)))


PgUri = Annotated[
    str | None,
    typer.Option(
        "--pg-uri",
        envvar="M2PG_PG_URI",
        callback=_app_uri,
        help="PostgreSQL connection URI of the target database (the app's DATABASE_URL, with Prisma's "
        "?schema=public, works).",
    ),
]


def _plain_folder(value: Path | None) -> Path | None:
    return _usage(lambda: preflight.plain_folder(value))


def _staging_folder(ctx: typer.Context, value: Path | None) -> Path | None:
    """An exported M2PG_STAGING that is empty (`export M2PG_STAGING=$UNSET`) names no folder: it
    read as not set, and `reset --yes` emptied the ./staging of whatever folder it ran in."""
    source = ctx.get_parameter_source("staging")  # typer's own copy of click's ParameterSource: by its name
    if os.environ.get("M2PG_STAGING") == "" and getattr(source, "name", None) == "DEFAULT":
        raise typer.BadParameter("M2PG_STAGING is set to nothing: give it a folder, or pass --staging")
    return _plain_folder(value)


StagingDir = Annotated[
    Path,
    typer.Option(
        "--staging",
        envvar="M2PG_STAGING",
        callback=_staging_folder,
        help="Folder where stages write and read Parquet and reports.",
    ),
]
PartSize = Annotated[
    int,
    typer.Option(
        "--part-size",
        "--batch-size",
        envvar="M2PG_PART_SIZE",
        min=1,
        help=f"Documents per staged Parquet part, fewer where they would pass {PART_BYTES >> 20} MB (--batch-size is "
        "its older name).",
    ),
]
BatchSize = Annotated[
    int, typer.Option("--batch-size", envvar="M2PG_BATCH_SIZE", min=1, help="Rows per load transaction.")
]
RunPartSize = Annotated[
    int,
    typer.Option(
        "--part-size",
        envvar="M2PG_PART_SIZE",
        min=1,
        help=f"Documents per staged Parquet part, fewer where they would pass {PART_BYTES >> 20} MB.",
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(
        "--workers",
        envvar="M2PG_WORKERS",
        min=1,
        help="Worker processes that extract, transform or verify collections side by side. "
        "Default: every core for 32 MB of data or more, one for less.",
    ),
]
Replace = Annotated[
    bool,
    typer.Option(
        "--replace",
        help="Empty the target tables before loading; refused while they hold a row this migration did not write "
        "or that was changed since (the app's data).",
    ),
]
OverwriteChanged = Annotated[
    bool,
    typer.Option(
        "--overwrite-changed",
        help="Also make the rows m2pg wrote that someone else changed or deleted in the target since "
        "as the source holds them; without it they are left as they are, and the command says the "
        "target does not equal the source (exit 1).",
    ),
]
TrustUpdatedAt = Annotated[
    bool,
    typer.Option(
        "--trust-updated-at",
        help="From a live server, after a complete extract: keep each part staged then, without reading "
        "its documents, when the server holds as many in its _id range and none was written since that "
        "extract began (by the fields Prisma's client sets on every write, such as updatedAt, less an "
        "hour for clocks). Only for a database every write to which goes through the app; "
        "`m2pg verify` reads every document regardless.",
    ),
]
DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Write nothing to the target: print (and write to reports/plan.json) what a load would "
        "insert, update and delete per table, compared with what earlier loads wrote; exit 2 with the "
        "load's error where it would stop (before writing, or at its deletions).",
    ),
]
AsJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print the summary as one JSON object on standard output (the stage's reports and the exit "
        "code); the tables go to standard error.",
    ),
]
Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="No tables, summaries or progress bars: only errors and the warnings a stage gives as it works; "
        "the reports are written as always.",
    ),
]


CREATES_STAGING = {"extract", "run"}  # commands that start a staging folder; the others need one
READS_STAGING_ONLY = {"status"}  # commands that take no lock: they write nothing there


def _run(action, staging: Path | None = None, resumable: bool = True) -> None:
    """Run a command: its staging folder checked writable and locked first; a user's mistake is
    one line and exit 2; a failure of the environment (server, disk, folder) one line and exit 1
    with the command that resumes; the traceback only in the staging folder's errors.log. Not
    `resumable`: the command works in a temporary folder it removes, so re-running starts again."""
    again = "to resume" if resumable else "to start again (its temporary folder is removed)"
    remember_given(sys.argv[1:])
    name = next((a for a in sys.argv[1:] if not a.startswith("-")), "m2pg")
    command = "m2pg " + " ".join(shlex.quote(redact(a)) for a in sys.argv[1:])
    try:
        with interrupt.graceful(), _guarded(staging, name, command):
            code = action()
    except interrupt.Interrupted as stop:
        err.print(
            Text.assemble(
                ("Checkpoint saved" if resumable else "Stopped", "yellow"),
                f" ({stop.stage}: {stop.done}; left: {stop.left}). Re-run the same command {again}.",
            )
        )
        raise typer.Exit(130) from None
    except KeyboardInterrupt:
        _stopped_at_once(resumable)
    except M2pgError as error:
        said = f" {error}{preflight.from_environment(str(error), sys.argv[1:])}"
        err.print(Text.assemble(("error:", "red"), said), highlight=False)
        raise typer.Exit(error.exit_code) from None
    except Exception as error:  # the environment failed under the command, or a bug of the tool
        if interrupt.forced() or (
            interrupt.requested() and isinstance(error, (subprocess.CalledProcessError, WorkerLost))
        ):
            # a statement the second Ctrl+C cancelled, or a program (or worker: a SIGTERM to the
            # process group, as systemd sends) the first one stopped
            _stopped_at_once(resumable)
        text = traceback.format_exc()
        log = _log_failure(staging, name, text)
        where = f"the traceback is in {log}" if log else "no staging folder to log the traceback in"
        cause = environment_failure(error, staging)
        if cause:
            err.print(
                Text.assemble(
                    ("error:", "red"), f" {one_line(cause)}; fix it, then re-run `{command}` {again} ({where})"
                ),
                highlight=False,
            )
        else:
            err.print(
                Text.assemble(
                    ("m2pg failed unexpectedly:", "red"),
                    f" {type(error).__name__}: {short_cause(error)} ({where}; please report it as a bug)",
                ),
                highlight=False,
            )
            if not log:
                err.print(scrub(text), highlight=False)
        raise typer.Exit(1) from None
    raise typer.Exit(code or 0)


def _stopped_at_once(resumable: bool = True) -> NoReturn:
    stopped, said = interrupt.STOPPED
    if not resumable:
        said = " Its temporary folder is removed: re-run the same command to start again."
    err.print(Text.assemble((stopped, "yellow"), said))
    raise typer.Exit(130) from None


SEED_MOST = 2**63 - 1  # a seed every generator and sampler takes


@dataclass(frozen=True)
class Settings:
    """A command's options, read once from its flags and the environment, then only passed on."""

    command: str
    staging: Path = Path("staging")
    mongo_uri: str | None = None
    mongo_db: str | None = None
    dump: Path | None = None
    pg_uri: str | None = None
    part_size: int = PART_SIZE
    batch_size: int = BATCH_SIZE
    workers: int | None = None
    replace: bool = False
    dry_run: bool = False
    as_json: bool = False
    quiet: bool = False
    overwrite: bool = False
    trust_updated_at: bool = False

    def source(self):
        """The source the options name, checked to hold the app's collections."""
        return pipeline.source(APP, self.mongo_uri, self.mongo_db, self.dump)

    def target(self) -> str:
        return preflight.need(self.pg_uri, "--pg-uri")


def _stage(settings: Settings, stage, reports: tuple[str, ...]):
    """`stage(console)` printing its tables on standard output, on standard error (--json) or
    nowhere (--quiet); with --json, one JSON object follows on standard output: the exit code and
    the reports the stage wrote (each stage already writes reports/<stage>.json)."""
    staging = settings.staging

    def action() -> int:
        if settings.quiet:
            progress.silence()
        console = Console(quiet=True) if settings.quiet else err if settings.as_json else out
        before = {name: _mtime(staging, name) for name in reports}
        code = stage(console) or 0
        if settings.as_json:
            written = {
                name: read_json(Staging(staging).report(f"{name}.json"))
                for name in reports
                if _mtime(staging, name) not in (None, before[name])
            }
            try:
                out.file.write(
                    json.dumps(
                        {"command": settings.command, "exit_code": code, "staging": str(staging), "reports": written}
                    )
                    + "\n"
                )  # scrubbed of passwords like every output
                out.file.flush()
            except BrokenPipeError:  # its reader is gone (`| head`): as a table's ends, no traceback, exit 141
                out.on_broken_pipe()
        return code

    return action


def _mtime(staging: Path, name: str) -> int | None:
    path = Staging(staging).report(f"{name}.json")
    return path.stat().st_mtime_ns if path.exists() else None


@contextmanager
def _guarded(staging: Path | None, name: str, command: str):
    """A command that writes to a staging folder holds its lock, once the folder is known writable."""
    if staging is None or name in READS_STAGING_ONLY:
        yield
        return
    created = not staging.exists()
    preflight.writable_staging(staging, create=name in CREATES_STAGING)
    if not staging.is_dir():  # the stage names what to run first
        yield
        return
    try:
        with lock.held(staging, command):
            yield
    finally:
        if created and not any(staging.iterdir()):  # stopped before writing: leave no trace
            staging.rmdir()


def _log_failure(staging: Path | None, name: str, text: str) -> Path | None:
    """errors.log in the staging folder, if that folder can take it (it may be what failed)."""
    if staging is None or not staging.is_dir():
        return None
    try:
        return error_log.log_failure(staging, name, text)
    except OSError:
        return None


@app.command()
def extract(
    mongo_uri: MongoUri = None,
    mongo_db: MongoDb = None,
    dump: Dump = None,
    staging: StagingDir = Path("staging"),
    part_size: PartSize = PART_SIZE,
    workers: Workers = None,
    trust_updated_at: TrustUpdatedAt = False,
    as_json: AsJson = False,
    quiet: Quiet = False,
) -> None:
    """Read every collection (live MongoDB or a mongodump) into Parquet parts under STAGING/raw."""
    settings = Settings(
        "extract",
        staging,
        mongo_uri,
        mongo_db,
        dump,
        part_size=part_size,
        workers=workers,
        as_json=as_json,
        quiet=quiet,
        trust_updated_at=trust_updated_at,
    )
    _run(
        _stage(
            settings,
            lambda out: pipeline.extract_stage(
                APP,
                settings.source(),
                settings.staging,
                settings.part_size,
                out,
                settings.workers,
                settings.trust_updated_at,
            ),
            ("extract",),
        ),
        settings.staging,
    )


@app.command()
def transform(
    staging: StagingDir = Path("staging"), workers: Workers = None, as_json: AsJson = False, quiet: Quiet = False
) -> None:
    """Apply the rules: clean rows to STAGING/clean, refused records to STAGING/quarantine."""
    settings = Settings("transform", staging, workers=workers, as_json=as_json, quiet=quiet)
    _run(
        _stage(
            settings, lambda out: pipeline.transform_stage(APP, settings.staging, out, settings.workers), ("transform",)
        ),
        settings.staging,
    )


@app.command()
def validate(staging: StagingDir = Path("staging"), as_json: AsJson = False, quiet: Quiet = False) -> None:
    """Check the clean rows with pandera schemas; report every failing row."""
    settings = Settings("validate", staging, as_json=as_json, quiet=quiet)
    _run(
        _stage(settings, lambda out: pipeline.validate_stage(APP, settings.staging, out), ("validate",)),
        settings.staging,
    )


@app.command()
def load(
    pg_uri: PgUri = None,
    staging: StagingDir = Path("staging"),
    batch_size: BatchSize = BATCH_SIZE,
    replace: Replace = False,
    overwrite_changed: OverwriteChanged = False,
    dry_run: DryRun = False,
    as_json: AsJson = False,
    quiet: Quiet = False,
) -> None:
    """Make the target's migrated rows equal the clean rows: insert new rows, update changed ones,
    delete those whose documents are gone (one transaction per batch); rows m2pg did not write
    are never touched."""
    settings = Settings(
        "load",
        staging,
        pg_uri=pg_uri,
        batch_size=batch_size,
        replace=replace,
        dry_run=dry_run,
        as_json=as_json,
        quiet=quiet,
        overwrite=overwrite_changed,
    )
    if settings.dry_run:

        def planned(out: Console) -> int:
            pipeline.plan_alone(settings.dry_run, settings.replace, "load")
            return pipeline.plan_stage(APP, settings.target(), settings.staging, out, settings.overwrite)

        _run(_stage(settings, planned, ("plan",)), settings.staging)
        return
    _run(
        _stage(
            settings,
            lambda out: pipeline.load_stage(
                APP, settings.target(), settings.staging, settings.batch_size, settings.replace, out, settings.overwrite
            ),
            ("load",),
        ),
        settings.staging,
    )


@app.command()
def reconcile(
    pg_uri: PgUri = None, staging: StagingDir = Path("staging"), as_json: AsJson = False, quiet: Quiet = False
) -> None:
    """Per table: source = loaded + quarantined, and no orphan reference (DuckDB)."""
    settings = Settings("reconcile", staging, pg_uri=pg_uri, as_json=as_json, quiet=quiet)
    _run(
        _stage(
            settings,
            lambda out: pipeline.reconcile_stage(APP, settings.target(), settings.staging, out),
            ("reconcile",),
        ),
        settings.staging,
    )


@app.command()
def schema(pg_uri: PgUri = None) -> None:
    """Create the enums, tables, keys and indexes that Prisma's migration would create."""
    _run(lambda: pipeline.schema_stage(APP, preflight.need(pg_uri, "--pg-uri"), out))


@app.command()
def run(
    mongo_uri: MongoUri = None,
    mongo_db: MongoDb = None,
    dump: Dump = None,
    pg_uri: PgUri = None,
    staging: StagingDir = Path("staging"),
    part_size: RunPartSize = PART_SIZE,
    batch_size: BatchSize = BATCH_SIZE,
    replace: Replace = False,
    overwrite_changed: OverwriteChanged = False,
    workers: Workers = None,
    dry_run: DryRun = False,
    trust_updated_at: TrustUpdatedAt = False,
    as_json: AsJson = False,
    quiet: Quiet = False,
) -> None:
    """Every stage in order; creates the target schema first when the database has none. Run
    again after the source changed, it writes only the difference (a catch-up)."""
    settings = Settings(
        "run",
        staging,
        mongo_uri,
        mongo_db,
        dump,
        pg_uri,
        part_size,
        batch_size,
        workers,
        replace,
        dry_run,
        as_json,
        quiet,
        overwrite_changed,
        trust_updated_at,
    )
    last = ("plan",) if settings.dry_run else ("load", "reconcile")
    _run(
        _stage(
            settings,
            lambda out: pipeline.run_all(
                APP,
                settings.source(),
                settings.target(),
                settings.staging,
                settings.part_size,
                settings.replace,
                out,
                settings.workers,
                settings.dry_run,
                settings.batch_size,
                settings.overwrite,
                settings.trust_updated_at,
            ),
            ("extract", "transform", "validate", *last),
        ),
        settings.staging,
    )


@app.command()
def status(staging: StagingDir = Path("staging"), pg_uri: PgUri = None) -> None:
    """What each stage has staged so far, per collection; with --pg-uri, also what the load left
    in the target (rows recorded, foreign keys waiting to be restored)."""
    _run(lambda: _status(staging, pg_uri), staging)


def _status(staging: Path, pg_uri: str | None) -> int:
    if not staging.exists() and pg_uri is None:  # a mistyped folder, not one with nothing staged yet
        raise ConfigError(
            f"status: the staging folder {staging} does not exist",
            hint="check --staging (./staging unless given), or pass --pg-uri for what the load left in a target",
        )
    if not staging.exists() and pg_uri:  # with --pg-uri (often exported): what the load left there, and no staged table
        out.print(f"staging {staging}: no such folder (check --staging); only the target is shown", highlight=False)
        console.print_target(status_mod.target_status(pg_uri), out)
        return pipeline.MIGRATED
    found = status_mod.status(APP, staging, pg_uri)
    console.print_status(found, out)
    return pipeline.FAILED if found["damage"] else pipeline.MIGRATED


@app.command()
def errors(staging: StagingDir = Path("staging")) -> None:
    """Summarise the quarantine: totals, by collection, by rule with sample records and a fix hint."""
    _run(lambda: pipeline.errors(staging, out), staging)


@app.command()
def reset(
    stage: Annotated[str, typer.Option(help="extract, transform, validate, load or all.")] = "all",
    pg_uri: PgUri = None,
    staging: StagingDir = Path("staging"),
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before removing.")] = False,
) -> None:
    """Start over cleanly: remove a stage's staged files (and later stages'); load empties the tables."""
    if stage not in ("extract", "transform", "validate", "load", "all"):
        err.print(
            Text.assemble(
                ("error:", "red"), f" unknown stage {stage!r}: choose extract, transform, validate, load or all"
            )
        )
        raise typer.Exit(2)
    _run(lambda: pipeline.reset(APP, staging, stage, pg_uri, _confirmer(yes), out), staging)


def _confirmer(yes: bool):
    """Ask on a terminal; without one, only --yes may drop data."""

    def confirm(question: str) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise ConfigError(question + " (pass --yes to confirm without a terminal)")
        try:
            return typer.confirm(question, default=False)
        except typer.Abort:  # the input ended (Ctrl+D): no answer is a no
            err.print()
            return False

    return confirm


@app.command()
def verify(
    mongo_uri: MongoUri = None,
    mongo_db: MongoDb = None,
    dump: Dump = None,
    pg_uri: PgUri = None,
    staging: StagingDir = Path("staging"),
    sample: Annotated[int, typer.Option(min=0, help="Records compared per table.")] = 100,
    full: Annotated[bool, typer.Option("--full", help="Compare every record (per-row hashes).")] = False,
    seed: Annotated[int, typer.Option(min=0, max=SEED_MOST, help="Seed of the sample.")] = 7,
    workers: Workers = None,
    as_json: AsJson = False,
    quiet: Quiet = False,
) -> None:
    """Prove the migration against the source: counts, records, integrity, types (exit 0 pass, 1 fail)."""
    settings = Settings(
        "verify", staging, mongo_uri, mongo_db, dump, pg_uri, workers=workers, as_json=as_json, quiet=quiet
    )
    _run(
        _stage(
            settings,
            lambda out: pipeline.verify_stage(
                APP, settings.source(), settings.target(), settings.staging, sample, full, seed, out, settings.workers
            ),
            ("verify",),
        ),
        settings.staging,
    )


@app.command()
def report(staging: StagingDir = Path("staging")) -> None:
    """Render verification, reconciliation, quarantine and timings as one HTML page with charts."""
    _run(lambda: pipeline.report_stage(staging, out), staging)


@app.command()
def indexes(
    pg_uri: PgUri = None,
    extra: Annotated[bool, typer.Option("--extra", help="Add full-text and jsonb GIN indexes.")] = False,
    drop: Annotated[bool, typer.Option("--drop", help="Remove the indexes --extra added.")] = False,
) -> None:
    """Add (or drop) the optional indexes for the app's queries that its Prisma schema lacks."""
    _run(lambda: pipeline.indexes_stage(APP, preflight.need(pg_uri, "--pg-uri"), extra, drop, out))


@app.command()
def generate(
    profile: Annotated[str, typer.Argument(help="sample, bad or large.")],
    scale: Annotated[float, typer.Option(help="Volume multiplier of the large profile.")] = 1.0,
    seed: Annotated[int, typer.Option(min=0, max=SEED_MOST, help="Seed: the same seed gives the same data.")] = 7,
    mongo_uri: Annotated[
        str | None,
        typer.Option(
            "--mongo-uri",
            envvar="M2PG_MONGO_URI",
            callback=_mongo_uri,
            help="MongoDB server to write the dataset into.",
        ),
    ] = None,
    mongo_db: Annotated[
        str | None,
        typer.Option(
            "--mongo-db",
            envvar="M2PG_MONGO_DB",
            callback=_database_name,
            help="Database to write into (in a dump: its folder's name).",
        ),
    ] = None,
    dump_out: Annotated[
        Path | None, typer.Option("--dump-out", callback=_usable_path, help="Write DIR/<db>/<c>.bson.")
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Write over the app's collections the database (or dump folder) already has; "
            "without it, generate stops before writing over them.",
        ),
    ] = False,
) -> None:
    """Generate the app's data (sample, bad or large) into MongoDB or a mongodump layout; never over
    a database's or dump's own data without --replace."""
    _run(lambda: generate_command.generate_data(APP, profile, scale, seed, mongo_uri, mongo_db, dump_out, out, replace))


@app.command()
def demo(
    workdir: Annotated[
        Path | None,
        typer.Option(
            callback=_plain_folder,
            help="Keep the servers' data and the staging folder here "
            "(default: a temporary folder, removed at the end).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, max=SEED_MOST, help="Seed of the generated dataset.")] = 7,
) -> None:
    """Start embedded MongoDB-compatible and PostgreSQL servers, generate the app's data, migrate it,
    stop the servers (exit 3: the dataset holds records that must be quarantined)."""
    _run(lambda: demo_mod.demo(APP, workdir, seed, out), resumable=workdir is not None)


@app.command()
def servers(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            callback=_plain_folder,
            help="Keep the servers' data here, to reuse it next time (default: a temporary "
            "folder, removed when they stop).",
        ),
    ] = None,
) -> None:
    """Start an embedded MongoDB-compatible server and PostgreSQL, print their URIs and keep them up
    until Ctrl+C, to run the stages by hand against them."""
    _run(lambda: servers_mod.serve(directory, APP.database, out))


def _show_version(asked: bool) -> None:
    if asked:
        out.print(f"m2pg {installed_version('m2pg')}", highlight=False)
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print m2pg's version and exit.")
    ] = False,
) -> None:
    """Options that come before the command."""


def _one_line_summaries() -> None:
    """The command list of `m2pg --help` shows each command's first paragraph as written, line
    breaks and all; as one flowing line it wraps to the terminal instead."""
    for command in app.registered_commands:
        first = inspect.cleandoc(command.callback.__doc__ or "").split("\n\n")[0] if command.callback else ""
        command.short_help = command.short_help or " ".join(first.split())


_one_line_summaries()


def main() -> None:
    """The command. What fails outside a command's own handling, in an option read before any
    command runs (--version, --help) or a usage error, is writing their output (`> /dev/full`):
    one line too, not a traceback."""
    try:
        app()
    except OSError as error:
        cause = environment_failure(OSError(error.errno, error.strerror, error.filename or "the standard output"))
        if not cause:  # a bug of m2pg: its traceback
            raise
        with suppress(OSError):  # standard error may be what failed
            err.print(Text.assemble(("error:", "red"), f" {one_line(cause)}"), highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
