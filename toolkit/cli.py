"""The `m2pg` command: parses options, calls a stage, prints its summary, sets the exit code.

Exit codes: 0 everything migrated; 3 completed with quarantined records; 2 usage or
configuration error; 1 failure; 130 interrupted.
"""
from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message="pyarrow.lib.*size changed")

import sys  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated, Optional  # noqa: E402

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402

from toolkit import error_log, interrupt, pipeline  # noqa: E402
from toolkit.errors import ConfigError, M2pgError  # noqa: E402
from toolkit.redact import redact  # noqa: E402

app = typer.Typer(help="Move NextCRM's data from MongoDB into its Prisma PostgreSQL schema, stage by stage.\n\n"
                  "Stages: extract -> transform -> validate -> load -> reconcile; each reads only what the "
                  "previous one staged and can be re-run. `m2pg run` does them all; `m2pg demo` shows them.",
                  epilog="Exit codes: 0 everything migrated; 3 completed with quarantined records; "
                  "2 usage or configuration error; 1 failure; 130 interrupted (re-run to resume).",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)

MongoUri = Annotated[Optional[str], typer.Option("--mongo-uri", envvar="M2PG_MONGO_URI",
                                                  help="MongoDB connection URI to read from.")]
MongoDb = Annotated[Optional[str], typer.Option("--mongo-db", envvar="M2PG_MONGO_DB",
                                                 help="Database to read (also picks one in a dump).")]
Dump = Annotated[Optional[Path], typer.Option("--dump", envvar="M2PG_DUMP",
                                               help="mongodump output: DIR/<db>/<c>.bson or DIR/<c>.bson.")]
PgUri = Annotated[Optional[str], typer.Option("--pg-uri", envvar="M2PG_PG_URI",
                                               help="PostgreSQL connection URI to load into.")]
StagingDir = Annotated[Path, typer.Option("--staging", envvar="M2PG_STAGING",
                                          help="Folder where stages write and read Parquet and reports.")]
BatchSize = Annotated[int, typer.Option("--batch-size", envvar="M2PG_BATCH_SIZE", min=1,
                                        help="Documents per Parquet part and rows per load transaction.")]
Workers = Annotated[Optional[int], typer.Option(
    "--workers", envvar="M2PG_WORKERS", min=1,
    help="Worker processes that extract or transform collections side by side. "
         "Default: every core for 32 MB of data or more, one for less.")]
Replace = Annotated[bool, typer.Option("--replace", help="Empty the target tables before loading.")]


def _run(action, staging: Path | None = None) -> None:
    """Run a stage: a user's mistake is one line and exit 2; a bug is a traceback and exit 1,
    also written to the staging folder's errors.log."""
    try:
        with interrupt.graceful():
            code = action()
    except interrupt.Interrupted as stop:
        err.print(f"[yellow]Checkpoint saved[/] ({stop.stage}: {stop.done}; left: {stop.left}). "
                  "Re-run the same command to resume.")
        raise typer.Exit(130)
    except KeyboardInterrupt:
        err.print("[yellow]Stopped at once.[/] Everything written is whole; re-run the same command to resume.")
        raise typer.Exit(130)
    except M2pgError as error:
        err.print(f"[red]error:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(error.exit_code)
    except Exception:  # a failure of the tool itself
        text = traceback.format_exc()
        err.print("[red]m2pg failed unexpectedly:[/]")
        err.print(redact(text), highlight=False, markup=False)
        if staging is not None:
            log = error_log.log_failure(staging, sys.argv[1] if len(sys.argv) > 1 else "m2pg", text)
            err.print(f"The traceback is also in {log}")
        raise typer.Exit(1)
    raise typer.Exit(code or 0)


@app.command()
def extract(mongo_uri: MongoUri = None, mongo_db: MongoDb = None, dump: Dump = None,
            staging: StagingDir = Path("staging"), batch_size: BatchSize = pipeline.PART_SIZE,
            workers: Workers = None) -> None:
    """Read every collection (live MongoDB or a mongodump) into Parquet parts under STAGING/raw."""
    _run(lambda: pipeline.extract_stage(pipeline.source(mongo_uri, mongo_db, dump), staging, batch_size, out,
                                        workers), staging)


@app.command()
def transform(staging: StagingDir = Path("staging"), workers: Workers = None) -> None:
    """Apply the rules: clean rows to STAGING/clean, refused records to STAGING/quarantine."""
    _run(lambda: pipeline.transform_stage(staging, out, workers), staging)


@app.command()
def validate(staging: StagingDir = Path("staging")) -> None:
    """Check the clean rows with pandera schemas; report every failing row."""
    _run(lambda: pipeline.validate_stage(staging, out), staging)


@app.command()
def load(pg_uri: PgUri = None, staging: StagingDir = Path("staging"),
         batch_size: BatchSize = pipeline.BATCH_SIZE, replace: Replace = False) -> None:
    """Bulk-load the clean rows into PostgreSQL (parents first, one transaction per batch)."""
    _run(lambda: pipeline.load_stage(pipeline.need(pg_uri, "--pg-uri"), staging, batch_size, replace, out), staging)


@app.command()
def reconcile(pg_uri: PgUri = None, staging: StagingDir = Path("staging")) -> None:
    """Per table: source = loaded + quarantined, and no orphan reference (DuckDB)."""
    _run(lambda: pipeline.reconcile_stage(pipeline.need(pg_uri, "--pg-uri"), staging, out), staging)


@app.command()
def schema(pg_uri: PgUri = None) -> None:
    """Create the enums, tables, keys and indexes that Prisma's migration would create."""
    _run(lambda: pipeline.schema_stage(pipeline.need(pg_uri, "--pg-uri"), out))


@app.command()
def run(mongo_uri: MongoUri = None, mongo_db: MongoDb = None, dump: Dump = None,
        pg_uri: PgUri = None, staging: StagingDir = Path("staging"),
        batch_size: BatchSize = pipeline.PART_SIZE, replace: Replace = False, workers: Workers = None) -> None:
    """Every stage in order; creates the target schema first when the database has none."""
    _run(lambda: pipeline.run_all(pipeline.source(mongo_uri, mongo_db, dump),
                                  pipeline.need(pg_uri, "--pg-uri"), staging, batch_size, replace, out,
                                  workers), staging)


@app.command()
def status(staging: StagingDir = Path("staging"), pg_uri: PgUri = None) -> None:
    """What each stage has staged so far, per collection; with --pg-uri, also what the load left
    in the target (rows recorded, foreign keys waiting to be restored)."""
    _run(lambda: pipeline.status(staging, out, pg_uri), staging)


@app.command()
def errors(staging: StagingDir = Path("staging")) -> None:
    """Summarise the quarantine: totals, by collection, by rule with sample ids and a fix hint."""
    _run(lambda: pipeline.errors(staging, out), staging)


@app.command()
def reset(stage: Annotated[str, typer.Option(help="extract, transform, validate, load or all.")] = "all",
          pg_uri: PgUri = None, staging: StagingDir = Path("staging"),
          yes: Annotated[bool, typer.Option("--yes", help="Do not ask before removing.")] = False) -> None:
    """Start over cleanly: remove a stage's staged files (and later stages'); load empties the tables."""
    if stage not in ("extract", "transform", "validate", "load", "all"):
        err.print(f"[red]error:[/] unknown stage {stage!r}: choose extract, transform, validate, load or all")
        raise typer.Exit(2)
    _run(lambda: pipeline.reset(staging, stage, pg_uri, _confirmer(yes), out), staging)


def _confirmer(yes: bool):
    """Ask on a terminal; without one, only --yes may drop data."""
    def confirm(question: str) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise ConfigError(question + " (pass --yes to confirm without a terminal)")
        return typer.confirm(question, default=False)
    return confirm


@app.command()
def verify(mongo_uri: MongoUri = None, mongo_db: MongoDb = None, dump: Dump = None, pg_uri: PgUri = None,
           staging: StagingDir = Path("staging"),
           sample: Annotated[int, typer.Option(min=0, help="Records compared per table.")] = 100,
           full: Annotated[bool, typer.Option("--full", help="Compare every record (per-row hashes).")] = False,
           seed: Annotated[int, typer.Option(help="Seed of the sample.")] = 7) -> None:
    """Prove the migration against the source: counts, records, integrity, types (exit 0 pass, 1 fail)."""
    _run(lambda: pipeline.verify_stage(pipeline.source(mongo_uri, mongo_db, dump), pipeline.need(pg_uri, "--pg-uri"),
                                       staging, sample, full, seed, out), staging)


@app.command()
def report(staging: StagingDir = Path("staging")) -> None:
    """Render verification, reconciliation, quarantine and timings as one HTML page with charts."""
    _run(lambda: pipeline.report_stage(staging, out), staging)


@app.command()
def indexes(pg_uri: PgUri = None,
            extra: Annotated[bool, typer.Option("--extra", help="Add full-text and jsonb GIN indexes.")] = False,
            drop: Annotated[bool, typer.Option("--drop", help="Remove the indexes --extra added.")] = False) -> None:
    """Add (or drop) the optional indexes for the plan's queries that Prisma's schema lacks."""
    _run(lambda: pipeline.indexes_stage(pipeline.need(pg_uri, "--pg-uri"), extra, drop, out))


@app.command()
def generate(profile: Annotated[str, typer.Argument(help="sample, bad or large.")],
             scale: Annotated[float, typer.Option(help="Volume multiplier of the large profile.")] = 1.0,
             seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same data.")] = 7,
             mongo_uri: MongoUri = None, mongo_db: MongoDb = None,
             dump_out: Annotated[Optional[Path], typer.Option("--dump-out", help="Write DIR/<db>/<c>.bson.")] = None
             ) -> None:
    """Generate NextCRM data (sample, bad or large) into MongoDB or a mongodump layout."""
    _run(lambda: pipeline.generate_data(profile, scale, seed, mongo_uri, mongo_db, dump_out, out))


@app.command()
def demo(workdir: Annotated[Optional[Path], typer.Option(help="Keep servers' data and staging here.")] = None,
         seed: Annotated[int, typer.Option(help="Seed of the generated dataset.")] = 7) -> None:
    """Start embedded MongoDB-compatible and PostgreSQL servers, generate NextCRM data, migrate it."""
    _run(lambda: pipeline.demo(workdir, seed, out))


def main() -> None:  # pragma: no cover - entry point convenience
    app()


if __name__ == "__main__":
    sys.exit(main())
