"""The rows an earlier extract of a collection decoded, reused for every document whose bytes
come again unchanged: a catch-up decodes only the documents that changed since.

A row is taken from the earlier extract only when the document's bytes are equal to the ones it
was decoded from (compared byte for byte, after a 64-bit hash found the candidate), it decoded
without a problem (a problem's reason may name where the document lay), the earlier part is
still as its manifest recorded, and the same decoding made it (`decoded_by`). Every other
document is decoded as a fresh extract would, so the staged part is the one a fresh extract
writes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from toolkit.declarations.spec import ModelSpec
from toolkit.documents.decode import DECODE_VERSION, columns, decode_chunk
from toolkit.documents.index import document_bounds
from toolkit.staging.layout import DamagedStaging, Staging, intact, read_json

log = logging.getLogger(__name__)
SEED = 20_261_204  # the documents' hashes: fixed, so the index and the lookups agree
KEPT_PARTS = 2  # earlier parts held at once: a part's documents come from its own and a neighbour


def decoded_by(model: ModelSpec, feeds: tuple[str, ...]) -> str:
    """What a raw row was made by: the decoding's version and the columns it converts."""
    made = f"{DECODE_VERSION}\0{model.source}\0{sorted(columns(model, feeds).items())!r}"
    return hashlib.sha256(made.encode()).hexdigest()


def set_aside(staging: Staging, collection: str) -> None:
    """Before a collection is extracted from the start: a finished earlier extract moves aside
    (one already aside from an interrupted run stays), an unfinished one is removed."""
    folder, aside = staging.raw_dir(collection), staging.earlier(collection)
    if _finished(folder):
        shutil.rmtree(aside, ignore_errors=True)
        aside.parent.mkdir(parents=True, exist_ok=True)
        os.replace(folder, aside)
    else:
        shutil.rmtree(folder, ignore_errors=True)


def remove(staging: Staging, collection: str) -> None:
    """Once the collection's extract is finished, the earlier one is no longer needed."""
    shutil.rmtree(staging.earlier(collection), ignore_errors=True)


def forget(staging: Staging) -> None:
    """Once every collection is extracted: the folder that held the earlier extracts."""
    shutil.rmtree(staging.earlier_root, ignore_errors=True)


def _finished(folder: Path) -> bool:
    try:
        manifest = read_json(folder / "manifest.json")
    except (FileNotFoundError, NotADirectoryError, DamagedStaging):
        return False
    return isinstance(manifest, dict) and manifest.get("complete") is True


class Earlier:
    """The earlier extract set aside: an index of its documents' hashes, and its parts read
    on demand (a few at a time)."""

    def __init__(self, folder: Path, parts: list[dict], model: ModelSpec, feeds: tuple[str, ...]) -> None:
        self.folder, self.model, self.feeds = folder, model, feeds
        self.schema = decode_chunk(b"", model, feeds).schema
        self.files: dict[int, Path] = {}
        frames = []
        for number, part in enumerate(parts):
            path = folder / str(part.get("file"))
            if not intact(path, part) or not pq.read_schema(path).equals(self.schema):
                log.warning("extract: %s: earlier part %s not reused (damaged, or another layout)", model.source, path)
                continue
            self.files[number] = path
            held = pq.read_table(path, columns=["m2pg_document", "m2pg_problems"])
            clean = pl.Series(held["m2pg_problems"]).list.len() == 0
            frames.append(
                pl.DataFrame(
                    {
                        "m2pg_hash": pl.Series(held["m2pg_document"]).hash(SEED),
                        "m2pg_part": pl.repeat(number, held.num_rows, dtype=pl.Int32, eager=True),
                        "m2pg_at": pl.int_range(held.num_rows, dtype=pl.Int32, eager=True),
                    }
                ).filter(clean)
            )
        self.index = pl.concat(frames).unique("m2pg_hash", keep="first") if frames else None
        self.held: dict[int, pa.Table] = {}
        self.reused = 0  # documents whose rows came from the earlier extract

    @classmethod
    def of(cls, staging: Staging, model: ModelSpec, feeds: tuple[str, ...]) -> Earlier | None:
        """The earlier extract aside for this collection, if one made by the same decoding is there."""
        folder = staging.earlier(model.source)
        try:
            manifest = read_json(folder / "manifest.json")
        except (FileNotFoundError, NotADirectoryError, DamagedStaging):
            return None
        if not isinstance(manifest, dict) or manifest.get("decoded_by") != decoded_by(model, feeds):
            return None
        parts = manifest.get("parts")
        return cls(folder, parts, model, feeds) if isinstance(parts, list) and parts else None

    def decode(self, buffer: bytes, offsets: np.ndarray | None) -> pa.Table:
        """The rows `decode_chunk` makes of `buffer`: runs of unchanged documents sliced from the
        earlier parts (no row is copied until the part is written), the rest decoded."""
        starts, ends = document_bounds(buffer)
        if self.index is None or not len(starts) or not _whole(buffer, starts, ends):
            return decode_chunk(buffer, self.model, self.feeds, offsets)
        bounds = np.append(starts, ends[-1]).astype(np.int64)
        documents = pa.LargeBinaryArray.from_buffers(
            pa.large_binary(), len(starts), [None, pa.py_buffer(bounds.tobytes()), pa.py_buffer(buffer)]
        )
        found = (
            pl.DataFrame({"m2pg_hash": pl.Series(documents).hash(SEED)})
            .with_row_index("m2pg_new")
            .join(self.index, on="m2pg_hash", how="inner")
        )
        source = np.full(len(starts), -1, dtype=np.int64)  # the earlier part of each row; -1: decoded now
        place = np.zeros(len(starts), dtype=np.int64)  # its row there
        source[found["m2pg_new"].to_numpy()] = found["m2pg_part"].to_numpy()
        place[found["m2pg_new"].to_numpy()] = found["m2pg_at"].to_numpy()
        missing = np.flatnonzero(source < 0)
        place[missing] = np.arange(len(missing))
        tables = {number: self._part(int(number)) for number in np.unique(source[source >= 0])}
        tables[-1] = decode_chunk(
            b"".join(memoryview(buffer)[starts[i] : ends[i]] for i in missing),
            self.model,
            self.feeds,
            None if offsets is None else offsets[missing],
        )
        runs = np.flatnonzero((source[1:] != source[:-1]) | (place[1:] != place[:-1] + 1)) + 1
        whole = pa.concat_tables(
            pa.Table.from_arrays(tables[source[a]].slice(place[a], b - a).columns, schema=self.schema)
            for a, b in zip(np.append(0, runs), np.append(runs, len(starts)), strict=True)
        )
        if not pc.all(pc.equal(whole["m2pg_document"], documents)).as_py():  # a hash that matched other bytes
            return decode_chunk(buffer, self.model, self.feeds, offsets)
        self.reused += len(starts) - len(missing)
        return whole.combine_chunks()

    def _part(self, number: int) -> pa.Table:
        if number not in self.held:
            while len(self.held) >= KEPT_PARTS:
                del self.held[next(iter(self.held))]
            self.held[number] = pq.read_table(self.files[number])
        return self.held[number]


def _whole(buffer: bytes, starts: np.ndarray, ends: np.ndarray) -> bool:
    """Whether every span is one document by its own length field, so documents decode alone as
    they do together (bytes after a broken length field are decoded with the whole part)."""
    data = np.frombuffer(buffer, dtype=np.uint8)
    if (ends - starts < 5).any():
        return False
    lengths = data[starts].astype(np.int64)
    for shift in (1, 2, 3):
        lengths |= data[starts + shift].astype(np.int64) << (8 * shift)
    return bool((lengths == ends - starts).all())
