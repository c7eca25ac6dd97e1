"""Extract on worker processes stages exactly what one process stages, and stops and resumes alike."""

import os
import signal
import subprocess
import time

import bson
import polars as pl
import psutil
import pyarrow.parquet as pq
import pytest

from processes import M2PG, ctrl_c_when, environment, m2pg
from toolkit.runtime.parallel import PARALLEL_FROM, workers_for
from toolkit.sources.readers import DumpSource
from toolkit.staging.layout import Staging, read_json
from transforms import MODELS

DB = "nextcrm"


@pytest.fixture(scope="module")
def serial(dump, tmp_path_factory) -> Staging:
    staging = Staging(tmp_path_factory.mktemp("serial"))
    done = m2pg("extract", "--dump", str(dump), "--staging", str(staging.root), "--batch-size", "100", "--workers", "1")
    assert done.returncode == 0, done.stderr
    return staging


def assert_same_staging(a: Staging, b: Staging) -> None:
    for m in MODELS:
        parts_a, parts_b = (sorted(s.raw_dir(m.source).glob("part-*.parquet")) for s in (a, b))
        assert [p.name for p in parts_a] == [p.name for p in parts_b], m.source
        for x, y in zip(parts_a, parts_b, strict=False):
            assert pl.read_parquet(x).equals(pl.read_parquet(y)), f"{m.source} {x.name}"
        assert pl.read_parquet(a.idmap(m.source)).equals(pl.read_parquet(b.idmap(m.source))), m.source
        manifest_a, manifest_b = read_json(a.manifest(m.source)), read_json(b.manifest(m.source))
        assert manifest_a["parts"] == manifest_b["parts"], m.source
    report_a, report_b = (read_json(s.report("extract.json")) for s in (a, b))
    assert [c["collection"] for c in report_a["collections"]] == [m.source for m in MODELS]
    assert report_a["documents"] == report_b["documents"]


def assert_same_documents(a: Staging, b: Staging) -> None:
    """The same rows in the same order and the same id map, however the parts are cut."""
    for m in MODELS:
        rows_a, rows_b = (
            pl.concat([pl.read_parquet(p) for p in sorted(s.raw_dir(m.source).glob("part-*.parquet"))]) for s in (a, b)
        )
        assert rows_a.equals(rows_b), m.source
        assert pl.read_parquet(a.idmap(m.source)).equals(pl.read_parquet(b.idmap(m.source))), m.source


def test_two_workers_stage_what_one_stages(dump, serial, tmp_path):
    done = m2pg("extract", "--dump", str(dump), "--staging", str(tmp_path), "--batch-size", "100", "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert_same_staging(Staging(tmp_path), serial)


def test_a_crash_in_a_worker_kills_the_command_and_resume_finishes_the_same(dump, serial, tmp_path):
    args = ["extract", "--dump", str(dump), "--staging", str(tmp_path), "--batch-size", "100", "--workers", "2"]
    assert m2pg(*args, kill_at="extract-part:3").returncode == -signal.SIGKILL
    manifests = list((tmp_path / "raw").glob("*/manifest.json"))
    assert manifests and not all(read_json(p)["complete"] for p in manifests)
    resumed = m2pg(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert read_json(tmp_path / "reports" / "extract.json")["parts_resumed"] > 0
    assert_same_staging(Staging(tmp_path), serial)


def test_a_worker_killed_alone_ends_the_command_in_one_line_and_resume_finishes_the_same(dump, serial, tmp_path):
    """The system's OOM killer takes one worker, not the command: the pool starts another in its
    place, but the job it ran is lost; the command must end, not wait for that job for ever."""
    args = ["extract", "--dump", str(dump), "--staging", str(tmp_path), "--batch-size", "100", "--workers", "2"]
    command = subprocess.Popen(
        [*M2PG, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment()
    )
    try:
        deadline = time.time() + 120
        while not list((tmp_path / "raw").glob("*/part-*.parquet")):  # the workers are in their jobs
            assert command.poll() is None and time.time() < deadline, "".join(command.communicate())
            time.sleep(0.01)
        workers = [c for c in psutil.Process(command.pid).children() if "spawn_main" in " ".join(c.cmdline())]
        for worker in workers:
            worker.kill()
        stdout, stderr = command.communicate(timeout=120)
    finally:
        if command.poll() is None:
            command.kill()
    assert command.returncode == 1, stdout + stderr
    assert "Traceback" not in stdout + stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    said = " ".join(lines[-1].split())
    assert "a worker process" in said and "SIGKILL" in said, stderr
    assert f"re-run `m2pg {' '.join(args)}` to resume" in said, said
    resumed = m2pg(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_staging(Staging(tmp_path), serial)


def test_ctrl_c_stops_every_worker_at_a_checkpoint(dump, serial, tmp_path):
    # the same part size as the interrupted run: another one would start the extract over
    args = ["extract", "--dump", str(dump), "--staging", str(tmp_path), "--batch-size", "20", "--workers", "2"]
    code, output = ctrl_c_when(args, tmp_path / "raw", "*/manifest.json")
    assert code == 130, output
    assert "Checkpoint saved" in output
    assert not (tmp_path / "reports" / "extract.json").exists()
    manifests = [read_json(p) for p in (tmp_path / "raw").glob("*/manifest.json")]
    collections = len(list((dump / DB).glob("*.bson")))  # the workers may stop just as they finish one each
    assert manifests and (len(manifests) < collections or not all(m["complete"] for m in manifests))
    resumed = m2pg(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert read_json(tmp_path / "reports" / "extract.json")["parts_resumed"] > 0
    assert_same_documents(Staging(tmp_path), serial)  # in parts of 20 documents, not 100


def test_a_sigterm_to_the_process_group_stops_as_ctrl_c_does(dump, serial, tmp_path):
    """systemd stops a service with SIGTERM to each of its processes: the command died of it at
    once, and, once it took SIGTERM as a Ctrl+C, its workers died of it and the command failed
    ("a worker process ... was killed by SIGTERM", exit 1) instead of stopping."""
    args = ["extract", "--dump", str(dump), "--staging", str(tmp_path), "--batch-size", "20", "--workers", "2"]
    command = subprocess.Popen(
        [*M2PG, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
        start_new_session=True,
    )
    deadline = time.time() + 120
    while not list((tmp_path / "raw").glob("*/manifest.json")) and time.time() < deadline:
        time.sleep(0.01)
    os.killpg(command.pid, signal.SIGTERM)
    stdout, stderr = command.communicate(timeout=300)
    assert command.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr and "killed by" not in stderr, stderr
    resumed = m2pg(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_documents(Staging(tmp_path), serial)


def test_a_truncated_file_in_a_worker_sends_its_last_document_to_the_quarantine(dump, tmp_path):
    broken = tmp_path / "dump" / DB
    broken.mkdir(parents=True)
    for path in (dump / DB).glob("*.bson"):
        data = path.read_bytes()
        (broken / path.name).write_bytes(data[:-3] if path.stem == "crm_Contacts" else data)
    last = bson.decode_all((dump / DB / "crm_Contacts.bson").read_bytes())[-1]
    done = m2pg("extract", "--dump", str(tmp_path / "dump"), "--staging", str(tmp_path / "st"), "--workers", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    said = " ".join((done.stdout + done.stderr).split())
    size = len(bson.encode(last)) - 3
    assert f"crm_Contacts: {size} bytes of the source are not well-formed BSON" in said
    assert "Traceback" not in done.stderr
    done = m2pg("transform", "--staging", str(tmp_path / "st"))
    assert done.returncode == 3 and "Traceback" not in done.stderr, done.stdout + done.stderr
    refused = pl.read_parquet(sorted((tmp_path / "st" / "quarantine" / "crm_Contacts").glob("part-*.parquet")))
    assert refused["rule"].to_list() == ["bson"]


def test_workers_follow_the_size_of_the_source(dump):
    source = DumpSource(dump)
    volume = sum(source.volume(m.source) for m in MODELS)
    assert volume < PARALLEL_FROM
    assert workers_for(volume, None) == 1  # small: worker processes would cost more than they save
    assert workers_for(PARALLEL_FROM, None) == (os.cpu_count() or 1)  # large: every core
    chosen = (os.cpu_count() or 1) + 1  # neither of the numbers the size gives: the choice wins
    assert workers_for(volume, chosen) == workers_for(PARALLEL_FROM, chosen) == chosen
    assert workers_for(volume, 0) == 1


def test_the_id_map_written_a_slice_at_a_time_is_the_same(dump, serial, tmp_path, monkeypatch):
    """Id maps built and written 7 rows at a time hold what one slice holds: each extracted
    ObjectId once, in extract order, with its UUID, also when an `_id` repeated in the source
    falls on both sides of a slice's end; a large collection's map is several row groups."""
    from toolkit.documents.ids import idmap_frame
    from toolkit.stages import extract as extract_mod
    from transforms import JUNCTIONS

    monkeypatch.setattr(extract_mod, "IDMAP_SLICE", 7)
    sliced = Staging(tmp_path / "sliced")
    extract_mod.extract(DumpSource(dump, DB), sliced, MODELS, JUNCTIONS, 100, workers=1)
    for m in MODELS:
        assert pl.read_parquet(sliced.idmap(m.source)).equals(pl.read_parquet(serial.idmap(m.source))), m.source
    largest = max(MODELS, key=lambda m: pl.read_parquet(serial.idmap(m.source)).height)
    assert pq.ParquetFile(sliced.idmap(largest.source)).num_row_groups > 1

    users = next(m for m in MODELS if m.source == "Users")
    ids = [bson.ObjectId(f"{n:024x}") for n in range(1, 16)]
    repeated = ids[:7] + [ids[6]] + ids[7:]  # read in _id order: the 7th and 8th documents share an _id
    folder = tmp_path / "repeats" / DB
    folder.mkdir(parents=True)
    (folder / "Users.bson").write_bytes(
        b"".join(bson.encode({"_id": i, "email": f"{n}@x.io"}) for n, i in enumerate(repeated))
    )
    staging = Staging(tmp_path / "repeats-staging")
    extract_mod.extract(DumpSource(folder.parent, DB), staging, [users], (), 100, workers=1)
    expected = idmap_frame("Users", pl.Series([str(i) for i in ids]))
    assert pl.read_parquet(staging.idmap("Users")).equals(expected)
