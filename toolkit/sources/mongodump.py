"""The files mongodump writes, read as streams: `<collection>.bson` in a folder, `.bson.gz`
with `--gzip`, or one archive file with `--archive` (gzipped or not) that interleaves every
collection of every database.

An archive is a magic number, a header document, one metadata document per collection and a
terminator (0xFFFFFFFF); then segments: a namespace header document (db, collection, EOF),
the namespace's documents, a terminator. A namespace ends with a header whose EOF is true.
"""

from __future__ import annotations

import gzip
import json
import shutil
import zlib
from collections.abc import Iterator
from io import BufferedIOBase
from pathlib import Path
from typing import BinaryIO, NoReturn
from urllib.parse import quote_plus, unquote_plus

import numpy as np
from bson import decode as bson_decode
from bson.errors import InvalidBSON

from toolkit.runtime.errors import ConfigError
from toolkit.runtime.preflight import listed

GZIP_MAGIC = b"\x1f\x8b"
ARCHIVE_MAGIC = (0x8199E26D).to_bytes(4, "little")
TERMINATOR = b"\xff\xff\xff\xff"
BUCKETS = "system.buckets."  # a timeseries collection's data, before MongoDB 8.3, is in system.buckets.<name>
BLOCK = 1 << 24  # bytes read at a time
SUFFIXES = (".bson", ".bson.gz")


class DamagedDump(ConfigError):
    """A dump file that cannot be read as mongodump writes it."""


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def open_dump_file(path: Path) -> BufferedIOBase:
    """The file's bytes, decompressed as they are read when gzip wrote it."""
    return gzip.open(path, "rb") if is_gzip(path) else path.open("rb")


def is_archive(path: Path) -> bool:
    try:
        with open_dump_file(path) as fh:
            return fh.read(4) == ARCHIVE_MAGIC
    except (OSError, EOFError, zlib.error):
        return False


def unpacked_size(path: Path) -> int:
    """Bytes the file holds once decompressed: gzip's trailer says it (modulo 4 GiB), for free."""
    if not is_gzip(path):
        return path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(-4, 2)
        return int.from_bytes(fh.read(4), "little")


def collection_name(path: Path) -> str | None:
    """`Users` for `Users.bson` or `Users.bson.gz`, `a/b` for `a%2Fb.bson`; None for other files
    (`.metadata.json`, ...)."""
    for suffix in SUFFIXES:
        if path.name.endswith(suffix) and len(path.name) > len(suffix):
            return unquote_plus(path.name[: -len(suffix)])
    return None


def file_stem(collection: str) -> str:
    """The name of a collection's files as mongodump 100.x writes it (Go's url.QueryEscape): a
    collection may be named with characters a file name cannot hold (`/`)."""
    return quote_plus(collection)


def copy_unpacked(path: Path, target: Path) -> None:
    """Write a `.bson.gz` out as plain BSON, a block at a time, under a temporary name first."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        with open_dump_file(path) as source, partial.open("wb") as out:
            shutil.copyfileobj(source, out, BLOCK)
    except (OSError, EOFError, zlib.error) as error:
        partial.unlink(missing_ok=True)
        raise DamagedDump(
            f"{path} cannot be decompressed: {error}", hint="re-run mongodump for this collection"
        ) from None
    partial.replace(target)


class _Reader:
    """A stream read a block at a time, taken a document or a run of documents at a time."""

    def __init__(self, stream: BufferedIOBase, name: Path):
        self.stream, self.name, self.data, self.at, self.offset = stream, name, b"", 0, 0

    def available(self, n: int) -> bool:
        """Whether `n` bytes can be had from here, reading more if needed."""
        while len(self.data) - self.at < n:
            more = self.stream.read(max(BLOCK, n))
            if not more:
                return False
            self.offset += self.at
            self.data, self.at = self.data[self.at :] + more, 0
        return True

    def fail(self, what: str) -> NoReturn:
        raise DamagedDump(
            f"{self.name}: {what} at byte {self.offset + self.at} of the archive", hint="re-run mongodump --archive"
        )

    def terminator(self) -> bool:
        """Whether a terminator is next (and skip it)."""
        if self.available(4) and self.data[self.at : self.at + 4] == TERMINATOR:
            self.at += 4
            return True
        return False

    def document(self) -> bytes:
        if not self.available(4):
            self.fail("the archive ends in the middle")
        size = int.from_bytes(self.data[self.at : self.at + 4], "little", signed=True)
        if size < 5 or not self.available(size):
            self.fail(f"a document of length {size}")
        self.at += size
        return self.data[self.at - size : self.at]

    def documents(self) -> Iterator[bytes]:
        """The whole documents up to the next terminator, as runs of bytes (several at once)."""
        from toolkit.documents.walk import bounds  # a compiled walk: no Python step per document

        while not self.terminator():
            stop = int(bounds(np.frombuffer(self.data, np.uint8, offset=self.at))[2]) if self.at < len(self.data) else 0
            if stop:
                self.at += stop
                yield self.data[self.at - stop : self.at]
            else:  # one document, split by the end of the block (or broken)
                yield self.document()

    def at_end(self) -> bool:
        return not self.available(1)


def archive_prelude(reader: _Reader) -> tuple[dict, list[dict]]:
    """The archive's header and its collections' metadata documents."""
    if not reader.available(4) or reader.data[:4] != ARCHIVE_MAGIC:
        reader.fail("no mongodump archive magic number")
    reader.at = 4
    header, metadata = _decoded(reader), []
    while not reader.terminator():
        metadata.append(_decoded(reader))
    return header, metadata


def _decoded(reader: _Reader) -> dict:
    try:
        return bson_decode(reader.document())
    except InvalidBSON as error:
        reader.fail(f"an unreadable header ({error})")


def view_on(metadata: str | None) -> str | None:
    """What a collection's metadata (the JSON of `.metadata.json`, or of an archive's prelude) says
    it is a view on; None for a collection. mongodump dumps a view's definition only, not its data."""
    try:
        found = json.loads(metadata or "{}")
    except ValueError:
        return None
    if not isinstance(found, dict) or found.get("type") != "view":
        return None
    return str((found.get("options") or {}).get("viewOn", "?"))


def _is_view(metadata: dict) -> bool:
    """A view's prelude entry has no data and no end header."""
    return view_on(metadata.get("metadata")) is not None


def folder_views(folder: Path) -> dict[str, str]:
    """The views of a dump folder, from their `<view>.metadata.json` (`.gz` with `--gzip`): view -> what it is on."""
    found = {}
    for path in [*folder.glob("*.metadata.json"), *folder.glob("*.metadata.json.gz")]:
        try:
            with open_dump_file(path) as fh:
                on = view_on(fh.read().decode(errors="replace"))
        except (OSError, EOFError, zlib.error):
            continue  # metadata is not needed to read a dump: a damaged file says nothing
        if on is not None:
            found[path.name.removesuffix(".gz").removesuffix(".metadata.json")] = on
    return found


def _unreadable(path: Path, error: Exception) -> DamagedDump:
    """An archive the file system or the decompressor fails on (one cut short among them)."""
    return DamagedDump(f"{path} cannot be read: {error}", hint="re-run mongodump --archive")


def archive_collections(path: Path) -> dict[str, list[str]]:
    """database -> collections, from the archive's prelude (the data is not read)."""
    try:
        with open_dump_file(path) as stream:
            _, metadata = archive_prelude(_Reader(stream, path))
    except (OSError, EOFError, zlib.error) as error:
        raise _unreadable(path, error) from None
    found: dict[str, list[str]] = {}
    for m in metadata:
        found.setdefault(m.get("db", ""), []).append(m.get("collection", ""))
    return found


def archive_views(path: Path, database: str) -> dict[str, str]:
    """The database's views in the archive's prelude: view -> what it is on."""
    with open_dump_file(path) as stream:
        _, metadata = archive_prelude(_Reader(stream, path))
    found = {m.get("collection", ""): view_on(m.get("metadata")) for m in metadata if m.get("db") == database}
    return {name: on for name, on in found.items() if on is not None}


def unpack_archive(path: Path, database: str, folder: Path) -> dict[str, Path]:
    """Write `database`'s collections out of the archive as plain `<collection>.bson` files in
    `folder`, in one pass over the archive, a block at a time; collection -> file."""
    files: dict[str, Path] = {}
    outputs: dict[str, BinaryIO] = {}
    try:
        with open_dump_file(path) as stream:
            reader = _Reader(stream, path)
            _, metadata = archive_prelude(reader)
            for m in metadata:
                if m.get("db") == database:
                    files[m["collection"]] = folder / f"{file_stem(m['collection'])}.bson"
                    outputs[m["collection"]] = files[m["collection"]].open("wb")
            unended = {str(m["collection"]) for m in metadata if m.get("db") == database and not _is_view(m)}
            while not reader.at_end():
                namespace = _decoded(reader)
                ours, name = namespace.get("db") == database, str(namespace.get("collection"))
                if namespace.get("EOF"):
                    if not reader.terminator():
                        reader.fail("no terminator after the end of a collection")
                    if ours:  # a timeseries collection ends with its buckets
                        unended.difference_update({name, name.removeprefix(BUCKETS)})
                    continue
                out = None
                if ours:
                    unended.add(name)
                    out = outputs.get(name)
                    if out is None:  # data without a metadata document
                        files[name] = folder / f"{file_stem(name)}.bson"
                        out = outputs[name] = files[name].open("wb")
                for run in reader.documents():
                    if out is not None:
                        out.write(run)
            if unended:
                raise DamagedDump(
                    f"{path} ends before the end of {listed(sorted(unended))} of database {database} "
                    "(mongodump ends each collection with an end header): the archive was cut short",
                    hint="re-run mongodump --archive, or copy the whole file again",
                )
    except (OSError, EOFError, zlib.error) as error:
        raise _unreadable(path, error) from None
    finally:
        for out in outputs.values():
            out.close()
    return files
