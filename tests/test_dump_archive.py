"""Reading mongodump's archive and gzip files: the layout, streaming, choosing a database, damage."""

import gzip
import json
import os
import tracemalloc
from pathlib import Path

import bson
import pytest
from bson import ObjectId
from integration.mongodump_files import TERMINATOR, archive, gzip_folder

from toolkit.runtime.errors import ConfigError
from toolkit.runtime.preflight import source_holds_app
from toolkit.sources import mongodump
from toolkit.sources.readers import DumpSource
from transforms import MODELS


def write_folder(folder, collections: dict[str, int], padding: int = 40):
    folder.mkdir(parents=True)
    for name, count in collections.items():
        docs = [bson.encode({"_id": ObjectId(), "n": i, "pad": "x" * padding}) for i in range(count)]
        (folder / f"{name}.bson").write_bytes(b"".join(docs))
        (folder / f"{name}.metadata.json").write_text(f'{{"indexes": [], "collectionName": "{name}"}}')
    return folder


@pytest.fixture
def two_databases(tmp_path):
    return {
        "crm": write_folder(tmp_path / "crm", {"Users": 50, "Tasks": 120}),
        "other": write_folder(tmp_path / "other", {"Users": 3}),
    }


@pytest.mark.parametrize("gzipped", [False, True])
@pytest.mark.parametrize("block", [mongodump.BLOCK, 97])  # documents split by the end of every read
def test_an_archive_unpacks_to_the_files_of_the_chosen_database(two_databases, tmp_path, monkeypatch, gzipped, block):
    monkeypatch.setattr(mongodump, "BLOCK", block)
    path = archive(
        two_databases, tmp_path / "dump.archive", gzipped=gzipped, extra_namespaces=("EmptyView",), views=("AView",)
    )
    source = DumpSource(path, "crm")
    assert source.collections() == ["AView", "EmptyView", "Tasks", "Users"]
    for name in ("Users", "Tasks"):
        assert source.file(name).read_bytes() == (two_databases["crm"] / f"{name}.bson").read_bytes()
    assert source.file("EmptyView").read_bytes() == b""
    assert list(source.chunks("EmptyView", 10)) == []
    assert source.volume("Tasks") == (two_databases["crm"] / "Tasks.bson").stat().st_size
    assert source.describe() == f"mongodump archive {path} database crm"


@pytest.mark.parametrize("gzipped", [False, True])
def test_an_archive_with_a_timeseries_collection_is_whole(two_databases, tmp_path, gzipped):
    """mongodump lists a timeseries collection under its name and writes its data, and its end, under
    system.buckets.<name>: the archive was refused as cut short before the end of the collection."""
    path = archive(two_databases, tmp_path / "dump.archive", gzipped=gzipped, timeseries=("Metrics",))
    source = DumpSource(path, "crm")
    assert source.collections() == ["Metrics", "Tasks", "Users"]
    assert source.file("Users").read_bytes() == (two_databases["crm"] / "Users.bson").read_bytes()


def test_an_archive_of_several_databases_needs_one_named(two_databases, tmp_path):
    path = archive(two_databases, tmp_path / "dump.archive")
    with pytest.raises(ConfigError, match="several databases: crm, other"):
        DumpSource(path)
    with pytest.raises(ConfigError, match="holds no database nextcrm"):
        DumpSource(path, "nextcrm")
    only = archive({"crm": two_databases["crm"]}, tmp_path / "one.archive")
    assert DumpSource(only).database == "crm"


def test_an_archive_is_unpacked_a_block_at_a_time(tmp_path, monkeypatch):
    folder = write_folder(tmp_path / "big", {"Documents": 60_000}, padding=400)  # about 26 MB
    path = archive({"big": folder}, tmp_path / "big.archive.gz", gzipped=True, per_segment=5000)
    monkeypatch.setattr(mongodump, "BLOCK", 1 << 20)
    tracemalloc.start()
    source = DumpSource(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert source.file("Documents").stat().st_size == (folder / "Documents.bson").stat().st_size > 25 << 20
    assert peak < 8 << 20


def test_a_gzip_folder_is_read_with_its_metadata_files_left_alone(tmp_path):
    plain = write_folder(tmp_path / "plain", {"Users": 30, "Tasks": 10})
    folder = gzip_folder(plain, tmp_path / "dump" / "crm")
    source = DumpSource(tmp_path / "dump")
    assert source.collections() == ["Tasks", "Users"]
    assert b"".join(source.chunks("Users", 7)) == (plain / "Users.bson").read_bytes()
    assert source.volume("Users") == (plain / "Users.bson").stat().st_size
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{p.name}.gz" for p in plain.iterdir())


@pytest.mark.parametrize("cut", [3, 200, -9])
def test_a_damaged_archive_is_named_with_where_it_breaks(two_databases, tmp_path, cut):
    data = archive(two_databases, tmp_path / "dump.archive").read_bytes()
    broken = tmp_path / "broken.archive"
    broken.write_bytes(data[:cut])
    with pytest.raises(ConfigError) as error:
        DumpSource(broken, "crm")
    assert str(broken) in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("gzipped", [False, True])
def test_an_archive_cut_between_segments_is_refused(two_databases, tmp_path, gzipped):
    """Cut after a whole segment, every document it holds reads well: a collection whose end header
    never came was taken as complete, and the run migrated part of it with "success"."""
    data = archive(two_databases, tmp_path / "dump.archive", per_segment=20).read_bytes()
    cut = data[: data.rfind(TERMINATOR, 0, len(data) // 2) + 4]
    broken = tmp_path / "cut.archive"
    broken.write_bytes(gzip.compress(cut) if gzipped else cut)
    with pytest.raises(ConfigError) as error:
        DumpSource(broken, "crm")
    said = str(error.value)
    assert said.startswith(f"{broken} ends before the end of Tasks, Users of database crm"), said


def test_a_gzipped_archive_cut_short_is_named(two_databases, tmp_path):
    """A gzip stream without its end ended in EOFError, "m2pg failed unexpectedly"."""
    packed = archive(two_databases, tmp_path / "dump.archive.gz", gzipped=True).read_bytes()
    broken = tmp_path / "cut.archive.gz"
    broken.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ConfigError, match="cut.archive.gz cannot be read: Compressed file ended"):
        DumpSource(broken, "crm")


def test_a_file_that_is_no_archive_is_refused(tmp_path):
    path = tmp_path / "Users.bson"
    path.write_bytes(bson.encode({"_id": 1}))
    with pytest.raises(ConfigError, match="not a mongodump archive"):
        DumpSource(path)


def test_a_truncated_bson_gz_is_named(tmp_path):
    plain = write_folder(tmp_path / "plain", {"Users": 300})
    folder = gzip_folder(plain, tmp_path / "dump" / "crm")
    packed = (folder / "Users.bson.gz").read_bytes()
    (folder / "Users.bson.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ConfigError, match="Users.bson.gz cannot be decompressed"):
        list(DumpSource(tmp_path / "dump").chunks("Users", 100))


def test_a_collection_both_plain_and_gzipped_in_one_folder_is_refused(tmp_path):
    """Users.bson beside Users.bson.gz (a partial copy beside a whole dump): the plain file was
    read and the other left unsaid, so a run migrated what may be the wrong half."""
    plain = write_folder(tmp_path / "plain", {"Users": 30, "Tasks": 10})
    folder = gzip_folder(plain, tmp_path / "dump" / "crm")
    (folder / "Users.bson").write_bytes((plain / "Users.bson").read_bytes()[:100])
    with pytest.raises(ConfigError, match=r"holds both Users.bson and Users.bson.gz: which of them is the dump"):
        DumpSource(tmp_path / "dump")
    (folder / "Users.bson.gz").unlink()
    assert DumpSource(tmp_path / "dump").collections() == ["Tasks", "Users"]


@pytest.mark.parametrize("gzipped", [False, True])
def test_the_oplog_beside_the_database_folders_is_no_database(two_databases, tmp_path, gzipped):
    """`mongodump --oplog` writes oplog.bson at the root, beside the database folders: the root was
    taken for a database holding one collection, oplog, and the dump refused as none of the app's."""
    root = two_databases["crm"].parent
    oplog = bson.encode({"ts": bson.Timestamp(1, 1), "op": "n", "o": {}})
    (root / ("oplog.bson.gz" if gzipped else "oplog.bson")).write_bytes(gzip.compress(oplog) if gzipped else oplog)
    with pytest.raises(ConfigError, match="several databases: crm, other"):
        DumpSource(root)
    assert DumpSource(root, "crm").collections() == ["Tasks", "Users"]
    (root / "other" / "Users.bson").unlink()
    assert DumpSource(root).folder == root / "crm"


def test_the_oplog_of_an_archive_is_no_database(two_databases, tmp_path):
    """In an archive the oplog is of database "": it was listed as one more database to choose."""
    path = archive({"crm": two_databases["crm"]}, tmp_path / "dump.archive", oplog=True)
    assert DumpSource(path).database == "crm"
    both = archive(two_databases, tmp_path / "both.archive", oplog=True)
    with pytest.raises(ConfigError, match="holds several databases: crm, other"):
        DumpSource(both)


def test_a_pipe_or_standard_input_is_refused_for_what_it_is(tmp_path, monkeypatch):
    """`mongodump --archive | m2pg extract --dump /dev/stdin` (or a fifo, <(...), "-") was refused
    as "dump directory ... does not exist", of a path that exists."""
    fifo = tmp_path / "dump.fifo"
    os.mkfifo(fifo)
    monkeypatch.chdir(tmp_path)
    for path in (fifo, Path("-")):
        with pytest.raises(ConfigError, match="is neither a folder nor a file: an archive is read more than once"):
            DumpSource(path)


def view_in_place_of_boards(tmp_path):
    """A database whose Boards is a view on boards_all: mongodump writes its metadata, no data."""
    folder = write_folder(tmp_path / "dump" / "crm", {"Users": 3, "boards_all": 5})
    view = {"options": {"viewOn": "boards_all", "pipeline": []}, "indexes": [], "collectionName": "Boards"}
    (folder / "Boards.metadata.json").write_text(json.dumps({**view, "type": "view"}))
    return folder


DUMP_FORMS = {
    "folder": lambda folder, tmp: folder.parent,
    "gzip folder": lambda folder, tmp: gzip_folder(folder, tmp / "gz" / "crm").parent,
    "archive": lambda folder, tmp: archive({"crm": folder}, tmp / "dump.archive", views=("Boards",)),
}


@pytest.mark.parametrize("form", DUMP_FORMS)
def test_a_view_in_place_of_an_app_collection_is_refused(tmp_path, form):
    """A dump's view named like an app collection was taken for an absent collection (a folder) or
    an empty one (an archive, without a word), where a server's stops the command in one line."""
    source = DumpSource(DUMP_FORMS[form](view_in_place_of_boards(tmp_path), tmp_path))
    with pytest.raises(ConfigError, match="the app's collection Boards is a view on "):
        source_holds_app(source, MODELS)
    assert list(source.views()) == ["Boards"]


ESCAPED = {"reports/2024": "reports%2F2024", "Ünits x": "%C3%9Cnits+x", "a.b": "a.b"}  # as mongodump names files


FOLDER_FORMS = {
    "folder": lambda folder, tmp: folder,
    "gzip folder": lambda folder, tmp: gzip_folder(folder, tmp / "gz" / "crm"),
    "archive": lambda folder, tmp: archive({"crm": folder}, tmp / "dump.archive"),
}


@pytest.mark.parametrize("form", FOLDER_FORMS)
def test_collections_named_with_characters_mongodump_escapes(tmp_path, form):
    """mongodump names a collection's files URL-escaped (`reports%2F2024.bson` holds `reports/2024`):
    a folder's collection was taken for `reports%2F2024`, and an archive holding `reports/2024` was
    refused as unreadable, its unpacked file named with a `/`."""
    folder = write_folder(tmp_path / "crm", {"Users": 2, **{stem: 3 for stem in ESCAPED.values()}})
    source = DumpSource(FOLDER_FORMS[form](folder, tmp_path))
    assert source.collections() == sorted(["Users", *ESCAPED])
    for name, stem in ESCAPED.items():
        assert b"".join(source.chunks(name, 10)) == (folder / f"{stem}.bson").read_bytes()


def test_a_folder_of_several_databases_without_the_one_named_says_so(two_databases):
    """--mongo-db naming none of the folder's databases was told to "choose one with --mongo-db"."""
    root = two_databases["crm"].parent
    with pytest.raises(ConfigError, match=r"holds no database nextcrm \(it holds crm, other\)"):
        DumpSource(root, "nextcrm")
    with pytest.raises(ConfigError, match="several databases: crm, other"):
        DumpSource(root)
