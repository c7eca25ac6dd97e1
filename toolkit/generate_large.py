"""A large NextCRM mongodump for benchmarks, built column by column.

`generate.sample` builds every document as a dict and encodes it: right for a thousand
documents, far too slow for a million. Here each field of a collection is a numpy column
(picks from small value pools, int ranges, int64 milliseconds, rows of a target's ObjectId
matrix), and a chunk of documents is encoded at once, as `bson_index` reads them: each
document's element sizes, offsets across fields and documents, and every field's bytes
scattered into one buffer. Values follow the declarations and `generate`'s value pools; every
reference names a document of its target, and JUNCTIONS decide arrays of 0-5 ObjectIds kept on
one side of a relation, the other, or both.
"""
from __future__ import annotations

import json
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolkit import bson_index as bt
from toolkit.generate import (DAYS_AFTER_CREATION, END, INT_RANGES, PATTERNS, START, TAGS, TEXT, TRUE_SHARE,
                              WORDS, _sentence, dump_metadata)
from toolkit.spec import LIST_KINDS, Field, Junction, Kind, ModelSpec
from transforms import ENUMS, JUNCTIONS, MODELS

SCALED, FIXED = True, False
COUNTS: dict[str, tuple[int, bool]] = {  # documents at scale 1; FIXED collections ignore the scale
    "Users": (1_000, SCALED), "crm_Industry_Type": (40, FIXED), "crm_campaigns": (200, SCALED),
    "crm_Opportunities_Sales_Stages": (24, FIXED), "crm_Opportunities_Type": (20, FIXED),
    "Documents_Types": (30, FIXED), "invoice_States": (20, FIXED), "Employees": (300, SCALED),
    "ImageUpload": (500, SCALED), "MyAccount": (1, FIXED), "modulStatus": (12, FIXED),
    "TodoList": (2_000, SCALED), "system_Modules_Enabled": (10, FIXED), "systemServices": (8, FIXED),
    "gpt_models": (6, FIXED), "crm_Accounts": (10_000, SCALED), "crm_Leads": (5_000, SCALED),
    "crm_Opportunities": (15_000, SCALED), "crm_Contacts": (25_000, SCALED),
    "crm_Contracts": (3_000, SCALED), "Boards": (500, SCALED), "Invoices": (5_000, SCALED),
    "Documents": (10_000, SCALED), "Sections": (2_000, SCALED), "Tasks": (20_000, SCALED),
    "crm_Accounts_Tasks": (8_000, SCALED), "tasksComments": (30_000, SCALED),
    "secondBrain_notions": (200, SCALED), "openAi_keys": (300, SCALED),
}
LINKED = frozenset({  # optional references that every document of a working CRM fills in
    "crm_Contacts.accountsIDs", "crm_Leads.accountsIDs", "crm_Opportunities.account",
    "crm_Opportunities.sales_stage", "crm_Contracts.account", "crm_Accounts_Tasks.account",
    "Invoices.assigned_account_id", "Tasks.section", "Tasks.user",
})
LINKS = (0.35, 0.30, 0.15, 0.10, 0.06, 0.04)  # share of documents with 0..5 partners in a junction
FEED_SIDES = (0.4, 0.3, 0.3)  # a pair is kept in the left array, the right array, or both
ABSENT_SHARES = {  # (null, missing) shares of a value that may be left out
    "optional": (0.08, 0.17), "defaulted": (0.0, 0.10), "list": (0.02, 0.08)}
POOL = 512  # distinct values drawn per text field
CHUNK = 100_000  # documents encoded and written at once
BLOCK = 1 << 18  # bytes copied per numpy step: small enough to stay in cache

ABSENT, NULLED, SET = 0, 1, 2  # what a document holds under a key
MS_PER_DAY = 86_400_000


def counts(scale: float = 1.0) -> dict[str, int]:
    """Documents per collection at `scale`; a scaled collection keeps at least one."""
    return {m.source: max(1, round(COUNTS[m.name][0] * scale)) if COUNTS[m.name][1] else COUNTS[m.name][0]
            for m in MODELS}


# --- byte columns and their BSON encoding --------------------------------------------------


@dataclass(frozen=True)
class Bytes:
    """One byte string per row: row i is `data[starts[i]:starts[i] + sizes[i]]`, empty when size 0.

    With `width`, every row is empty or `width` bytes starting at a multiple of it: rows of
    `data` seen as a (-1, width) matrix, copied as blocks rather than byte by byte.
    """

    data: np.ndarray  # uint8
    starts: np.ndarray  # int64
    sizes: np.ndarray  # int64
    width: int | None = None

    def __len__(self) -> int:
        return len(self.sizes)

    def take(self, rows: np.ndarray) -> Bytes:
        return Bytes(self.data, self.starts[rows], self.sizes[rows], self.width)

    def keep(self, rows: np.ndarray) -> Bytes:
        """The same strings where `rows` is true, empty elsewhere."""
        return Bytes(self.data, self.starts, np.where(rows, self.sizes, 0), self.width)


def pool(blobs: list[bytes]) -> Bytes:
    """The blobs as rows, to `take` from."""
    sizes = np.fromiter(map(len, blobs), np.int64, len(blobs))
    width = int(sizes[0]) if len(blobs) and sizes[0] and (sizes == sizes[0]).all() else None
    return Bytes(np.frombuffer(b"".join(blobs), np.uint8), _exclusive_sum(sizes), sizes, width)


def fixed(values: np.ndarray) -> Bytes:
    """Each value's bytes (e.g. a '<i4' array, or an (n, 12) uint8 matrix of ObjectIds)."""
    n = len(values)
    width = values.nbytes // n if n else 1
    data = np.ascontiguousarray(values).view(np.uint8).reshape(-1)
    return Bytes(data, np.arange(n, dtype=np.int64) * width, np.full(n, width, np.int64), width)


def constant(blob: bytes, n: int) -> Bytes:
    return Bytes(np.frombuffer(blob, np.uint8), np.zeros(n, np.int64), np.full(n, len(blob), np.int64), len(blob))


def concat_rows(parts: list[Bytes], sizes: np.ndarray | None = None) -> Bytes:
    """Row i of the result is row i of every part, one after the other, in one new buffer."""
    sizes = sum(p.sizes for p in parts) if sizes is None else sizes
    starts = _exclusive_sum(sizes)
    out = np.empty(int(sizes.sum()), np.uint8)
    at = starts.copy()
    for part in parts:
        _scatter(out, at, part)
        at += part.sizes
    return Bytes(out, starts, sizes)


def _scatter(out: np.ndarray, at: np.ndarray, part: Bytes) -> None:
    """Copy each non-empty row of `part` to `out[at[i]:]`, a cache-sized block of rows at a time."""
    rows = np.flatnonzero(part.sizes)
    if not len(rows):
        return
    sizes, starts, at = part.sizes[rows], part.starts[rows], at[rows]
    ends = np.cumsum(sizes)
    cuts = np.searchsorted(ends, np.arange(1, ends[-1] // BLOCK + 1) * BLOCK, side="right")
    bounds = np.unique(np.concatenate([[0], cuts, [len(rows)]]))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        _copy(out, at[lo:hi], part.data, starts[lo:hi], sizes[lo:hi], part.width)


def _copy(out: np.ndarray, at: np.ndarray, data: np.ndarray, starts: np.ndarray, sizes: np.ndarray,
          width: int | None) -> None:
    if width:  # whole rows of a (-1, width) matrix
        span = np.arange(width)
        out[at[:, None] + span] = data if data.size == width else data.reshape(-1, width)[starts // width]
        return
    before = _exclusive_sum(sizes)
    step = np.arange(int(sizes.sum()), dtype=np.int64)
    out[np.repeat(at - before, sizes) + step] = data[np.repeat(starts - before, sizes) + step]


def _exclusive_sum(sizes: np.ndarray) -> np.ndarray:
    starts = np.zeros(len(sizes), np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    return starts


Element = tuple[str, int, Bytes, np.ndarray | None]  # key, BSON type, values, states (None: all SET)


def documents(elements: list[Element], n: int) -> Bytes:
    """Encode n documents at once: int32 size, each element (type, key, NUL, value), NUL."""
    parts = []
    for key, kind, values, states in elements:
        name = key.encode() + b"\0"
        if states is None:
            parts += [constant(bytes([kind]) + name, n), values]
        else:
            header = pool([bytes([kind]) + name, bytes([bt.NULL]) + name]).take((states == NULLED).astype(np.int64))
            parts += [header.keep(states != ABSENT), values.keep(states == SET)]
    sizes = sum((p.sizes for p in parts), np.full(n, 5, np.int64))
    return concat_rows([fixed(sizes.astype("<i4")), *parts, constant(b"\0", n)], sizes)


def array(slots: list[tuple[int, Bytes]], lengths: np.ndarray) -> Bytes:
    """BSON arrays: row i holds the first lengths[i] slots (keys "0", "1", ...)."""
    return documents([(str(j), kind, values, np.where(j < lengths, SET, ABSENT).astype(np.uint8))
                      for j, (kind, values) in enumerate(slots)], len(lengths))


def bson_string(text: str) -> bytes:
    raw = text.encode()
    return (len(raw) + 1).to_bytes(4, "little") + raw + b"\0"


def string_values(text: Bytes) -> Bytes:
    """BSON string values (int32 size, UTF-8, NUL) of raw UTF-8 rows."""
    n = len(text)
    return concat_rows([fixed((text.sizes + 1).astype("<i4")), text, constant(b"\0", n)])


def decimal(values: np.ndarray) -> Bytes:
    """Non-negative integers as decimal ASCII."""
    width = 19  # int64 holds 19 digits
    digits = (values[:, None] // 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)) % 10
    sizes = 1 + sum((values >= 10 ** k).astype(np.int64) for k in range(1, width))
    starts = np.arange(len(values), dtype=np.int64) * width + width - sizes
    return Bytes((digits + ord("0")).astype(np.uint8).reshape(-1), starts, sizes)


# --- the collections: ids, junction arrays and value pools ----------------------------------


def _rng(seed: int, *words: str) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(w.encode()) for w in words)])


@dataclass
class Links:
    """A junction array on its owner's side: owner i holds `elements[offsets[i]:][:lengths[i]]`."""

    owner: str
    key: str
    target: str  # model whose ids the elements are
    lengths: np.ndarray
    offsets: np.ndarray
    elements: np.ndarray  # row numbers in the target


@dataclass
class World:
    """Everything one document may point at: each model's ids, creation times and junction arrays."""

    seed: int
    sizes: dict[str, int]
    ids: dict[str, Bytes] = field(default_factory=dict)  # model -> its ObjectIds, oldest first
    seconds: dict[str, np.ndarray] = field(default_factory=dict)
    links: dict[str, list[Links]] = field(default_factory=dict)
    pools: dict[tuple, Bytes | list[str]] = field(default_factory=dict)

    @classmethod
    def create(cls, seed: int, sizes: dict[str, int]) -> World:
        world = cls(seed, sizes)
        for number, model in enumerate(MODELS):
            world.seconds[model.name], world.ids[model.name] = _object_ids(
                _rng(seed, model.name, "ids"), sizes[model.source], number)
        for junction in JUNCTIONS:
            for links in _junction(_rng(seed, junction.table), junction, world):
                world.links.setdefault(links.owner, []).append(links)
        return world

    def values(self, model: str, name: str, size: int, make: Callable[[random.Random], str] | None = None) -> list[str]:
        """`size` realistic values of a text field, as `generate` makes them."""
        key = (model, name, size)
        if key not in self.pools:
            r = random.Random(f"{self.seed}:{model}:{name}:pool")
            make = make or _maker(model, name)
            self.pools[key] = [make(r) for _ in range(size)]
        return self.pools[key]

    def texts(self, model: str, name: str, size: int, make: Callable[[random.Random], str] | None = None) -> Bytes:
        """The same values as BSON strings, to pick from."""
        key = (model, name, size, "bson")
        if key not in self.pools:
            self.pools[key] = pool([bson_string(v) for v in self.values(model, name, size, make)])
        return self.pools[key]


def _maker(model: str, name: str) -> Callable[[random.Random], str]:
    """`generate._text`'s maker for a field, looked up once for a whole pool."""
    make = TEXT.get(f"{model}.{name}") or TEXT.get(name)
    make = make or next((m for part, m in PATTERNS if part in name.lower()), None)
    return make or (lambda r: r.choice(WORDS))


def _object_ids(rng: np.random.Generator, n: int, machine: int) -> tuple[np.ndarray, Bytes]:
    """n ascending ObjectIds created over 2019-2025: seconds, a 5-byte machine id, a counter."""
    if n >= 1 << 24:
        raise ValueError(f"{n} documents overflow the 3-byte ObjectId counter: use a smaller scale")
    seconds = np.sort(rng.integers(int(START.timestamp()), int(END.timestamp()), n))
    ids = np.empty((n, 12), np.uint8)
    ids[:, :4] = seconds.astype(">u4").view(np.uint8).reshape(n, 4)
    ids[:, 4] = machine  # one per collection, so no two collections share an id
    ids[:, 5:9] = rng.integers(0, 256, 4, dtype=np.uint8)
    ids[:, 9:] = np.arange(n, dtype=">u4").view(np.uint8).reshape(n, 4)[:, 1:]
    return seconds, fixed(ids)


def _junction(rng: np.random.Generator, junction: Junction, world: World) -> list[Links]:
    """Pairs where no document has more than 5 partners, each kept on one side, the other or both."""
    left, right = junction.left.model, junction.right.model
    slots = [np.repeat(np.arange(world.sizes[m]), rng.choice(len(LINKS), world.sizes[m], p=LINKS))
             for m in (left, right)]
    m = min(len(s) for s in slots)
    pairs = np.stack([rng.permutation(s)[:m] for s in slots])
    _, first = np.unique(pairs[0] * world.sizes[right] + pairs[1], return_index=True)
    pairs = pairs[:, np.sort(first)]
    side = rng.choice(3, pairs.shape[1], p=FEED_SIDES) if len(junction.feeds) == 2 else np.zeros(pairs.shape[1], int)
    out = []
    for number, feed in enumerate(junction.feeds):
        owner_is_left = feed.model == left
        kept = (side == number) | (side == 2)
        owners, elements = (pairs[0], pairs[1]) if owner_is_left else (pairs[1], pairs[0])
        owners, elements = owners[kept], elements[kept]
        order = np.argsort(owners, kind="stable")
        lengths = np.bincount(owners, minlength=world.sizes[feed.model]).astype(np.int64)
        out.append(Links(feed.model, feed.key, right if owner_is_left else left, lengths,
                         _exclusive_sum(lengths), elements[order]))
    return out


# --- values of one chunk of a collection ----------------------------------------------------


@dataclass
class Chunk:
    """Rows `start`..`stop` of a collection, with the generator drawing their values."""

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
        return self.world.seconds[self.model.name][self.start:self.stop]

    def older(self, target: str) -> Bytes:
        """Ids of `target` documents that existed when each document was created (any, if none did)."""
        pool_seconds = self.world.seconds[target]
        existing = np.searchsorted(pool_seconds, self.seconds, side="right")
        span = np.where(existing > 0, existing, len(pool_seconds))
        return self.world.ids[target].take((self.rng.random(self.n) * span).astype(np.int64))

    def picks(self, values: Bytes) -> Bytes:
        return values.take(self.rng.integers(0, len(values), self.n))

    def lengths(self, low: int, high: int) -> np.ndarray:
        return self.rng.integers(low, high + 1, self.n)


def _states(chunk: Chunk, f: Field) -> np.ndarray | None:
    """Per document: the value, null, or no key at all, as the declaration allows."""
    if f.required or f"{chunk.model.name}.{f.name}" in LINKED:
        return None
    shares = ABSENT_SHARES["list" if f.kind in LIST_KINDS else "optional" if f.optional else "defaulted"]
    roll = chunk.rng.random(chunk.n)
    return np.where(roll < shares[0], NULLED, np.where(roll < sum(shares), ABSENT, SET)).astype(np.uint8)


def _target(f: Field) -> str | None:
    return f.references.model if f.references else f.points_to


def _int(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    low, high = INT_RANGES.get(f.name, (0, 1000))
    return bt.INT32, fixed(chunk.rng.integers(low, high + 1, chunk.n).astype("<i4"))


def _bool(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    return bt.BOOL, fixed((chunk.rng.random(chunk.n) < TRUE_SHARE.get(f.name, 0.5)).astype(np.uint8))


def _datetime(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    """Milliseconds since 1970, some days after the document's creation."""
    low, high = DAYS_AFTER_CREATION.get(f.name, (0, 0))
    days = chunk.rng.uniform(low, high, chunk.n)
    ms = chunk.seconds * 1000 + (days * MS_PER_DAY).astype(np.int64) + chunk.rng.integers(0, 1000, chunk.n)
    return bt.DATETIME, fixed(ms.astype("<i8"))


def _text_values(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    size = min(POOL, max(chunk.world.sizes[chunk.model.source], 8))
    if not f.unique:
        return bt.STRING, chunk.picks(chunk.world.texts(chunk.model.name, f.name, size))
    # unique at any count: the document's number joins the value, as in generate
    values = chunk.world.values(chunk.model.name, f.name, size)
    local = pool([v.partition("@")[0].encode() for v in values])
    rest = pool([("".join(v.partition("@")[1:])).encode() for v in values])
    picks = chunk.rng.integers(0, size, chunk.n)
    number = decimal(np.arange(chunk.start, chunk.stop, dtype=np.int64))
    text = concat_rows([local.take(picks), constant(b".", chunk.n), number, rest.take(picks)])
    return bt.STRING, string_values(text)


def _enum(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    return bt.STRING, chunk.picks(pool([bson_string(v) for v in ENUMS[f.enum]]))


def _object_id(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    return bt.OBJECT_ID, chunk.older(_target(f))


def _id_list(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    """0-4 ids of the target; a small target repeats some, as sharing twice does."""
    slots = [(bt.OBJECT_ID, chunk.older(_target(f))) for _ in range(4)]
    return bt.ARRAY, array(slots, chunk.lengths(0, 4))


def _text_list(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    size = min(POOL, max(chunk.world.sizes[chunk.model.source], 8))
    values = (pool([bson_string(t) for t in TAGS]) if f.name == "tags"
              else chunk.world.texts(chunk.model.name, f.name, size))
    return bt.ARRAY, array([(bt.STRING, chunk.picks(values)) for _ in range(3)], chunk.lengths(0, 3))


def _tag_names(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    """Json ["vip", "q1"]."""
    tags = pool([bson_string(t) for t in TAGS])
    return bt.ARRAY, array([(bt.STRING, chunk.picks(tags)) for _ in range(3)], chunk.lengths(0, 3))


def _labels(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    """Json [{"name": "vip", "color": "#a1b2c3"}, ...]."""
    tags = pool([bson_string(t) for t in TAGS])
    colors = chunk.world.texts("json", "color", 64, lambda r: f"#{r.randbytes(3).hex()}")
    slots = [(bt.DOCUMENT, documents([("name", bt.STRING, chunk.picks(tags), None),
                                      ("color", bt.STRING, chunk.picks(colors), None)], chunk.n))
             for _ in range(3)]
    return bt.ARRAY, array(slots, chunk.lengths(1, 3))


def _invoice_items(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    """Json [{"description", "quantity", "unit_price", "vat_rate"}, ...]."""
    sentences = chunk.world.texts("json", "description", POOL, _sentence)
    rates = pool([r.to_bytes(4, "little") for r in (0, 12, 21)])

    def item() -> Bytes:
        price = np.round(chunk.rng.uniform(1, 10_000, chunk.n), 2)
        return documents([("description", bt.STRING, chunk.picks(sentences), None),
                          ("quantity", bt.INT32, fixed(chunk.rng.integers(1, 21, chunk.n).astype("<i4")), None),
                          ("unit_price", bt.DOUBLE, fixed(price.astype("<f8")), None),
                          ("vat_rate", bt.INT32, chunk.picks(rates), None)], chunk.n)

    return bt.ARRAY, array([(bt.DOCUMENT, item()) for _ in range(4)], chunk.lengths(1, 4))


JSON: dict[str, Callable[[Chunk, Field], tuple[int, Bytes]]] = {  # by "model.field", then field
    "crm_Accounts_Tasks.tags": _labels, "tags": _tag_names, "invoice_items": _invoice_items,
}
VALUES: dict[Kind, Callable[[Chunk, Field], tuple[int, Bytes]]] = {
    Kind.OBJECT_ID: _object_id, Kind.TEXT: _text_values, Kind.INT: _int, Kind.BOOL: _bool,
    Kind.DATETIME: _datetime, Kind.ENUM: _enum, Kind.TEXT_LIST: _text_list, Kind.UUID_LIST: _id_list,
    Kind.JSON: lambda chunk, f: JSON.get(f"{chunk.model.name}.{f.name}", JSON.get(f.name, _tag_names))(chunk, f),
}


def _feed(chunk: Chunk, links: Links) -> Element:
    """A junction array: the owner's 0-5 partners; an owner without any has [] or no key."""
    lengths = links.lengths[chunk.start:chunk.stop]
    offsets = links.offsets[chunk.start:chunk.stop]
    last = max(len(links.elements) - 1, 0)
    elements = links.elements if len(links.elements) else np.zeros(1, np.int64)
    slots = [(bt.OBJECT_ID, chunk.world.ids[links.target].take(elements[np.minimum(offsets + j, last)]))
             for j in range(len(LINKS) - 1)]
    states = np.where((lengths > 0) | (chunk.rng.random(chunk.n) < 0.5), SET, ABSENT).astype(np.uint8)
    return links.key, bt.ARRAY, array(slots, lengths), states


def encode_chunk(model: ModelSpec, start: int, stop: int, world: World) -> bytes | memoryview:
    """The BSON of documents `start`..`stop` of a collection, concatenated."""
    chunk = Chunk(model, start, stop, world, _rng(world.seed, model.name, str(start)))
    elements: list[Element] = [("_id", bt.OBJECT_ID, world.ids[model.name].take(np.arange(start, stop)), None)]
    for f in model.fields:
        if f.key != "_id":
            kind, values = VALUES[f.kind](chunk, f)
            elements.append((f.key, kind, values, _states(chunk, f)))
    elements += [_feed(chunk, links) for links in world.links.get(model.name, ())]
    return memoryview(documents(elements, chunk.n).data)


def large(scale: float = 1.0, seed: int = 7, *, dump_out: Path, db: str = "nextcrm") -> dict[str, int]:
    """Write `dump_out/<db>/<collection>.bson` + metadata for every collection; return the counts."""
    sizes = counts(scale)
    world = World.create(seed, sizes)
    folder = Path(dump_out) / db
    folder.mkdir(parents=True, exist_ok=True)
    for model in MODELS:
        with (folder / f"{model.source}.bson").open("wb") as fh:
            for start in range(0, sizes[model.source], CHUNK):
                fh.write(encode_chunk(model, start, min(start + CHUNK, sizes[model.source]), world))
        (folder / f"{model.source}.metadata.json").write_text(json.dumps(dump_metadata(model.source)))
    return sizes
