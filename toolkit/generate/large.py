"""A large mongodump of an app for benchmarks, built column by column.

`generate.sample` builds every document as a dict and encodes it: right for a thousand
documents, far too slow for a million. Here each field of a collection is a numpy column
(picks from small value pools, int ranges, int64 milliseconds, rows of a target's ObjectId
matrix), and a chunk of documents is encoded at once, the mirror of `bson_index`: each
document's element sizes, offsets across elements and documents, and every element's bytes
scattered into one buffer. Values follow the declarations and the app's `SampleData` (its
`large_counts`, `linked` and `large_json` are this module's own); every reference names a
document of its target, and the app's junctions decide arrays of 0-5 ObjectIds kept on one side
of a relation, the other, or both.
"""

from __future__ import annotations

import functools
import json
import os
import random
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolkit.declarations.app import App
from toolkit.declarations.spec import LIST_KINDS, Field, Junction, Kind, ModelSpec
from toolkit.documents import index as bt
from toolkit.generate.sample import END, START, SampleData, dump_metadata, tables, target_model, text_maker
from toolkit.runtime.progress import tracked
from toolkit.sources.mongodump import file_stem

MOST_DOCUMENTS = (1 << 24) - 1  # a collection's ObjectIds number its documents in a 3-byte counter
SCALED, FIXED = True, False  # a count of `SampleData.large_counts` grows with the scale, or not
LINKS = (0.35, 0.30, 0.15, 0.10, 0.06, 0.04)  # share of documents with 0..5 partners in a junction
FEED_SIDES = (0.4, 0.3, 0.3)  # a pair is kept in the first feed's array, the second's, or both
BOTH = 2
EMPTY_ARRAY = 0.5  # share of documents without partners that still hold [] under a junction key
ABSENT_SHARES = {  # (null, missing) shares of a value that may be left out
    "optional": (0.08, 0.17),
    "defaulted": (0.0, 0.10),
    "list": (0.02, 0.08),
}
POOL = 512  # distinct values drawn per text field
# documents encoded and written at once: half the largest collection at scale 1, so that at every
# scale two chunks (one drawn while the one before is written) are the most held at once
CHUNK = 12_500

ABSENT, NULLED, SET = 0, 1, 2  # what a document holds under a key
MS_PER_DAY = 86_400_000


def counts(app: App, scale: float = 1.0) -> dict[str, int]:
    """Documents per collection at `scale`; a scaled collection keeps at least one. A model the
    app's `large_counts` does not name holds its sample count, scaled."""
    data = tables(app)
    sized = {m.source: data.large_counts.get(m.name, (data.default_count, SCALED)) for m in app.models}
    return {c: max(1, round(n * scale)) if scaled else n for c, (n, scaled) in sized.items()}


def large(app: App, scale: float = 1.0, seed: int = 7, *, dump_out: Path, db: str | None = None) -> dict[str, int]:
    """Write `dump_out/<db>/<collection>.bson` + metadata for every collection (db: the app's
    database); return the counts. The same (app, scale, seed) writes the same bytes.
    """
    sizes = counts(app, scale)
    compiled = _threads().submit(_load_join)
    world = World.create(app, seed, sizes)
    compiled.result()
    folder = Path(dump_out) / (db or app.database)
    folder.mkdir(parents=True, exist_ok=True)
    for model in tracked(app.models, "generate", lambda m: m.source):
        total = sizes[model.source]
        with (folder / f"{file_stem(model.source)}.bson").open("wb") as fh:
            offset, earlier, every = 0, list[Future](), list[Future]()
            try:
                for start in range(0, total, CHUNK):  # a chunk is drawn while the one before is written
                    size, queued = write_chunk(fh.fileno(), offset, model, start, min(start + CHUNK, total), world)
                    every += queued
                    _finish(earlier)
                    offset, earlier = offset + size, queued
                _finish(earlier)
            finally:
                wait(every)  # no write outlives the file it writes to, even when one failed
        (folder / f"{file_stem(model.source)}.metadata.json").write_text(json.dumps(dump_metadata(model.source)))
    return sizes


# --- byte columns and their BSON encoding --------------------------------------------------


@dataclass(frozen=True)
class Bytes:
    """One byte string per row: row i is `data[starts[i]:starts[i] + sizes[i]]`, empty when size 0."""

    data: np.ndarray  # uint8
    starts: np.ndarray  # int64
    sizes: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.sizes)

    def take(self, rows: np.ndarray | slice) -> Bytes:
        return Bytes(self.data, self.starts[rows], self.sizes[rows])

    def where(self, kept: np.ndarray) -> Bytes:
        """The rows, emptied where not `kept`."""
        return Bytes(self.data, self.starts, np.where(kept, self.sizes, 0))


def pool(blobs: list[bytes]) -> Bytes:
    """The blobs as rows, to `take` from."""
    sizes = np.fromiter(map(len, blobs), np.int64, len(blobs))
    return Bytes(np.frombuffer(b"".join(blobs), np.uint8), _exclusive_sum(sizes), sizes)


def rows_of(matrix: np.ndarray, picks: np.ndarray) -> Bytes:
    """Rows `picks` of an (m, width) uint8 matrix, such as a collection's ObjectIds, gathered
    first: encoding then reads them in order instead of all over a large matrix."""
    return _matrix(np.take(matrix, picks, axis=0))


def fixed(values: np.ndarray) -> Bytes:
    """Each value's bytes, e.g. of a '<i4' or '<f8' array."""
    return _matrix(np.ascontiguousarray(values).view(np.uint8).reshape(len(values), -1))


def _matrix(rows: np.ndarray) -> Bytes:
    n, width = rows.shape
    return Bytes(rows.reshape(-1), np.arange(n, dtype=np.int64) * width, np.broadcast_to(np.int64(width), (n,)))


def constant(blob: bytes, n: int) -> Bytes:
    return Bytes(
        np.frombuffer(blob, np.uint8),
        np.broadcast_to(np.int64(0), (n,)),
        np.broadcast_to(np.int64(len(blob)), (n,)),
    )


Element = tuple[str, int, Bytes, np.ndarray | None]  # key, BSON type, values, states (None: all SET)


def documents(elements: list[Element], n: int) -> Bytes:
    """Encode n documents at once: int32 size, elements (type, key, NUL, value), closing NUL.

    An element is two pieces per document: its type and key (the null type when null), then its
    value (none when null); both are empty when the key is absent. The pieces are made a block
    of rows at a time, as they are joined.
    """
    return _joined(*_document_pieces(elements, n))


def write_documents(fd: int, offset: int, elements: list[Element], n: int) -> tuple[int, list[Future]]:
    """The bytes `documents` makes written to the file `fd` from `offset` on, each block of rows
    by the thread that made it, at its own place: the writes neither wait for each other nor
    hold the calling thread. The number of bytes, and the writes under way (see `_finish`)."""
    sizes, pieces = _document_pieces(elements, n)
    starts = offset + _exclusive_sum(sizes)

    def write(rows: slice) -> None:
        block = np.empty(int(sizes[rows].sum()), np.uint8)
        _fill(block, _exclusive_sum(sizes[rows]), pieces, rows)
        if os.pwrite(fd, block.data, int(starts[rows.start])) != block.size:
            raise OSError(f"a short write to file descriptor {fd}")

    return int(sizes.sum()), [_threads().submit(write, rows) for rows in _blocks(n)]


def _finish(writes: list[Future]) -> None:
    """Wait for writes under way; the first that failed raises."""
    for write in writes:
        write.result()


def _document_pieces(elements: list[Element], n: int) -> tuple[np.ndarray, Callable[[slice, int], list[Bytes]]]:
    """Each document's size, and the pieces of a block of rows (see `documents`)."""
    sizes = np.full(n, 5, np.int64)
    for element in elements:
        sizes += sum(p.sizes for p in _pieces(element, slice(None)))
    prefix = fixed(sizes.astype("<i4"))

    def block(rows: slice, count: int) -> list[Bytes]:
        return [prefix.take(rows), *(p for e in elements for p in _pieces(e, rows)), constant(b"\0", count)]

    return sizes, block


def _pieces(element: Element, rows: slice) -> tuple[Bytes, Bytes]:
    """An element's two pieces for `rows`: type and key (or the null type and key), then value."""
    key, kind, values, states = element
    name = key.encode() + b"\0"
    head, null = bytes([kind]) + name, bytes([bt.NULL]) + name
    values = values.take(rows)
    if states is None:
        return constant(head, len(values)), values
    nulled, kept = states[rows] == NULLED, states[rows] == SET
    heads = Bytes(
        np.frombuffer(head + null, np.uint8),
        np.where(nulled, len(head), 0),
        np.where(kept, len(head), np.where(nulled, len(null), 0)),
    )
    return heads, values.where(kept)


def array(slots: list[tuple[int, Bytes]], lengths: np.ndarray) -> Bytes:
    """BSON arrays: row i holds the first lengths[i] slots, under keys "0", "1", ..."""
    return documents(
        [
            (str(j), kind, values, np.where(j < lengths, SET, ABSENT).astype(np.uint8))
            for j, (kind, values) in enumerate(slots)
        ],
        len(lengths),
    )


ROW_BLOCK = 8_192  # rows joined at once: their pieces and the bytes they read stay a few megabytes
THREADS = 2


def concat_rows(parts: list[Bytes]) -> Bytes:
    """Row i of the result is row i of every part, one after the other."""
    sizes = sum((p.sizes for p in parts), np.zeros(len(parts[0]), np.int64))
    return _joined(sizes, lambda rows, count: [p.take(rows) for p in parts])


def _joined(sizes: np.ndarray, pieces: Callable[[slice, int], list[Bytes]]) -> Bytes:
    """Rows of `sizes` bytes, each the join of its pieces, made and joined a block of rows at a time."""
    starts = _exclusive_sum(sizes)
    out = np.empty(int(sizes.sum()), np.uint8)
    for rows in _blocks(len(sizes)):  # on the calling thread: the pool is writing the chunk before
        _fill(out, starts[rows], pieces, rows)
    return Bytes(out, starts, sizes)


def _blocks(n: int) -> list[slice]:
    """Rows in blocks of at most ROW_BLOCK, as many as a multiple of THREADS and of even sizes:
    no thread is left alone with a chunk's last full block."""
    count = -(-max(n, 1) // ROW_BLOCK)
    count = -(-count // THREADS) * THREADS
    edges = np.linspace(0, n, count + 1).astype(np.int64)
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _fill(out: np.ndarray, starts: np.ndarray, pieces: Callable[[slice, int], list[Bytes]], rows: slice) -> None:
    """Join each of `rows` from its pieces into `out`, row i at starts[i]."""
    block = [_spanned(p) for p in pieces(rows, rows.stop - rows.start)]
    data, bases = _pooled([b.data for b in block])
    bt.join_rows(
        out,
        starts,
        data,
        np.stack([b.starts + base for b, base in zip(block, bases, strict=True)], axis=1),
        np.stack([b.sizes for b in block], axis=1),
    )


@functools.cache
def _threads() -> ThreadPoolExecutor:
    """Blocks of rows joined side by side: the compiled join and numpy's copies let go of the GIL."""
    return ThreadPoolExecutor(THREADS, thread_name_prefix="m2pg-generate")


def _load_join() -> None:
    """numba's import and the compiled join from its cache, about half a second, on a thread
    while the world is drawn."""
    one = np.zeros((1, 1), np.int64)
    bt.join_rows(np.zeros(1, np.uint8), np.zeros(1, np.int64), np.zeros(1, np.uint8), one, one)


def _spanned(part: Bytes) -> Bytes:
    """The rows with only the span of bytes they hold (all of a small pool)."""
    if part.data.size <= 1 << 16:
        return part
    held = part.sizes > 0
    if not held.any():
        return Bytes(part.data[:0], np.zeros_like(part.starts), part.sizes)
    low, high = int(part.starts[held].min()), int((part.starts + part.sizes)[held].max())
    return Bytes(part.data[low:high], part.starts - low, part.sizes)


def _pooled(arrays: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """One buffer holding each distinct array once, and where each array starts in it."""
    placed: dict[tuple[int, int], int] = {}
    kept, bases, size = [], [], 0
    for values in arrays:
        where = (values.ctypes.data, values.size)
        if where not in placed:
            placed[where] = size
            kept.append(values)
            size += values.size
        bases.append(placed[where])
    return np.concatenate(kept), bases


def _exclusive_sum(sizes: np.ndarray) -> np.ndarray:
    starts = np.zeros(len(sizes), np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    return starts


def bson_string(text: str) -> bytes:
    raw = text.encode()
    return (len(raw) + 1).to_bytes(4, "little") + raw + b"\0"


def string_values(text: Bytes) -> Bytes:
    """BSON string values (int32 size, UTF-8, NUL) of raw UTF-8 rows."""
    return concat_rows([fixed((text.sizes + 1).astype("<i4")), text, constant(b"\0", len(text))])


def decimal(values: np.ndarray) -> Bytes:
    """Non-negative integers as decimal ASCII."""
    width = 19  # digits an int64 holds
    digits = (values[:, None] // 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)) % 10
    sizes = 1 + sum((values >= 10**k).astype(np.int64) for k in range(1, width))
    starts = np.arange(len(values), dtype=np.int64) * width + width - sizes
    return Bytes((digits + ord("0")).astype(np.uint8).reshape(-1), starts, sizes)


# --- what documents point at: ids, creation times, junction arrays, value pools --------------


def _rng(seed: int, *words: str) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(w.encode()) for w in words)])


@dataclass
class Links:
    """A junction array on its owner's side: owner i holds `elements[offsets[i]:][:lengths[i]]`."""

    owner: str
    key: str
    target: str  # the model whose documents the elements are
    lengths: np.ndarray  # uint8: at most 5
    offsets: np.ndarray  # int32
    elements: np.ndarray  # int32 row numbers in the target (an ObjectId's counter has 3 bytes)


@dataclass
class World:
    """Every collection's ids and creation times, the junction arrays, and the value pools."""

    app: App
    seed: int
    ids: dict[str, np.ndarray] = field(default_factory=dict)  # model -> (n, 12) ObjectIds, ascending
    seconds: dict[str, np.ndarray] = field(default_factory=dict)  # model -> uint32 creation times, ascending
    links: dict[str, list[Links]] = field(default_factory=dict)  # owner model -> its junction arrays
    pools: dict[tuple[str, str, int], list[str]] = field(default_factory=dict)  # a text field's values
    bson_pools: dict[tuple[str, str, int], Bytes] = field(default_factory=dict)  # the same as BSON strings

    @classmethod
    def create(cls, app: App, seed: int, sizes: dict[str, int]) -> World:
        """`sizes`: documents per collection."""
        world = cls(app, seed)
        for number, model in enumerate(app.models):
            world.seconds[model.name], world.ids[model.name] = _object_ids(
                _rng(seed, model.name, "ids"), sizes[model.source], number
            )
        for junction in app.junctions:
            for links in _junction(_rng(seed, junction.table), junction, world):
                world.links.setdefault(links.owner, []).append(links)
        return world

    @property
    def data(self) -> SampleData:
        return tables(self.app)

    def count(self, model: str) -> int:
        return len(self.ids[model])

    def values(self, model: str, name: str, size: int, make: Callable[[random.Random], str] | None = None) -> list[str]:
        """`size` realistic values of a text field, made as `generate` makes them."""
        key = (model, name, size)
        if key not in self.pools:
            r = random.Random(f"{self.seed}:{model}:{name}:pool")
            make = make or text_maker(self.app, model, name)
            self.pools[key] = [make(r) for _ in range(size)]
        return self.pools[key]

    def texts(self, model: str, name: str, size: int, make: Callable[[random.Random], str] | None = None) -> Bytes:
        """The same values as BSON strings."""
        key = (model, name, size)
        if key not in self.bson_pools:
            self.bson_pools[key] = pool([bson_string(v) for v in self.values(model, name, size, make)])
        return self.bson_pools[key]


def _object_ids(rng: np.random.Generator, n: int, machine: int) -> tuple[np.ndarray, np.ndarray]:
    """n ascending ObjectIds created over 2019-2025: seconds, a 5-byte machine id, a counter."""
    if n > MOST_DOCUMENTS:
        raise ValueError(f"{n} documents overflow the 3-byte ObjectId counter: use a smaller scale")
    seconds = np.sort(rng.integers(int(START.timestamp()), int(END.timestamp()), n))
    ids = np.empty((n, 12), np.uint8)
    ids[:, :4] = seconds.astype(">u4").view(np.uint8).reshape(n, 4)
    ids[:, 4] = machine  # the model's number: no two collections share an id
    ids[:, 5:9] = rng.integers(0, 256, 4, dtype=np.uint8)
    ids[:, 9:] = np.arange(n, dtype=">u4").view(np.uint8).reshape(n, 4)[:, 1:]
    return seconds.astype(np.uint32), ids


def _junction(rng: np.random.Generator, junction: Junction, world: World) -> list[Links]:
    """Distinct pairs where no document has over 5 partners, each kept on one side, the other or both."""
    left, right = junction.left.model, junction.right.model
    slots = [
        np.repeat(np.arange(world.count(m)), rng.choice(len(LINKS), world.count(m), p=LINKS)) for m in (left, right)
    ]
    count = min(len(s) for s in slots)
    pairs = np.stack([rng.permutation(s)[:count] for s in slots])
    _, first = np.unique(pairs[0] * world.count(right) + pairs[1], return_index=True)
    pairs = pairs[:, np.sort(first)]
    side = (
        rng.choice(3, pairs.shape[1], p=FEED_SIDES) if len(junction.feeds) == 2 else np.zeros(pairs.shape[1], np.int64)
    )
    out = []
    for number, feed in enumerate(junction.feeds):
        owner_is_left = feed.model == left
        kept = (side == number) | (side == BOTH)
        owners, elements = (pairs[0], pairs[1]) if owner_is_left else (pairs[1], pairs[0])
        owners, elements = owners[kept], elements[kept]
        lengths = np.bincount(owners, minlength=world.count(feed.model))
        out.append(
            Links(
                feed.model,
                feed.key,
                right if owner_is_left else left,
                lengths.astype(np.uint8),
                _exclusive_sum(lengths).astype(np.int32),
                elements[np.argsort(owners, kind="stable")].astype(np.int32),
            )
        )
    return out


# --- the values of one chunk of a collection ------------------------------------------------


@dataclass
class Chunk:
    """Documents `start`..`stop` of a collection, and the generator drawing their values."""

    model: ModelSpec
    start: int
    stop: int
    world: World
    rng: np.random.Generator

    @property
    def n(self) -> int:
        return self.stop - self.start

    @property
    def seconds(self) -> np.ndarray:
        return self.world.seconds[self.model.name][self.start : self.stop]

    @property
    def pool_size(self) -> int:
        return min(POOL, max(self.world.count(self.model.name), 8))

    def older(self, target: str) -> Bytes:
        """Ids of `target` documents that existed when each document was created (any, if none did)."""
        target_seconds = self.world.seconds[target]
        existing = np.searchsorted(target_seconds, self.seconds, side="right")
        span = np.where(existing > 0, existing, len(target_seconds))
        return rows_of(self.world.ids[target], (self.rng.random(self.n) * span).astype(np.int64))

    def picks(self, values: Bytes) -> Bytes:
        return values.take(self.rng.integers(0, len(values), self.n))

    def distinct(self, values: Bytes, slots: int) -> list[Bytes]:
        """`slots` picks per document, all different while the pool has enough values."""
        size = len(values)
        first = self.rng.integers(0, size, self.n)
        step = self.rng.integers(1, max(2, (size - 1) // max(slots - 1, 1) + 1), self.n)
        return [values.take((first + j * step) % size) for j in range(slots)]

    def lengths(self, low: int, high: int) -> np.ndarray:
        return self.rng.integers(low, high + 1, self.n)


def encode_chunk(model: ModelSpec, start: int, stop: int, world: World) -> np.ndarray:
    """The BSON of documents `start`..`stop` of a collection, one after the other, in memory."""
    return documents(*chunk_elements(model, start, stop, world)).data


def write_chunk(
    fd: int, offset: int, model: ModelSpec, start: int, stop: int, world: World
) -> tuple[int, list[Future]]:
    """The same bytes written to the file `fd` from `offset` on: their number, and the writes
    under way."""
    return write_documents(fd, offset, *chunk_elements(model, start, stop, world))


def chunk_elements(model: ModelSpec, start: int, stop: int, world: World) -> tuple[list[Element], int]:
    """The elements of documents `start`..`stop` of a collection, and their number."""
    chunk = Chunk(model, start, stop, world, _rng(world.seed, model.name, str(start)))
    elements: list[Element] = [("_id", bt.OBJECT_ID, rows_of(world.ids[model.name], np.arange(start, stop)), None)]
    for f in model.fields:
        if f.key != "_id":
            kind, values = VALUES[f.kind](chunk, f)
            elements.append((f.key, kind, values, _states(chunk, f)))
    elements += [_feed(chunk, links) for links in world.links.get(model.name, ())]
    return elements, chunk.n


def _states(chunk: Chunk, f: Field) -> np.ndarray | None:
    """Per document: a value, null, or no key at all, as the declaration allows."""
    if f.required or f"{chunk.model.name}.{f.name}" in chunk.world.data.linked:
        return None
    shares = ABSENT_SHARES["list" if f.kind in LIST_KINDS else "optional" if f.optional else "defaulted"]
    roll = chunk.rng.random(chunk.n)
    return np.where(roll < shares[0], NULLED, np.where(roll < sum(shares), ABSENT, SET)).astype(np.uint8)


def _feed(chunk: Chunk, links: Links) -> Element:
    """A junction array: the owner's 0-5 partners; an owner without any holds [] or no key."""
    lengths = links.lengths[chunk.start : chunk.stop]
    offsets = links.offsets[chunk.start : chunk.stop]
    elements = links.elements if len(links.elements) else np.zeros(1, np.int32)
    ids = chunk.world.ids[links.target]
    slots = [
        (bt.OBJECT_ID, rows_of(ids, elements[np.minimum(offsets + j, len(elements) - 1)]))
        for j in range(len(LINKS) - 1)
    ]
    states = np.where((lengths > 0) | (chunk.rng.random(chunk.n) < EMPTY_ARRAY), SET, ABSENT).astype(np.uint8)
    return links.key, bt.ARRAY, array(slots, lengths), states


def _object_id(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    return bt.OBJECT_ID, chunk.older(target_model(f))


def _id_list(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    """0-4 ids of the target; some repeat, as sharing a board twice does."""
    return bt.ARRAY, array([(bt.OBJECT_ID, chunk.older(target_model(f))) for _ in range(4)], chunk.lengths(0, 4))


def _int(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    low, high = chunk.world.data.int_ranges.get(f.name, (0, 1000))
    return bt.INT32, fixed(chunk.rng.integers(low, high + 1, chunk.n).astype("<i4"))


def _bool(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    share = chunk.world.data.true_share.get(f.name, 0.5)
    return bt.BOOL, fixed((chunk.rng.random(chunk.n) < share).astype(np.uint8))


def _datetime(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    """Milliseconds since 1970, some days after the document's creation."""
    low, high = chunk.world.data.days_after_creation.get(f.name, (0, 0))
    days = chunk.rng.uniform(low, high, chunk.n)
    created = chunk.seconds.astype(np.int64) * 1000
    ms = created + (days * MS_PER_DAY).astype(np.int64) + chunk.rng.integers(0, 1000, chunk.n)
    return bt.DATETIME, fixed(ms.astype("<i8"))


def _enum(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    return bt.STRING, chunk.picks(pool([bson_string(v) for v in chunk.world.app.enums[f.enum_name]]))


def _text(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    if not f.unique:
        return bt.STRING, chunk.picks(chunk.world.texts(chunk.model.name, f.name, chunk.pool_size))
    # unique at any count: the document's number joins the value, as in generate
    values = chunk.world.values(chunk.model.name, f.name, chunk.pool_size)
    local = pool([v.partition("@")[0].encode() for v in values])
    rest = pool(["".join(v.partition("@")[1:]).encode() for v in values])
    picks = chunk.rng.integers(0, len(values), chunk.n)
    number = decimal(np.arange(chunk.start, chunk.stop, dtype=np.int64))
    text = concat_rows([local.take(picks), constant(b".", chunk.n), number, rest.take(picks)])
    return bt.STRING, string_values(text)


def _text_list(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    values = _tags(chunk) if f.name == "tags" else chunk.world.texts(chunk.model.name, f.name, chunk.pool_size)
    return bt.ARRAY, array([(bt.STRING, v) for v in chunk.distinct(values, 3)], chunk.lengths(0, 3))


def _tags(chunk: Chunk) -> Bytes:
    return pool([bson_string(t) for t in chunk.world.data.tags])


def tag_names(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    """Json ["vip", "q1"]: a Json field's default."""
    return bt.ARRAY, array([(bt.STRING, v) for v in chunk.distinct(_tags(chunk), 3)], chunk.lengths(0, 3))


def labels(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    """Json [{"name": "vip", "color": "#a1b2c3"}, ...]."""
    colors = chunk.world.texts("json", "color", 64, lambda r: f"#{r.randbytes(3).hex()}")
    slots = [
        (
            bt.DOCUMENT,
            documents([("name", bt.STRING, name, None), ("color", bt.STRING, chunk.picks(colors), None)], chunk.n),
        )
        for name in chunk.distinct(_tags(chunk), 3)
    ]
    return bt.ARRAY, array(slots, chunk.lengths(1, 3))


def _json(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    """The app's maker by "Model.field", then by field name, else tag names."""
    made = chunk.world.data.large_json
    return made.get(f"{chunk.model.name}.{f.name}", made.get(f.name, tag_names))(chunk, f)


VALUES: dict[Kind, Callable[[Chunk, Field], tuple[int, Bytes]]] = {
    Kind.OBJECT_ID: _object_id,
    Kind.UUID_LIST: _id_list,
    Kind.INT: _int,
    Kind.BOOL: _bool,
    Kind.DATETIME: _datetime,
    Kind.ENUM: _enum,
    Kind.TEXT: _text,
    Kind.TEXT_LIST: _text_list,
    Kind.JSON: _json,
}
