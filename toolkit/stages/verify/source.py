"""The source, read again: the rows PostgreSQL must hold, collection by collection.

Streamed a chunk at a time and judged document by document against the quarantine transform
recorded (which documents are expected absent, nothing more); every value comes from the oracle.
What a collection holds is written to Parquet (its expected rows, its junction pairs, its counts)
for the jobs that check the tables, which read it back.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from bson import ObjectId
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.json_util import RELAXED_JSON_OPTIONS, dumps

from toolkit.declarations.kinds import KINDS
from toolkit.declarations.spec import Field, Junction, Kind, ModelSpec
from toolkit.documents import index as bt
from toolkit.documents.decode import KEPT_AS_BYTES, document_text
from toolkit.documents.ids import uuids_of
from toolkit.documents.lookup import pair_keys, pair_places, position
from toolkit.runtime.sizes import DECODED_BYTES, PART_BYTES
from toolkit.sources.readers import spans
from toolkit.stages.verify.oracle import Unloadable, row_reader
from toolkit.staging.layout import Staging, checked_all

MS: CodecOptions = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_MS)  # dates never become datetimes
CHUNK = 1_000  # documents per source chunk
DUCKDB_VECTOR = 2_048  # rows DuckDB reads from PostgreSQL at a time
RANGE_BYTES = PART_BYTES  # expected bytes of the rows read from PostgreSQL at once, when they are large
PAIRS = pa.schema({"owner": pa.binary(12), "other": pa.binary(12)})  # a junction's pairs as ObjectIds' bytes
REPEATED_ID = "repeats the _id of an earlier document"  # the quarantine reason of a later copy of an _id
MALFORMED_BSON = "malformed BSON"
REPEATED_KEY = "a top-level key appears more than once"


@dataclass(frozen=True)
class Quarantine:
    object_ids: frozenset[str]
    source_ids: frozenset[str]
    rows: int
    records: Counter = field(default_factory=Counter)  # ObjectId -> its quarantined records
    repeats: Counter = field(default_factory=Counter)  # ObjectId -> records of later copies of that _id
    documents: frozenset[str] = frozenset()  # the document text of records with no _id, or malformed bytes


def read_quarantine(staging: Staging, collection: str) -> Quarantine:
    parts = checked_all(staging.quarantine_parts(collection))  # as transform recorded them
    if not parts:
        return Quarantine(frozenset(), frozenset(), 0)
    frame = pl.read_parquet(parts, columns=["object_id", "source_id", "rule", "reason"])
    named = frame.filter(pl.col("object_id").is_not_null())
    unnamed = (pl.col("object_id").is_null() & pl.col("source_id").is_null()) | pl.col("rule").is_in(KEPT_AS_BYTES)
    documents = pl.scan_parquet(parts).filter(unnamed).select("document").collect()["document"]
    return Quarantine(
        frozenset(named["object_id"]),
        frozenset(frame.filter(pl.col("object_id").is_null())["source_id"].drop_nulls()),
        frame.height,
        Counter(named["object_id"].to_list()),
        Counter(named.filter(pl.col("reason").str.contains(REPEATED_ID, literal=True))["object_id"].to_list()),
        frozenset(documents.drop_nulls()),
    )


def source_documents(source, collection: str):
    """Each source document: its bytes, the document decoded, and why the migration must have
    quarantined it whatever it holds (None if nothing says so): bytes the strict walk refuses
    (the document is then None), or a top-level key that appears twice (the decoded document
    holds fewer keys than the walk counted elements)."""
    for chunk in source.chunks(collection, CHUNK, limit=DECODED_BYTES):
        for raw, document, elements in bt.decoded(chunk, MS):
            if document is None:
                yield raw, None, MALFORMED_BSON
            else:
                yield raw, document, (REPEATED_KEY if len(document) != elements else None)


class Accounting:
    """What the migration must have done with each source document, as they stream by in
    the source's `_id` order: a repeated `_id` loads its first copy and quarantines the others.
    The copies of an `_id` come one after another in that order, so only the last is remembered
    (a set of every `_id` seen would grow with the collection)."""

    def __init__(self, quarantine: Quarantine) -> None:
        self.quarantine, self.copy = quarantine, 0
        self.last: str | None = None

    def judge(self, raw, document: dict | None, refused: str | None = None) -> tuple[str, dict]:
        """("quarantined" | "expected" | "missing", the ids naming it and why it cannot load);
        `refused` says why the document cannot load whatever it holds."""
        q = self.quarantine
        if refused or document is None or "_id" not in document:  # known by its text alone
            text = document_text(bytes(raw))
            return ("quarantined" if text in q.documents else "missing"), {"problem": refused or "document has no _id"}
        if not isinstance(document["_id"], ObjectId):
            source_id = dumps(document["_id"], json_options=RELAXED_JSON_OPTIONS)
            return ("quarantined" if source_id in q.source_ids else "missing"), {
                "source_id": source_id,
                "problem": "_id is not an ObjectId",
            }
        oid = str(document["_id"])
        self.copy = self.copy + 1 if oid == self.last else 0
        self.last, copy = oid, self.copy
        if copy:
            return ("quarantined" if q.repeats[oid] >= copy else "missing"), {"object_id": oid, "problem": REPEATED_ID}
        return ("quarantined" if q.records[oid] > q.repeats[oid] else "expected"), {"object_id": oid}


@dataclass
class Collection:
    """One collection read from the source: its expected rows and what else it told us."""

    rows: pl.DataFrame  # declared columns (ObjectIds still hex) + _object_id
    documents: int = 0
    quarantined: int = 0
    unloadable: list[dict] = field(default_factory=list)  # neither loadable nor quarantined


def read_collection(source, model: ModelSpec, quarantine: Quarantine, feeds: tuple[str, ...], folder: Path) -> None:
    """Stream the collection into `folder`, keeping only the rows expected in PostgreSQL: Python
    values for CHUNK documents at a time, written as a Parquet row group, so that a collection
    of any size takes the memory of one chunk; its junction pairs the same way, and its counts."""
    schema = {f.name: KINDS[f.kind].read_dtype for f in model.fields} | {"_object_id": pl.String}
    read = row_reader(model.fields)
    buffer: list[list] = []
    held = 0  # the source bytes of the rows in `buffer`
    pairs: dict[str, tuple[list, list]] = {key: ([], []) for key in feeds}
    documents, quarantined, unloadable = 0, 0, []
    accounting = Accounting(quarantine)
    with ExitStack() as files:
        rows = files.enter_context(  # no dictionaries: a row group's size is then its values' (see id_ranges)
            pq.ParquetWriter(rows_file(folder, model.name), _frame([], schema).to_arrow().schema, use_dictionary=False)
        )
        pair_files = {
            key: files.enter_context(pq.ParquetWriter(pairs_file(folder, model.name, key), PAIRS)) for key in feeds
        }

        def flush() -> None:  # a row group per chunk that holds anything, rows and pairs alike
            nonlocal held
            if buffer:
                rows.write_table(_frame(buffer, schema).to_arrow())
            buffer.clear()
            held = 0
            for key, (owners, others) in pairs.items():
                if owners:
                    pair_files[key].write_table(pa.table([owners, others], schema=PAIRS))
                owners.clear()
                others.clear()

        for raw, document, refused in source_documents(source, model.source):
            if len(buffer) == CHUNK or held >= DECODED_BYTES:  # a few large documents are a chunk too
                flush()
            documents += 1
            verdict, where = accounting.judge(raw, document, refused)
            if verdict == "quarantined":
                quarantined += 1
                continue
            if verdict == "missing":
                unloadable.append(where)
                continue
            oid = where["object_id"]
            try:
                row = read(document, oid)
            except Unloadable as why:
                unloadable.append({"object_id": oid, "problem": str(why)})
                continue
            row.append(oid)
            buffer.append(row)
            held += len(raw)
            owner = document["_id"].binary
            for key in feeds:
                others = document.get(key)
                for other in others if isinstance(others, list) else ():
                    if isinstance(other, ObjectId):
                        pairs[key][0].append(owner)
                        pairs[key][1].append(other.binary)
        flush()
    totals = {"documents": documents, "quarantined": quarantined, "unloadable": unloadable}
    (folder / f"{model.name}.json").write_text(json.dumps(totals))


def rows_file(folder: Path, name: str) -> Path:
    """Where `read_collection` writes the rows expected of the model `name`."""
    return folder / f"{name}.rows.parquet"


def _frame(rows: list[list], schema: dict) -> pl.DataFrame:
    """Rows of plain values as a frame: Arrow builds lists of lists far faster than polars."""
    columns = zip(*rows, strict=True) if rows else ([] for _ in schema)
    arrays = {name: pa.array(values) for name, values in zip(schema, columns, strict=True)}
    return pl.DataFrame(pl.from_arrow(pa.table(arrays))).cast(schema)


def taken_over(folder: Path, name: str, columns: list[str] | None = None) -> Collection:
    """The collection `read_collection` wrote (its rows, or these columns of them), but its pairs
    (the junctions' checks read those)."""
    counts = json.loads((folder / f"{name}.json").read_text())
    return Collection(pl.read_parquet(rows_file(folder, name), columns=columns), **counts)


def resolved_slices(folder: Path, model: ModelSpec, loaded: Loaded, size: int) -> Iterator[pl.DataFrame]:
    """The rows `read_collection` wrote, `size` at a time and about PART_BYTES at most (whole row
    groups, one at least), resolved: a comparison of every row holds one slice of them (read by
    polars: Arrow's batch reader keeps far more than a batch)."""
    path = rows_file(folder, model.name)
    rows, meta = pl.scan_parquet(path), pq.read_metadata(path)
    for _, first, count in _runs(meta, PART_BYTES):
        for start in range(first, first + count, size):
            yield resolve(rows.slice(start, min(size, first + count - start)).collect(), model, loaded)


def id_ranges(folder: Path, model: ModelSpec) -> list[tuple[str | None, str | None]]:
    """Ranges of ids, [low, high) with None for no bound, in which PostgreSQL's rows are read
    for a full comparison: DuckDB reads DUCKDB_VECTOR rows at a time, so when that many rows of
    some stretch of the table would pass RANGE_BYTES (rows of megabytes), the table is read in
    ranges of about RANGE_BYTES each, cut at the ids that start the expected rows' row groups
    (written in `_id` order, which is the ids' order); otherwise in one read."""
    meta = pq.read_metadata(rows_file(folder, model.name))
    groups = [meta.row_group(g) for g in range(meta.num_row_groups)]
    if all(g.total_byte_size * DUCKDB_VECTOR <= RANGE_BYTES * max(g.num_rows, 1) for g in groups):
        return [(None, None)]
    column = meta.schema.to_arrow_schema().get_field_index("id")
    cuts = [groups[number].column(column).statistics.min for number, _, _ in _runs(meta, RANGE_BYTES)]
    bounds = [None, *sorted(set(cuts[1:])), None]  # sorted whatever the order: every id in one range
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _runs(meta: pq.FileMetaData, budget: int) -> list[tuple[int, int, int]]:
    """(first row group, first row, rows) of runs of consecutive row groups holding about
    `budget` bytes together (one group at least, however large): sized by each group, not by
    the file's average row, so that a stretch of large rows is not taken as many as small ones."""
    groups = [meta.row_group(g) for g in range(meta.num_row_groups)]
    firsts = np.cumsum([0, *(g.num_rows for g in groups)])  # each group's first row, then the total
    sizes = np.array([g.total_byte_size for g in groups], dtype=np.int64)
    runs = spans(sizes, 0, len(groups), budget)
    return [(start, int(firsts[start]), int(firsts[stop] - firsts[start])) for start, stop in runs]


def sampled_rows(
    folder: Path, model: ModelSpec, loaded: Loaded, height: int, size: int, seed: int
) -> Iterator[pl.DataFrame]:
    """A seeded random sample of `size` of the `height` rows `read_collection` wrote, resolved,
    in the file's order and about PART_BYTES at a time (a sample of rows of megabytes is not
    held whole); only the row groups holding a chosen row are read, one at a time, and only the
    chosen rows of each are kept: a sample costs what it takes, not a read of the whole collection."""
    chosen = pl.Series("m2pg_row", range(height), dtype=pl.UInt32).sample(n=min(size, height), seed=seed).sort()
    path = rows_file(folder, model.name)
    meta = pq.read_metadata(path)
    starts = pl.Series([meta.row_group(g).num_rows for g in range(meta.num_row_groups)], dtype=pl.UInt32).cum_sum()
    wanted = chosen.to_frame().with_columns(group=starts.search_sorted(chosen, side="right"))  # each row's group
    scan = pl.scan_parquet(path)
    picked: list[pl.DataFrame] = []
    held = 0
    for rows in wanted.partition_by("group", maintain_order=True):
        number = int(rows["group"][0])
        first = 0 if number == 0 else int(starts[number - 1])
        picked.append(scan.slice(first, int(starts[number]) - first).collect().gather(rows["m2pg_row"] - first))
        held += int(picked[-1].estimated_size())
        if held >= PART_BYTES:
            yield resolve(pl.concat(picked), model, loaded)
            picked, held = [], 0
    if picked:
        yield resolve(pl.concat(picked), model, loaded)


def expected_rows(folder: Path, model: ModelSpec, loaded: Loaded) -> pl.LazyFrame:
    """The rows `read_collection` wrote, scanned, with what `resolve` makes NULL made NULL (the
    references stay ObjectId hex: what column profiles measure of them is their nulls)."""
    return pl.scan_parquet(rows_file(folder, model.name)).with_columns(
        _loaded_or_null(f, loaded.of(f.parent.model)) for f in _references(model)
    )


def pairs_file(folder: Path, name: str, key: str) -> Path:
    """Where `read_collection` writes the pairs (owner, other) of the model `name`'s array `key`."""
    return folder / f"{name}.pairs.{key}.parquet"


def taken_over_pairs(folder: Path, name: str, key: str) -> pl.DataFrame:
    return pl.read_parquet(pairs_file(folder, name, key))


class Loaded:
    """ObjectIds (hex) expected in each table, as the read jobs handed them over (a check waits
    for the reads of every model it asks about)."""

    def __init__(self, handover: Path) -> None:
        self.handover = handover
        self.ids: dict[str, pl.Series] = {}
        self.raw_ids: dict[str, pl.Series] = {}

    def of(self, name: str) -> pl.Series:
        if name not in self.ids:
            self.ids[name] = self._read(name)
        return self.ids[name]

    def raw(self, name: str) -> pl.Series:
        """The same ObjectIds as their 12 bytes, as a junction's pairs hold them, sorted for
        binary searches (the text is not kept for this: a junction's check asks for the bytes
        alone)."""
        if name not in self.raw_ids:
            hexes = self.ids[name] if name in self.ids else self._read(name)
            self.raw_ids[name] = hexes.str.decode("hex").sort()
        return self.raw_ids[name]

    def forget(self) -> None:
        """Let go of what was read."""
        self.ids.clear()
        self.raw_ids.clear()

    def _read(self, name: str) -> pl.Series:
        return pl.read_parquet(rows_file(self.handover, name), columns=["_object_id"])["_object_id"]


def nulled_references(folder: Path, model: ModelSpec, loaded: Loaded) -> dict[str, int]:
    """`resolve`'s count of references that load as NULL, one reference column at a time."""
    nulled = {}
    for f in _references(model):
        column = pl.read_parquet(rows_file(folder, model.name), columns=[f.name])
        made_null = pl.col(f.name).is_not_null() & _loaded_or_null(f, loaded.of(f.parent.model)).is_null()
        nulled[f.name] = int(column.select(made_null.sum()).item())
    return {k: v for k, v in nulled.items() if v}


def resolve(rows: pl.DataFrame, model: ModelSpec, loaded: Loaded) -> pl.DataFrame:
    """ObjectIds -> UUIDs; an optional reference whose target is not loaded becomes NULL."""
    rows = rows.with_columns(
        _loaded_or_null(f, _among(rows[f.name], f.parent.model, loaded)) for f in _references(model)
    )
    return rows.with_columns(
        uuids_of(rows[f.name]) for f in model.fields if f.kind is Kind.OBJECT_ID and f.key != "_id"
    )


def _among(hexes: pl.Series, target: str, loaded: Loaded) -> pl.Series:
    """The target's loaded ObjectIds that `hexes` name: the smaller side is hashed, so a sample
    of a hundred rows does not build a set of a whole collection's ids."""
    ids = loaded.of(target)
    if hexes.len() < ids.len():
        return ids.filter(ids.is_in(hexes.drop_nulls().implode()))
    return ids


def _references(model: ModelSpec) -> list[Field]:
    """The model's ObjectId columns, but its own id, that name a document of another model."""
    return [f for f in model.fields if f.kind is Kind.OBJECT_ID and f.key != "_id" and f.references]


def _loaded_or_null(f: Field, ids: pl.Series) -> pl.Expr:
    """A reference column with each reference to a document not among `ids` (the target's loaded
    ones, or those of them the rows name) made NULL, as PostgreSQL holds it."""
    column = pl.col(f.name)
    return pl.when(column.is_in(ids.implode())).then(column).alias(f.name)


def junction_pairs(
    j: Junction, pairs: dict[tuple[str, str], pl.DataFrame], loaded: Loaded
) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Distinct pairs (ObjectIds' bytes, left and right columns) named by any feed whose both ends
    are loaded, sorted. Each end is found by binary search among its model's loaded ids
    (`Loaded.raw`, sorted), and a pair made distinct as one number (`pair_keys`): no hash table
    of a whole collection's ids, nor of pairs of bytes, is built."""
    ends = {side.column: loaded.raw(side.model) for side in (j.left, j.right)}

    def of(keys: pl.Series) -> pl.DataFrame:
        return pl.DataFrame({c: ends[c].gather(at) for c, at in zip(ends, pair_places(keys), strict=True)})

    by_feed, every = {}, []
    for feed in j.feeds:
        owner, other = j.side_of(feed.model)
        frame = pairs.get((feed.model, feed.key), pl.DataFrame(schema={"owner": pl.Binary, "other": pl.Binary}))
        frame = frame.rename({"owner": owner.column, "other": other.column})
        left, right = (position(frame[c], ends[c]) for c in ends)
        both = left.is_not_null() & right.is_not_null()
        keys = pair_keys(left.filter(both), right.filter(both)).sort().unique(maintain_order=True)
        by_feed[f"{feed.model}.{feed.key}"] = of(keys)
        every.append(keys)
    return of(pl.concat(every).sort().unique(maintain_order=True)), by_feed
