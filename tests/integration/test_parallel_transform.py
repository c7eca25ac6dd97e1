"""Transform on worker processes stages exactly what one process stages, and stops and resumes alike."""

import os
import shutil
import signal

import polars as pl
import pytest

from processes import ctrl_c_when, m2pg
from toolkit.runtime.parallel import PARALLEL_FROM, workers_for
from toolkit.stages.transform.collection import raw_manifest
from toolkit.stages.transform.schedule import raw_volume
from toolkit.staging.layout import Staging, read_json
from transforms import JUNCTIONS, MODELS

QUARANTINED = 3


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Staging:
    """The `bad` profile (every quarantine rule, references to quarantined records) in many parts."""
    dump = tmp_path_factory.mktemp("dump")
    assert m2pg("generate", "bad", "--dump-out", str(dump)).returncode == 0
    staging = Staging(tmp_path_factory.mktemp("extracted"))
    done = m2pg("extract", "--dump", str(dump), "--staging", str(staging.root), "--batch-size", "100")
    assert done.returncode == 0, done.stderr
    return staging


def copy_of(extracted: Staging, folder) -> Staging:
    for name in ("raw", "idmap"):
        shutil.copytree(extracted.root / name, folder / name)
    return Staging(folder)


@pytest.fixture(scope="module")
def serial(extracted, tmp_path_factory) -> Staging:
    staging = copy_of(extracted, tmp_path_factory.mktemp("serial"))
    done = m2pg("transform", "--staging", str(staging.root), "--workers", "1")
    assert done.returncode == QUARANTINED, done.stderr
    return staging


def transform_report(staging: Staging) -> dict:
    report = read_json(staging.report("transform.json"))
    for collection in report["collections"]:
        del collection["seconds"], collection["parts_skipped"], collection["parts_done"]
    del report["parts_skipped"], report["parts_done"]
    return report


def assert_same_transform(a: Staging, b: Staging) -> None:
    folders = (
        [a.clean(m.table) for m in MODELS]
        + [a.quarantine(m.source) for m in MODELS]
        + [a.clean(j.table) for j in JUNCTIONS]
    )
    for folder in folders:
        other = b.root / folder.relative_to(a.root)
        parts_a, parts_b = sorted(folder.glob("part-*.parquet")), sorted(other.glob("part-*.parquet"))
        assert [p.name for p in parts_a] == [p.name for p in parts_b], folder
        for x, y in zip(parts_a, parts_b, strict=False):
            assert pl.read_parquet(x).equals(pl.read_parquet(y)), x
    report_a, report_b = transform_report(a), transform_report(b)
    assert [c["collection"] for c in report_a["collections"]] == [m.source for m in MODELS]
    assert [j["table"] for j in report_a["junctions"]] == [j.table for j in JUNCTIONS]
    assert report_a == report_b


def test_the_dataset_has_every_kind_of_refusal_and_junctions(serial):
    report = transform_report(serial)
    rules = {rule for c in report["collections"] for rule in c["by_rule"]}
    assert {"reference", "quarantined_reference", "enum", "required", "type"} <= rules
    assert all(j["rows"] for j in report["junctions"])


def test_two_workers_transform_what_one_transforms(extracted, serial, tmp_path):
    staging = copy_of(extracted, tmp_path)
    done = m2pg("transform", "--staging", str(tmp_path), "--workers", "2")
    assert done.returncode == QUARANTINED, done.stderr
    assert_same_transform(staging, serial)
    again = m2pg("transform", "--staging", str(tmp_path), "--workers", "2")
    assert again.returncode == QUARANTINED, again.stderr
    assert read_json(staging.report("transform.json"))["parts_done"] == 0  # nothing changed: every part skipped
    assert_same_transform(staging, serial)


def test_a_crash_in_a_worker_kills_the_command_and_resume_finishes_the_same(extracted, serial, tmp_path):
    staging = copy_of(extracted, tmp_path)
    args = ["transform", "--staging", str(tmp_path), "--workers", "2"]
    assert m2pg(*args, kill_at="transform-part:3").returncode == -signal.SIGKILL
    assert list((tmp_path / "clean").glob("*/manifest.json"))
    assert not staging.report("transform.json").exists()
    resumed = m2pg(*args)
    assert resumed.returncode == QUARANTINED, resumed.stderr
    assert read_json(staging.report("transform.json"))["parts_skipped"] > 0
    assert_same_transform(staging, serial)


def test_ctrl_c_stops_every_worker_at_a_checkpoint(extracted, serial, tmp_path):
    staging = copy_of(extracted, tmp_path)
    args = ["transform", "--staging", str(tmp_path), "--workers", "2"]
    code, output = ctrl_c_when(args, tmp_path / "clean", "*/manifest.json")
    assert code == 130, output
    assert "Checkpoint saved" in output
    assert not staging.report("transform.json").exists()
    resumed = m2pg(*args)
    assert resumed.returncode == QUARANTINED, resumed.stderr
    report = read_json(staging.report("transform.json"))
    assert report["parts_skipped"] >= 1  # what was done before Ctrl+C is kept
    assert report["parts_done"] >= 1  # and the rest was done by the resume
    assert_same_transform(staging, serial)


def test_workers_follow_the_size_of_the_raw_parts(extracted):
    manifests = {m.name: raw_manifest(extracted, m) for m in MODELS}
    volume = raw_volume(extracted, MODELS, manifests)
    assert 0 < volume < PARALLEL_FROM
    assert workers_for(volume, None) == 1  # small: worker processes would cost more than they save
    assert workers_for(PARALLEL_FROM, None) == (os.cpu_count() or 1)
