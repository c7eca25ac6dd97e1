"""Where documents come from: a live MongoDB or a mongodump directory, as raw BSON chunks.

Both yield the same documents in the same order, `_id` order bracket by bracket (see
id_order), so extract stages the same Parquet from either and can resume after the last
complete part; neither ever holds a whole collection's documents in memory.
"""
from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from bson import decode as bson_decode
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.json_util import CANONICAL_JSON_OPTIONS, dumps, loads

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from toolkit import bson_index, id_order
from toolkit.errors import ConfigError
from toolkit.redact import redact


_CODEC = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO)


@dataclass(frozen=True)
class Position:
    """How far a collection was read: documents done and the last `_id` (canonical extended JSON)."""

    documents: int = 0
    last_id: str | None = None


def last_id(chunk: bytes) -> str:
    """The `_id` of a chunk's last document, as canonical extended JSON, for resuming after it."""
    starts, ends = bson_index.document_bounds(chunk)
    document = bson_decode(chunk[starts[-1]:ends[-1]], _CODEC)
    return dumps(document.get("_id"), json_options=CANONICAL_JSON_OPTIONS)


@dataclass
class MongoSource:
    """A live server, read in raw batches so pymongo never decodes a document."""

    uri: str
    database: str

    def __post_init__(self) -> None:
        self.client = MongoClient(self.uri, serverSelectionTimeoutMS=5000)
        try:
            self.client.admin.command("ping")
        except PyMongoError as error:
            raise ConfigError(f"cannot reach MongoDB at {redact(self.uri)}: {error}",
                              hint="check --mongo-uri (or M2PG_MONGO_URI)") from None

    def describe(self) -> str:
        return f"MongoDB {redact(self.uri)} database {self.database}"

    def __reduce__(self):  # a worker process opens a client of its own
        return MongoSource, (self.uri, self.database)

    def count(self, collection: str) -> int:
        return self.client[self.database][collection].estimated_document_count()

    def volume(self, collection: str) -> int:
        """Bytes the collection's documents take, as the server reports them."""
        try:
            return int(self.client[self.database].command("collStats", collection).get("size", 0))
        except PyMongoError:  # servers without collStats: a kilobyte a document
            return self.count(collection) * 1024

    def chunks(self, collection: str, batch_size: int, after: Position = Position()) -> Iterator[bytes]:
        """Raw batches in `_id` order, one bracket at a time, starting after `after.last_id`."""
        start, resume = 0, None
        if after.last_id is not None:
            resume = loads(after.last_id)
            start = id_order.bracket_of(resume)
        for rank in range(start, len(id_order.BRACKETS)):
            query = {"$type": list(id_order.BRACKETS[rank])}
            if rank == start and resume is not None:
                query["$gt"] = resume
            yield from self.client[self.database][collection].find_raw_batches(
                {"_id": query}, batch_size=batch_size, sort=[("_id", 1)])


@dataclass
class DumpSource:
    """A mongodump output: `DIR/<db>/<collection>.bson`, or a folder of `<collection>.bson`."""

    path: Path
    database: str | None = None

    def __post_init__(self) -> None:
        self.folder = resolve_dump(Path(self.path), self.database)

    def describe(self) -> str:
        return f"mongodump {self.folder}"

    def file(self, collection: str) -> Path:
        return self.folder / f"{collection}.bson"

    def count(self, collection: str) -> int | None:
        return None

    def volume(self, collection: str) -> int:
        """Bytes of the collection's file."""
        path = self.file(collection)
        return path.stat().st_size if path.exists() else 0

    def chunks(self, collection: str, batch_size: int, after: Position = Position()) -> Iterator[bytes]:
        """Documents in the server's `_id` order, read by offset from the memory-mapped file."""
        path = self.file(collection)
        if not path.exists() or path.stat().st_size == 0:
            return
        order = self.order(path)
        offsets = order["offset"].to_numpy()
        if (offsets[1:] > offsets[:-1]).all():  # already in _id order: read straight through
            yield from self._sequential(path, order, after.documents, batch_size)
            return
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            for first in range(after.documents, order.height, batch_size):
                batch = order.slice(first, batch_size)
                yield b"".join(data[o:o + n] for o, n in zip(batch["offset"], batch["length"]))
                data.madvise(mmap.MADV_DONTNEED)  # keep the resident set to the batch in hand

    @staticmethod
    def _sequential(path: Path, order: pl.DataFrame, skip: int, batch_size: int) -> Iterator[bytes]:
        with path.open("rb") as fh:
            for first in range(skip, order.height, batch_size):
                batch = order.slice(first, batch_size)
                start = batch["offset"][0]
                fh.seek(start)
                yield fh.read(batch["offset"][-1] + batch["length"][-1] - start)

    def order(self, path: Path) -> pl.DataFrame:
        """Offsets and lengths of the file's documents, sorted as MongoDB sorts their `_id`."""
        found, last = [], (0, 0)
        for offset, data in file_blocks(path):  # one compiled pass; the sort below is for the rest
            ordered = bson_index.in_id_order(data, last)
            if ordered is None:
                break
            starts, ends, last = ordered
            found.append(pl.DataFrame({"offset": starts + offset, "length": ends - starts}))
        else:
            return pl.concat(found) if found else pl.DataFrame(schema={"offset": pl.Int64, "length": pl.Int64})
        keys = [id_order.sort_keys(data, offset) for offset, data in file_blocks(path)]
        frame = pl.concat(keys) if keys else pl.DataFrame(schema={"offset": pl.Int64, "length": pl.Int64})
        return frame.sort(["rank", "number", "key"], maintain_order=True).select("offset", "length")


def file_blocks(path: Path, block: int = 1 << 24) -> Iterator[tuple[int, bytes]]:
    """(file offset, bytes) of whole documents in file order, about `block` bytes at a time."""
    offset, tail = 0, b""
    with path.open("rb") as fh:
        while chunk := fh.read(block):
            data = tail + chunk
            try:
                whole = bson_index.whole_length(data)
            except bson_index.MalformedBSON as error:
                raise ConfigError(f"{path}: truncated or corrupt BSON after byte {offset}: {error}",
                                  hint="re-run mongodump for this collection") from None
            if whole:
                yield offset, data[:whole]
            offset += whole
            tail = data[whole:]
    if tail:
        raise ConfigError(f"{path}: truncated or corrupt BSON at byte {offset}",
                          hint="re-run mongodump for this collection")


def resolve_dump(path: Path, database: str | None) -> Path:
    """Find the folder holding the .bson files, picking the database when there are several."""
    if not path.is_dir():
        raise ConfigError(f"dump directory {path} does not exist", hint="pass the folder mongodump wrote (--out)")
    if database and (path / database).is_dir():
        return path / database
    if any(path.glob("*.bson")):
        return path
    databases = sorted(p.name for p in path.iterdir() if p.is_dir() and any(p.glob("*.bson")))
    if len(databases) == 1:
        return path / databases[0]
    if not databases:
        raise ConfigError(f"no .bson files under {path}", hint="expected DIR/<db>/<collection>.bson")
    raise ConfigError(f"{path} holds several databases: {', '.join(databases)}",
                      hint="choose one with --mongo-db")
