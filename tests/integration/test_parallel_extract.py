"""Extract on worker processes stages exactly what one process stages, and stops and resumes alike."""
import signal

import polars as pl
import pytest

from toolkit.parallel import PARALLEL_FROM, workers_for
from toolkit.sources import DumpSource
from toolkit.staging import Staging, read_json
from transforms import MODELS

from processes import ctrl_c_when, m2pg

DB = "nextcrm"


@pytest.fixture(scope="module")
def serial(dump, tmp_path_factory) -> Staging:
    staging = Staging(tmp_path_factory.mktemp("serial"))
    done = m2pg("extract", "--dump", str(dump), "--staging", str(staging.root), "--batch-size", "100",
                "--workers", "1")
    assert done.returncode == 0, done.stderr
    return staging


def assert_same_staging(a: Staging, b: Staging) -> None:
    for m in MODELS:
        parts_a, parts_b = (sorted(s.raw_dir(m.source).glob("part-*.parquet")) for s in (a, b))
        assert [p.name for p in parts_a] == [p.name for p in parts_b], m.source
        for x, y in zip(parts_a, parts_b):
            assert pl.read_parquet(x).equals(pl.read_parquet(y)), f"{m.source} {x.name}"
        assert pl.read_parquet(a.idmap(m.source)).equals(pl.read_parquet(b.idmap(m.source))), m.source
        manifest_a, manifest_b = read_json(a.manifest(m.source)), read_json(b.manifest(m.source))
        assert manifest_a["parts"] == manifest_b["parts"], m.source
    report_a, report_b = (read_json(s.report("extract.json")) for s in (a, b))
    assert [c["collection"] for c in report_a["collections"]] == [m.source for m in MODELS]
    assert report_a["documents"] == report_b["documents"]


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


def test_ctrl_c_stops_every_worker_at_a_checkpoint(dump, serial, tmp_path):
    args = ["extract", "--dump", str(dump), "--staging", str(tmp_path), "--workers", "2"]
    code, output = ctrl_c_when([*args, "--batch-size", "5"], tmp_path / "raw", "*/manifest.json")
    assert code == 130, output
    assert "Checkpoint saved" in output
    assert not (tmp_path / "reports" / "extract.json").exists()
    resumed = m2pg(*args, "--batch-size", "100")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_staging(Staging(tmp_path), serial)


def test_a_bad_file_in_a_worker_is_one_clear_line(dump, tmp_path):
    broken = tmp_path / "dump" / DB
    broken.mkdir(parents=True)
    for path in (dump / DB).glob("*.bson"):
        data = path.read_bytes()
        (broken / path.name).write_bytes(data[:-3] if path.stem == "crm_Contacts" else data)
    done = m2pg("extract", "--dump", str(tmp_path / "dump"), "--staging", str(tmp_path / "st"), "--workers", "2")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "crm_Contacts.bson: truncated or corrupt BSON" in done.stderr
    assert "Traceback" not in done.stderr


def test_workers_follow_the_size_of_the_source(dump):
    source = DumpSource(dump)
    volume = sum(source.volume(m.source) for m in MODELS)
    assert volume < PARALLEL_FROM
    assert workers_for(volume, None) == 1
    assert workers_for(volume, 3) == 3
