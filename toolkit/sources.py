"""Where documents come from: a live MongoDB or a mongodump directory, as raw BSON chunks.

Both yield the same bytes in the same (natural) order, so extract stages the same Parquet
from either; neither ever holds a whole collection in memory.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from toolkit.errors import ConfigError
from toolkit.redact import redact


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

    def count(self, collection: str) -> int:
        return self.client[self.database][collection].estimated_document_count()

    def chunks(self, collection: str, batch_size: int) -> Iterator[bytes]:
        cursor = self.client[self.database][collection].find_raw_batches(
            {}, batch_size=batch_size, sort=[("$natural", 1)])
        yield from cursor


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

    def size(self, collection: str) -> int:
        path = self.file(collection)
        return path.stat().st_size if path.exists() else 0

    def chunks(self, collection: str, batch_size: int) -> Iterator[bytes]:
        path = self.file(collection)
        if not path.exists():
            return
        with path.open("rb", buffering=1 << 20) as fh:
            pending: list[bytes] = []
            while header := fh.read(4):
                length = int.from_bytes(header, "little", signed=True)
                body = fh.read(length - 4) if length >= 5 else b""
                if length < 5 or len(body) != length - 4:
                    raise ConfigError(f"{path}: truncated or corrupt BSON after {len(pending)} documents",
                                      hint="re-run mongodump for this collection")
                pending.append(header + body)
                if len(pending) == batch_size:
                    yield b"".join(pending)
                    pending = []
            if pending:
                yield b"".join(pending)


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
