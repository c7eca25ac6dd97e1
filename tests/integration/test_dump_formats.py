"""mongodump as it is used: `--gzip` folders and `--archive` files (gzipped or not) stage exactly the
Parquet a plain dump folder stages, byte for byte."""

import random
from pathlib import Path

import pytest

from mongodump_files import archive, gzip_folder
from processes import m2pg
from toolkit.generate import sample as generate
from toolkit.sources.readers import DumpSource
from toolkit.stages import extract as extract_mod
from toolkit.staging.layout import Staging
from transforms import APP, JUNCTIONS, MODELS

PART = 200


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    """The demo dataset as a plain dump; half of the collections out of `_id` order, so both the
    straight read and the sorted read are compared."""
    dataset = generate.demo_dataset(APP, 7)
    shuffle = random.Random(3)
    for number, documents in enumerate(dataset.values()):
        if number % 2:
            shuffle.shuffle(documents)
    root = tmp_path_factory.mktemp("plain")
    generate.write_dump(root, "nextcrm", dataset)
    return root


def staged(source: DumpSource, root: Path) -> dict[str, bytes]:
    extract_mod.extract(source, Staging(root), MODELS, JUNCTIONS, PART, workers=1)
    files = [*root.glob("raw/*/part-*.parquet"), *root.glob("idmap/*.parquet")]
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def expected(plain, tmp_path_factory) -> dict[str, bytes]:
    return staged(DumpSource(plain), tmp_path_factory.mktemp("staging"))


FORMS = {
    "gzip folder": lambda plain, tmp: gzip_folder(plain / "nextcrm", tmp / "gz" / "nextcrm").parent,
    "archive": lambda plain, tmp: archive({"nextcrm": plain / "nextcrm"}, tmp / "dump.archive"),
    "gzipped archive": lambda plain, tmp: archive(
        {"nextcrm": plain / "nextcrm"}, tmp / "dump.archive.gz", gzipped=True
    ),
}


@pytest.mark.parametrize("form", FORMS)
def test_every_form_stages_the_same_parquet_as_the_plain_folder(form, plain, expected, tmp_path):
    dump = FORMS[form](plain, tmp_path)
    got = staged(DumpSource(dump), tmp_path / "staging")
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if got[name] != expected[name]] == []
    assert len(expected) > 60  # every collection, several parts each


def test_the_command_reads_a_gzip_folder_and_an_archive_with_metadata_files(plain, tmp_path):
    folder = gzip_folder(plain / "nextcrm", tmp_path / "gz" / "nextcrm")
    assert list(folder.glob("*.metadata.json.gz")) and not list(folder.glob("*.bson"))
    for dump in (folder.parent, archive({"nextcrm": plain / "nextcrm"}, tmp_path / "a.gz", gzipped=True)):
        done = m2pg(
            "extract",
            "--dump",
            str(dump),
            "--staging",
            str(tmp_path / f"staging-{dump.name}"),
            "--batch-size",
            str(PART),
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "11038 documents staged" in done.stdout, done.stdout


def test_unpacked_copies_are_removed_when_the_command_ends(plain, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    dump = archive({"nextcrm": plain / "nextcrm"}, tmp_path / "dump.archive")
    done = m2pg("extract", "--dump", str(dump), "--staging", str(tmp_path / "staging"), "--batch-size", str(PART))
    assert done.returncode == 0, done.stdout + done.stderr
    assert list((tmp_path / "tmp").iterdir()) == []
