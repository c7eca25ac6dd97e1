"""Where documents come from: a live MongoDB or a mongodump directory, as raw BSON chunks.

Both yield the same documents in the same order, `_id` order bracket by bracket (see
id_order), so extract stages the same Parquet from either and can resume after the last
complete part; neither ever holds a whole collection's documents in memory.
"""

from __future__ import annotations

import mmap
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from bson.decimal128 import Decimal128
from bson.json_util import CANONICAL_JSON_OPTIONS, dumps
from bson.regex import Regex
from pymongo import MongoClient, uri_parser
from pymongo.errors import PyMongoError

from toolkit.documents import index as bson_index
from toolkit.runtime import preflight
from toolkit.runtime.errors import ConfigError, short_cause
from toolkit.runtime.redact import redact, remember
from toolkit.runtime.sizes import PART_BYTES
from toolkit.sources import id_order, mongodump
from toolkit.staging.layout import cached_sha256


@dataclass(frozen=True)
class Position:
    """How far a collection was read: documents done; the last `_id` as canonical extended JSON
    (a server resumes after it) and as its sort key [rank, number, key bytes in hex] (a dump
    resumes after it: the key its file is sorted by); how many documents in a row ended with
    that key (a dump may repeat an `_id`)."""

    documents: int = 0
    last_id: str | None = None
    copies: int = 1
    last_key: list | None = None  # as JSON keeps it: [rank, number, key bytes in hex]


def resume_point(chunk: bytes) -> tuple[str, list, int]:
    """The last document's `_id` as canonical extended JSON and as its sort key, and how many
    documents at the chunk's end share that key, for resuming after them."""
    starts, _ = bson_index.document_bounds(chunk)
    take = min(len(starts), 16)
    while True:  # the keys of the last few documents, more only while they all share the last one's
        first = int(starts[-take])
        keys = id_order.sort_keys(chunk[first:], first)
        rank, number, key = keys.row(-1)[2:5]
        same = (
            keys.select(
                (pl.col("rank") == rank) & (pl.col("number") == number) & (pl.col("key") == pl.lit(key, pl.Binary))
            )
            .to_series()
            .to_numpy()
        )
        others = np.flatnonzero(~same)
        if others.size or take == len(starts):
            break
        take = min(len(starts), take * 8)
    copies = len(same) - (others[-1] + 1 if others.size else 0)
    start = int(keys["offset"][-1])
    last = bson_index.document_id(chunk[start : start + int(keys["length"][-1])])
    return (dumps(last, json_options=CANONICAL_JSON_OPTIONS), [int(rank), float(number), bytes(key).hex()], int(copies))


def id_queries(after: Position = Position()) -> list[dict]:
    """The filters that read a collection from a server in `_id` order, sorted by `_id`.

    A fresh read is one query for everything: a server sorts `_id`s of different types bracket
    by bracket (numbers, then strings, ..., then ObjectIds, ...), the order `id_order` gives a
    dump. A resume starts just after `after.last_id`, which a server compares with `_id`s of its
    own bracket only: one query for the rest of that bracket, one for every later bracket."""
    if after.last_id is None:
        return [{}]
    resume = id_order.id_from_json(after.last_id)
    start = id_order.bracket_of(resume)
    # a server sorts NaN before every other number, yet no value is $gt NaN: after it, the rest
    # of the bracket is every number that is not NaN (a unique `_id` holds one NaN at most)
    after_it = {"$gte": float("-inf")} if _is_nan(resume) else {"$gt": resume}
    queries = [{"_id": {"$type": list(id_order.BRACKETS[start]), **after_it}}]
    later = [name for names in id_order.BRACKETS[start + 1 :] for name in names]
    return queries + ([{"_id": {"$type": later}}] if later else [])


def _is_nan(value) -> bool:
    """Whether a decoded `_id` is a double or decimal NaN."""
    if isinstance(value, float):
        return value != value
    return isinstance(value, Decimal128) and value.to_decimal().is_nan()


def unresumable(last_id: str | None) -> bool:
    """Whether a server cannot be read on after this `_id` (canonical extended JSON): no server
    compares a regular expression with `$gt`, so its collection is read again from the start."""
    return last_id is not None and isinstance(id_order.id_from_json(last_id), Regex)


@dataclass
class MongoSource:
    """A live server, read in raw batches so pymongo never decodes a document."""

    uri: str
    database: str
    counts: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        preflight.mongo_uri(self.uri)
        remember(self.uri)
        options = self.uri.partition("?")[2]
        try:
            try:  # MongoClient only warns of an option it does not know or cannot read, and leaves it out
                if options:
                    uri_parser.split_options(options, validate=True, warn=False)
            except (PyMongoError, ValueError) as error:
                raise ConfigError(
                    f"--mongo-uri {redact(self.uri)} has an option the driver cannot use: {short_cause(error)}",
                    hint="check the options after ? in --mongo-uri (or M2PG_MONGO_URI): their names and values",
                ) from None
            self.client: MongoClient = MongoClient(self.uri, serverSelectionTimeoutMS=5000)
            # with the read preference the reads will ask: one no member can serve (secondary,
            # where there is none) fails here, not once the extract has started
            self.client.admin.command("ping", read_preference=self.client.read_preference)
        except (PyMongoError, ValueError, OSError) as error:  # ValueError: an option pymongo cannot read;
            # OSError: a file an option names (tlsCAFile, tlsCertificateKeyFile) that cannot be read
            raise ConfigError(
                f"cannot reach MongoDB at {redact(self.uri)}: {short_cause(error)}",
                hint="check --mongo-uri (or M2PG_MONGO_URI)",
            ) from None

    def describe(self) -> str:
        return f"MongoDB {redact(self.uri)} database {self.database}"

    def __reduce__(self):  # a worker process opens a client of its own, and knows the counts asked
        return MongoSource, (self.uri, self.database), {"counts": self.counts}

    def collections(self) -> list[str]:
        """The collections the database holds (none when it does not exist)."""
        return sorted(self.client[self.database].list_collection_names())

    def views(self) -> dict[str, str]:
        """The database's views, each with the collection or view it is defined on."""
        listed = self.client[self.database].list_collections(filter={"type": "view"})
        return {c["name"]: c.get("options", {}).get("viewOn", "?") for c in listed}

    def databases(self) -> list[str]:
        """The server's databases, to name them when --mongo-db names none of the app's."""
        try:
            return sorted(self.client.list_database_names())
        except PyMongoError as error:  # a user without listDatabases
            return [f"(not listed: {short_cause(error)})"]

    def identity(self, collection: str) -> None:
        """A server has no file to compare with a checkpoint: a resume continues after its last `_id`."""
        return None

    def count(self, collection: str) -> int:
        """The server's count from its metadata, asked once per collection and command (the
        embedded server counts by reading the collection)."""
        if collection not in self.counts:
            self.counts[collection] = self.client[self.database][collection].estimated_document_count()
        return self.counts[collection]

    def volume(self, collection: str) -> int:
        """A kilobyte a document: enough to put the largest collections first and to choose the
        workers, without asking the server to measure the collection (collStats reads it)."""
        return self.count(collection) * 1024

    def chunks(
        self, collection: str, batch_size: int, after: Position = Position(), limit: int = PART_BYTES
    ) -> Iterator[bytes]:
        """Raw batches in `_id` order, one bracket at a time, starting after `after.last_id`; the
        server caps a batch's bytes itself (16 MB), so `limit` is not asked of it."""
        for query in id_queries(after):
            yield from self.client[self.database][collection].find_raw_batches(
                query, batch_size=batch_size, sort=[("_id", 1)]
            )

    def writes(self) -> int | str:
        """How many inserts, updates and deletes the server has taken since it started, its own
        clients' and those it replicated (a secondary's); or, when it cannot say, why. Asked
        before and after an extract: a difference means the source may have changed while it
        was read. A router (mongos) counts only the writes that went through itself."""
        try:
            status = self.client.admin.command("serverStatus", read_preference=self.client.read_preference)
        except PyMongoError as error:  # a user without clusterMonitor's serverStatus
            return f"serverStatus: {short_cause(error)}"
        if status.get("process") == "mongos":
            return "the server is a router (mongos): the writes through other routers are not counted"
        counters = [status.get(name) or {} for name in ("opcounters", "opcountersRepl")]
        if not counters[0]:
            return "serverStatus holds no opcounters"
        return sum(int(c.get(op, 0)) for c in counters for op in ("insert", "update", "delete"))

    def stamp_batches(self, collection: str, fields: tuple[str, ...]) -> Iterator[bytes]:
        """Raw batches of every document's `_id` and `fields` alone: which documents exist, and
        when the app last wrote each, without reading them."""
        projection = {"_id": 1, **dict.fromkeys(fields, 1)}
        return self.client[self.database][collection].find_raw_batches({}, projection, batch_size=100_000)

    def range_chunks(self, collection: str, batch_size: int, after: str | None, through: str | None) -> Iterator[bytes]:
        """Raw batches in `_id` order of the documents after the ObjectId `after` and up to
        `through` (canonical extended JSON; None: no bound)."""
        bounds = {"$gt": id_order.id_from_json(after)} if after else {}
        if through:
            bounds["$lte"] = id_order.id_from_json(through)
        query = {"_id": bounds} if bounds else {}
        return self.client[self.database][collection].find_raw_batches(query, batch_size=batch_size, sort=[("_id", 1)])


def spans(lengths: np.ndarray, first: int, count: int, limit: int) -> Iterator[tuple[int, int]]:
    """(start, stop) of consecutive documents from `first`: `count` at most, and no more than
    `limit` bytes together unless one document alone is larger."""
    ends = np.cumsum(lengths)
    start = first
    while start < len(lengths):
        before = int(ends[start - 1]) if start else 0
        stop = min(start + count, int(np.searchsorted(ends, before + limit, side="right")))
        yield start, max(stop, start + 1)
        start = max(stop, start + 1)


OPLOG = "oplog"  # mongodump --oplog writes oplog.bson at the dump's root, beside the database folders


@dataclass
class DumpSource:
    """A mongodump output: a folder `DIR/<db>/<collection>.bson` (or a folder of the files), with
    `.bson.gz` files when mongodump ran with `--gzip`; or one `--archive` file, gzipped or not.

    A compressed or archived collection is first written out, streamed a block at a time, as a
    plain `.bson` file in a temporary folder (removed when the command ends), so it is read by
    offset exactly as a plain dump's file: the same `_id` order, the same staged Parquet.
    `.metadata.json` files (indexes, options) are not needed and left alone.
    """

    path: Path
    database: str | None = None

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.path.is_file():
            self.folder = None
            self.database = archive_database(self.path, self.database)
            self.files = {c: self.path for c in mongodump.archive_collections(self.path)[self.database]}
            self.plain = mongodump.unpack_archive(self.path, self.database, self._unpack_folder())
        else:
            self.folder = resolve_dump(self.path, self.database)
            self.files = {}
            for path in sorted(self.folder.iterdir()):
                name = mongodump.collection_name(path)
                if name and path.is_file():
                    if name in self.files:
                        raise ConfigError(
                            f"{self.folder} holds both {self.files[name].name} and {path.name}: which of them "
                            f"is the dump of {name} cannot be told",
                            hint="move away the one that is not of the dump to migrate",
                        )
                    self.files[name] = path
            self.plain = {c: p for c, p in self.files.items() if p.suffix == ".bson"}
            if len(self.plain) < len(self.files):
                self._unpack_folder()

    def _unpack_folder(self) -> Path:
        """The temporary folder for unpacked collections, made by (and removed with) this process's
        source; worker processes write into the same folder."""
        if getattr(self, "unpacked", None) is None:
            self.unpacked = Path(tempfile.mkdtemp(prefix="m2pg-dump-"))
            weakref.finalize(self, shutil.rmtree, self.unpacked, ignore_errors=True)
        return self.unpacked

    def views(self) -> dict[str, str]:
        """The database's views, each with the collection or view it is defined on."""
        if self.folder:
            return mongodump.folder_views(self.folder)
        return mongodump.archive_views(self.path, self.database or "")  # an archive's: chosen when opened

    def describe(self) -> str:
        return f"mongodump {self.folder}" if self.folder else f"mongodump archive {self.path} database {self.database}"

    def file(self, collection: str) -> Path:
        """The collection's documents as a plain BSON file (unpacked first if need be)."""
        if collection in self.plain:
            return self.plain[collection]
        if collection not in self.files:
            return (self.folder or self.unpacked) / f"{mongodump.file_stem(collection)}.bson"  # absent: nothing to read
        target = self.unpacked / f"{mongodump.file_stem(collection)}.bson"
        if not target.exists():  # a `.bson.gz`, unpacked by the process that reads it
            mongodump.copy_unpacked(self.files[collection], target)
        self.plain[collection] = target
        return target

    def collections(self) -> list[str]:
        """The collections the dump holds a file (or an archived namespace) for."""
        return sorted(self.files)

    def identity(self, collection: str) -> dict | None:
        """The file holding the collection as it is now (size, modification time, content digest),
        to tell whether it changed since a checkpoint; None when the dump has no such file."""
        path = self.files.get(collection)
        return file_identity(path) if path else None

    def count(self, collection: str) -> int | None:
        return None

    def volume(self, collection: str) -> int:
        """Bytes of the collection's documents."""
        if collection in self.plain:
            return self.plain[collection].stat().st_size
        return mongodump.unpacked_size(self.files[collection]) if collection in self.files else 0

    def chunks(
        self, collection: str, batch_size: int, after: Position = Position(), limit: int = PART_BYTES
    ) -> Iterator[bytes]:
        """Documents in the server's `_id` order, after `after.last_id`, `batch_size` and at
        most `limit` bytes a chunk (one document at least), read by offset from the
        memory-mapped file."""
        path = self.file(collection)
        if not path.exists() or path.stat().st_size == 0:
            return
        order = self.order(path)
        first = resume_index(path, after)
        offsets = order["offset"].to_numpy()
        if (offsets[1:] > offsets[:-1]).all():  # already in _id order: read straight through
            yield from self._sequential(path, order, first, batch_size, limit)
            return
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            for start, stop in spans(order["length"].to_numpy(), first, batch_size, limit):
                batch = order.slice(start, stop - start)
                yield bson_index.located(
                    b"".join(data[o : o + n] for o, n in zip(batch["offset"], batch["length"], strict=False)),
                    batch["offset"].to_numpy(),
                )
                data.madvise(mmap.MADV_DONTNEED)  # keep the resident set to the batch in hand

    @staticmethod
    def _sequential(path: Path, order: pl.DataFrame, skip: int, batch_size: int, limit: int) -> Iterator[bytes]:
        with path.open("rb") as fh:
            for first, stop in spans(order["length"].to_numpy(), skip, batch_size, limit):
                batch = order.slice(first, stop - first)
                start = batch["offset"][0]
                fh.seek(start)
                yield bson_index.located(
                    fh.read(batch["offset"][-1] + batch["length"][-1] - start), batch["offset"].to_numpy()
                )

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
        return id_keys(path).sort(["rank", "number", "key"], maintain_order=True).select("offset", "length")


def id_keys(path: Path) -> pl.DataFrame:
    """Per document of the file, in file order: offset, length and its `_id` sort key."""
    keys = [id_order.sort_keys(data, offset) for offset, data in file_blocks(path)]
    return (
        pl.concat(keys)
        if keys
        else pl.DataFrame(
            schema={"offset": pl.Int64, "length": pl.Int64, "rank": pl.Int16, "number": pl.Float64, "key": pl.Binary}
        )
    )


def file_blocks(path: Path, block: int = 1 << 22) -> Iterator[tuple[int, bytes]]:
    """(file offset, bytes) of whole documents in file order, about `block` bytes at a time.
    Bytes no length field accounts for (a length below 5, or one running past the end of the
    file) come last, as one block of their own: they are quarantined as one record."""
    offset, tail = 0, b""
    with path.open("rb") as fh:
        while chunk := fh.read(block):
            data = tail + chunk
            whole = bson_index.whole_length(data)
            if whole:
                yield offset, data[:whole]
            offset += whole
            tail = data[whole:]
            if bson_index.untrusted_length(tail):  # where the next document starts is unknown
                tail += fh.read()
                break
    if tail:
        yield offset, tail


def resolve_dump(path: Path, database: str | None) -> Path:
    """Find the folder holding the .bson (or .bson.gz) files, picking the database when there are several."""
    if not path.is_dir() and (path.exists() or str(path) == "-"):  # a pipe, /dev/stdin, <(...), or "-"
        raise ConfigError(
            f"--dump {path} is neither a folder nor a file: an archive is read more than once (listed, "
            "unpacked, and read again by verify), which a pipe or standard input cannot be",
            hint="write the archive to a file first (mongodump --archive=FILE) and pass that file",
        )
    if not path.is_dir():
        raise ConfigError(
            f"--dump {path} does not exist",
            hint="pass the folder mongodump wrote (--out), or its --archive file",
        )
    if database and (path / database).is_dir():
        return path / database
    databases = sorted(p.name for p in path.iterdir() if p.is_dir() and _holds_collections(p))
    if _holds_collections(path, besides=(OPLOG,) if databases else ()):
        return path
    if len(databases) == 1:
        return path / databases[0]
    if not databases:
        raise ConfigError(
            f"--dump {path} holds no .bson or .bson.gz files",
            hint="expected DIR/<db>/<collection>.bson (.bson.gz with --gzip), or an --archive file",
        )
    if database:
        raise ConfigError(
            f"the dump {path} holds no database {database} (it holds {', '.join(databases)})", hint="check --mongo-db"
        )
    raise ConfigError(f"{path} holds several databases: {', '.join(databases)}", hint="choose one with --mongo-db")


def _holds_collections(folder: Path, besides: tuple[str, ...] = ()) -> bool:
    return any(mongodump.collection_name(p) not in (None, *besides) for p in folder.iterdir() if p.is_file())


def archive_database(path: Path, database: str | None) -> str:
    """The database to read from an archive: the one named, or the only one it holds."""
    if not mongodump.is_archive(path):
        raise ConfigError(
            f"--dump {path} is a file but not a mongodump archive",
            hint="pass the folder mongodump wrote (--out), or the file it wrote with --archive",
        )
    held = sorted(db for db in mongodump.archive_collections(path) if db)  # --oplog's oplog is of no database
    if database in held:
        return database
    if database:
        raise ConfigError(
            f"the archive {path} holds no database {database} (it holds {', '.join(held) or 'none'})",
            hint="check --mongo-db",
        )
    if len(held) == 1:
        return held[0]
    if not held:
        raise ConfigError(f"the archive {path} holds no collection", hint="re-run mongodump --archive")
    raise ConfigError(
        f"the archive {path} holds several databases: {', '.join(held)}", hint="choose one with --mongo-db"
    )


def resume_index(path: Path, after: Position) -> int:
    """How many documents of the file, in `_id` order, come before the point to resume from:
    those whose `_id` sorts before the last recorded one, and the copies of that one already
    staged. Counted again for each resume, so a document deleted from a re-created dump never
    shifts the resume point (a checkpoint without a sort key, of an older m2pg, goes by count)."""
    if after.last_key is None:
        return after.documents
    rank, number, raw = after.last_key[0], after.last_key[1], bytes.fromhex(after.last_key[2])
    keys = id_keys(path)
    before = (pl.col("rank") < rank) | (
        (pl.col("rank") == rank)
        & ((pl.col("number") < number) | ((pl.col("number") == number) & (pl.col("key") < pl.lit(raw, pl.Binary))))
    )
    same = (pl.col("rank") == rank) & (pl.col("number") == number) & (pl.col("key") == pl.lit(raw, pl.Binary))
    counts = keys.select(before.sum().alias("before"), same.sum().alias("same")).row(0)
    return int(counts[0]) + min(after.copies, int(counts[1]))


def file_identity(path: Path) -> dict:
    """What a checkpoint records of a dump file: its size, modification time and sha256 (taken
    once per file and process)."""
    stat, digest = cached_sha256(path)
    return {"file": str(path), "bytes": stat.st_size, "modified_ns": stat.st_mtime_ns, "sha256": digest}


def changes(before: dict | None, now: dict | None) -> str | None:
    """What differs between the file a checkpoint recorded and the file now, in words; None if nothing."""
    if before == now:
        return None
    if before is None:
        return "the checkpoint records no dump file"
    if now is None:
        return f"{before['file']} is gone"
    said = []
    if before["bytes"] != now["bytes"]:
        said.append(f"its size went from {before['bytes']} to {now['bytes']} bytes")
    if before["modified_ns"] != now["modified_ns"]:
        said.append("its modification time changed")
    if before["sha256"] != now["sha256"]:
        said.append("its content digest changed")
    return f"{now['file']} changed since the checkpoint ({', '.join(said) or 'another file'})"
