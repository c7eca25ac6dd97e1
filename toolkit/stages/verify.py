"""Verify: the source, read again, against the live PostgreSQL database, in four layers.

Independent of the transform: every source document is mapped to the row it should have become
by a small per-kind oracle over the declarations (the quarantine only says which documents are
expected absent), then PostgreSQL is checked against it: counts, records (a seeded sample, or
every row through per-row hashes in DuckDB), referential integrity, and types. The source is
streamed one collection at a time; only ids and junction pairs outlive their collection.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

import bson
import duckdb
import numpy as np
import polars as pl
import psycopg
import pyarrow as pa
from bson import ObjectId
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.datetime_ms import DatetimeMS
from bson.json_util import RELAXED_JSON_OPTIONS, dumps
from duckdb.func import PythonUDFType

from toolkit.declarations.app import App
from toolkit.declarations.kinds import KINDS
from toolkit.declarations.limits import APP_DATETIME_MS, INT32
from toolkit.declarations.spec import LIST_KINDS, NOW, Field, Junction, Kind, ModelSpec
from toolkit.documents import index as bt
from toolkit.documents.dates import iso_date
from toolkit.documents.decode import MALFORMED, document_text
from toolkit.documents.ids import object_id_of, uuid_for, uuids_of
from toolkit.runtime.errors import ConfigError
from toolkit.runtime.progress import tracked
from toolkit.runtime.redact import redact, scrub
from toolkit.staging.layout import Staging, checked_all, write_json
from toolkit.target import duck
from toolkit.target.schema import COLUMNS_SQL, catalog_precision, catalog_type, quote

MS: CodecOptions = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_MS)  # dates never become datetimes
CHUNK = 5_000  # documents per source chunk
LAYERS = ("counts", "records", "integrity", "types")
LIMIT = 1_000  # failures named per table and layer in the report (counts stay exact)
SAMPLES = 5  # examples given for informational findings
HOUR, QUARTER_HOUR = 3_600_000, 900_000


# --- The oracle: one source document -> the row it should be -------------------------------


class Unloadable(Exception):
    """A value no row can hold: its document should have been quarantined."""


def canonical_json(text: str | None) -> str | None:
    """One spelling per JSON value: keys sorted, no spaces, numbers by value (jsonb's equality)."""
    if text is None:
        return None
    return _canonical(json.loads(text, parse_float=Decimal, parse_int=Decimal))


def _canonical(value) -> str:
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_canonical(v)}" for k, v in sorted(value.items()))
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(map(_canonical, value)) + "]"
    if isinstance(value, Decimal):
        return "0" if value == 0 else str(value.normalize())
    return json.dumps(value, ensure_ascii=False)


def _checked(ok, convert):
    def apply(value):
        if not ok(value):
            raise Unloadable(f"a BSON {type(value).__name__}")
        return convert(value)

    return apply


def _int(value) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise Unloadable(f"the fraction {value}")
    number = int(value)
    if not INT32[0] <= number <= INT32[1]:
        raise Unloadable(f"{number}, outside integer")
    return number


def _millis(value: DatetimeMS) -> int:
    ms = int(value)
    if not APP_DATETIME_MS[0] <= ms <= APP_DATETIME_MS[1]:
        raise Unloadable(f"{iso_date(ms)}, outside the dates the app's client reads")
    return ms


def _is_int(value) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value == value and abs(value) != float("inf")
    )


def _all(kind: type):
    return lambda v: isinstance(v, list) and all(x is None or isinstance(x, kind) for x in v)


CONVERT = {
    Kind.OBJECT_ID: _checked(lambda v: isinstance(v, ObjectId), str),  # hex; a UUID once resolved
    Kind.TEXT: _checked(lambda v: isinstance(v, str), str),
    Kind.ENUM: _checked(lambda v: isinstance(v, str), str),
    Kind.INT: _checked(_is_int, _int),
    Kind.BOOL: _checked(lambda v: isinstance(v, bool), bool),
    Kind.DATETIME: _checked(lambda v: isinstance(v, DatetimeMS), _millis),
    Kind.JSON: lambda v: canonical_json(dumps(v, json_options=RELAXED_JSON_OPTIONS)),
    Kind.TEXT_LIST: _checked(_all(str), list),
    Kind.UUID_LIST: _checked(
        lambda v: isinstance(v, list) and all(isinstance(x, ObjectId) for x in v),
        lambda v: [uuid_for(str(x)) for x in v],
    ),  # a null element: the app reads ids only
}


def expected_value(f: Field, document: dict, object_id: str):
    """The declared field's value as loaded: defaults, NULLs and empty lists as the README says."""
    if f.key == "_id":
        return uuid_for(object_id)
    value = document.get(f.key)
    if value is None:
        if f.kind in LIST_KINDS:
            return []
        if f.optional or f.default is None:
            return None
        return int(object_id[:8], 16) * 1000 if f.default == NOW else f.default
    try:
        return CONVERT[f.kind](value)
    except Unloadable as why:
        raise Unloadable(f"{f.name}: {f.kind} field holds {why}") from None


# --- Reading the source ---------------------------------------------------------------------

REPEATED_ID = "repeats the _id of an earlier document"  # the quarantine reason of a later copy of an _id


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
    unnamed = (pl.col("object_id").is_null() & pl.col("source_id").is_null()) | pl.col("rule").is_in(MALFORMED)
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
    """Each source document: its bytes, and the document decoded (None when the strict walk
    refuses its bytes: the migration must have quarantined them, whatever they hold)."""
    for chunk in source.chunks(collection, CHUNK):
        starts, ends = bt.document_bounds(chunk)
        malformed = bt.defects(chunk, starts, ends)[0] != bt.WELL_FORMED
        view = memoryview(chunk)
        decoded = iter(bson.decode_all(chunk, MS)) if not malformed.any() else None
        for start, end, bad in zip(starts.tolist(), ends.tolist(), malformed.tolist(), strict=False):
            raw = view[start:end]
            yield raw, (next(decoded) if decoded else None if bad else bson.decode(bytes(raw), MS))


class Accounting:
    """What the migration must have done with each source document, as they stream by in
    source order: a repeated `_id` loads its first copy and quarantines the others."""

    def __init__(self, quarantine: Quarantine) -> None:
        self.quarantine, self.copies = quarantine, Counter[str]()

    def judge(self, raw, document: dict | None) -> tuple[str, dict]:
        """("quarantined" | "expected" | "missing", the ids naming it and why it cannot load)."""
        q = self.quarantine
        if document is None or "_id" not in document:  # known by its text alone
            text = document_text(bytes(raw))
            why = "malformed BSON" if document is None else "document has no _id"
            return ("quarantined" if text in q.documents else "missing"), {"problem": why}
        if not isinstance(document["_id"], ObjectId):
            source_id = dumps(document["_id"], json_options=RELAXED_JSON_OPTIONS)
            return ("quarantined" if source_id in q.source_ids else "missing"), {
                "source_id": source_id,
                "problem": "_id is not an ObjectId",
            }
        oid = str(document["_id"])
        copy = self.copies[oid]
        self.copies[oid] += 1
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
    pairs: dict[str, pl.DataFrame] = field(default_factory=dict)  # feed key -> owner, other (hex)


def read_collection(source, model: ModelSpec, quarantine: Quarantine, feeds: tuple[str, ...]) -> Collection:
    """Stream the collection, keeping only the rows expected in PostgreSQL."""
    columns: dict[str, list] = {f.name: [] for f in model.fields} | {"_object_id": []}
    pairs: dict[str, tuple[list, list]] = {key: ([], []) for key in feeds}
    out = Collection(pl.DataFrame())
    accounting = Accounting(quarantine)
    for raw, document in source_documents(source, model.source):
        out.documents += 1
        verdict, where = accounting.judge(raw, document)
        if verdict == "quarantined":
            out.quarantined += 1
            continue
        if verdict == "missing":
            out.unloadable.append(where)
            continue
        oid = where["object_id"]
        try:
            row = [expected_value(f, document, oid) for f in model.fields]
        except Unloadable as why:
            out.unloadable.append({"object_id": oid, "problem": str(why)})
            continue
        for f, value in zip(model.fields, row, strict=False):
            columns[f.name].append(value)
        columns["_object_id"].append(oid)
        for key in feeds:
            others = document.get(key)
            for other in others if isinstance(others, list) else ():
                if isinstance(other, ObjectId):
                    pairs[key][0].append(oid)
                    pairs[key][1].append(str(other))
    schema = {f.name: KINDS[f.kind].read_dtype for f in model.fields} | {"_object_id": pl.String}
    out.rows = pl.DataFrame(columns, schema=schema)
    out.pairs = {
        key: pl.DataFrame({"owner": o, "other": t}, schema={"owner": pl.String, "other": pl.String})
        for key, (o, t) in pairs.items()
    }
    return out


class Loaded:
    """ObjectIds (hex) expected in each table; a target not read yet is scanned for its ids."""

    def __init__(self, source, staging: Staging, models) -> None:
        self.source, self.staging = source, staging
        self.models = {m.name: m for m in models}
        self.ids: dict[str, pl.Series] = {}

    def of(self, name: str) -> pl.Series:
        if name not in self.ids:
            model = self.models[name]
            accounting = Accounting(read_quarantine(self.staging, model.source))
            verdicts = (accounting.judge(raw, d) for raw, d in source_documents(self.source, model.source))
            self.ids[name] = pl.Series(
                [where["object_id"] for verdict, where in verdicts if verdict == "expected"], dtype=pl.String
            )
        return self.ids[name]


def resolve(rows: pl.DataFrame, model: ModelSpec, loaded: Loaded) -> tuple[pl.DataFrame, dict[str, int]]:
    """ObjectIds -> UUIDs; an optional reference whose target is not loaded becomes NULL."""
    nulled, columns = {}, []
    for f in model.fields:
        if f.kind is not Kind.OBJECT_ID or f.key == "_id":
            continue
        hexes = rows[f.name]
        if f.references:
            known = hexes.is_in(loaded.of(f.references.model).implode())
            nulled[f.name] = int((hexes.is_not_null() & ~known).sum())
            hexes = pl.select(pl.when(known).then(hexes)).to_series().alias(f.name)
        columns.append(uuids_of(hexes))
    return rows.with_columns(columns), {k: v for k, v in nulled.items() if v}


def junction_pairs(
    j: Junction, pairs: dict[tuple[str, str], pl.DataFrame], loaded: Loaded
) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Distinct pairs (hex, left and right columns) named by any feed whose both ends are loaded."""
    by_feed = {}
    for feed in j.feeds:
        owner, other = j.side_of(feed.model)
        frame = pairs.get((feed.model, feed.key), pl.DataFrame(schema={"owner": pl.String, "other": pl.String}))
        frame = frame.rename({"owner": owner.column, "other": other.column}).select(j.left.column, j.right.column)
        both = pl.col(j.left.column).is_in(loaded.of(j.left.model).implode()) & pl.col(j.right.column).is_in(
            loaded.of(j.right.model).implode()
        )
        by_feed[f"{feed.model}.{feed.key}"] = frame.filter(both).unique()
    return pl.concat(by_feed.values()).unique().sort(j.left.column, j.right.column), by_feed


# --- Failures -------------------------------------------------------------------------------


class Failures:
    """Every failure, by layer and table; the first LIMIT of each are kept with their details."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, str], list[dict]] = {}
        self.counts: Counter = Counter()

    def add(self, layer: str, table: str, problem: str, **where) -> None:
        self.counts[layer, table] += 1
        kept = self.kept.setdefault((layer, table), [])
        if len(kept) < LIMIT:
            kept.append({k: v for k, v in where.items() if v is not None} | {"problem": problem})

    def of(self, layer: str, table: str) -> dict:
        count = self.counts[layer, table]
        return {
            "status": "fail" if count else "pass",
            "failure_count": count,
            "failures": self.kept.get((layer, table), []),
        }


def show(value: str | None, kind: Kind | None = None, width: int = 80) -> str:
    """A canonical value for a reader: cut when long, timestamps also as a date (any year)."""
    if value is None:
        return "NULL"
    if kind is Kind.DATETIME:
        return f"{value} ms ({np.datetime64(int(value), 'ms')})"
    text = repr(value)
    return text if len(text) <= width else f"{text[:width]}… ({len(value)} characters)"


# --- Layer 1: counts ------------------------------------------------------------------------


def registered_ids(con, name: str, ids: pl.Series) -> str:
    """Register `ids` (UUID text) in DuckDB as `name`; returns SQL selecting them as UUIDs."""
    con.register(name, pl.DataFrame({"id": ids.unique()}, schema={"id": pl.String}).to_arrow())
    return f"(SELECT CAST(id AS UUID) FROM {name})"


def object_id_shaped(column: str) -> str:
    """DuckDB: whether a UUID (lowercase text) has the form the migration gives ids (toolkit.documents.ids:
    version 7, whole seconds, 10 zero bits). Such a row that no source document names is a wrong
    row of the migration; an id of any other form was written by someone else."""
    return (
        f"(substr({column}, 15, 1) = '7' AND substr({column}, 20, 1) IN ('8', '9', 'a', 'b') "
        f"AND right({column}, 2) = '00' AND substr({column}, 34, 1) IN ('0', '4', '8', 'c') "
        f"AND CAST('0x' || substr({column}, 1, 8) || substr({column}, 10, 4) AS BIGINT) % 1000 = 0)"
    )


def migration_rows(con, table: str, ends: dict[str, pl.Series]) -> tuple[int, int]:
    """(rows whose `ends` columns all hold UUIDs of the source's documents, the other rows):
    rows someone else wrote into the app's tables are counted apart, not as loaded."""
    names = {column: f"m2pg_owned_{n}" for n, column in enumerate(ends)}
    ours = " AND ".join(f"t.{quote(c)} IN {registered_ids(con, names[c], ids)}" for c, ids in ends.items())
    try:
        loaded, total = con.execute(
            f"SELECT count(*) FILTER (WHERE {ours}), count(*) FROM pg.{quote(table)} AS t"
        ).fetchone()
    finally:
        for name in names.values():
            con.unregister(name)
    return loaded, total - loaded


def source_ids(found: Collection, quarantine: Quarantine) -> pl.Series:
    """UUIDs of the source's documents, expected or quarantined: a row holding another id is not
    the migration's."""
    return pl.concat([found.rows["id"], uuids_of(pl.Series(sorted(quarantine.object_ids), dtype=pl.String))])


def junction_ends(j: Junction, loaded_ids: Loaded) -> dict[str, pl.Series]:
    """Per column of a junction, the UUIDs a pair of the migration's holds there."""
    return {side.column: uuids_of(loaded_ids.of(side.model)) for side in (j.left, j.right)}


def count_model(con, model: ModelSpec, found: Collection, quarantine: Quarantine, fails: Failures) -> dict:
    loaded, other = migration_rows(con, model.table, {"id": source_ids(found, quarantine)})
    result = {
        "collection": model.source,
        "source": found.documents,
        "quarantined": found.quarantined,
        "expected": found.rows.height,
        "loaded": loaded,
        "other_rows": other,
        "quarantine_rows_without_source": quarantine.rows - found.quarantined,
    }
    if found.documents != loaded + found.quarantined:
        fails.add(
            "counts", model.table, f"source {found.documents} != loaded {loaded} + quarantined {found.quarantined}"
        )
    for doc in found.unloadable:
        fails.add(
            "counts",
            model.table,
            f"not quarantined, yet cannot be loaded: {doc['problem']}",
            object_id=doc.get("object_id"),
            source_id=doc.get("source_id"),
        )
    return result


def count_junction(
    con, j: Junction, expected: pl.DataFrame, by_feed: dict, loaded_ids: Loaded, fails: Failures
) -> dict:
    loaded, other = migration_rows(con, j.table, junction_ends(j, loaded_ids))
    if loaded != expected.height:
        fails.add("counts", j.table, f"expected {expected.height} pairs (distinct, both ends loaded), found {loaded}")
    return {
        "expected": expected.height,
        "loaded": loaded,
        "other_rows": other,
        "pairs_by_feed": {k: v.height for k, v in by_feed.items()},
    }


# --- Layer 2: records -----------------------------------------------------------------------


def pg_value(f: Field) -> str:
    """How PostgreSQL hands a column over: timestamps as epoch ms (years < 1 and > 9999 exist)."""
    return KINDS[f.kind].read.format(quote(f.name))


def pg_select(model: ModelSpec) -> str:
    return ", ".join(f"{pg_value(f)} AS {quote(f.name)}" for f in model.fields) + f" FROM {quote(model.table)}"


def same(kind: Kind, expected, actual) -> bool:
    """Type-aware equality: 1 is not true, '1' is not 1, arrays compare in order."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if kind in LIST_KINDS:
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(type(a) is type(e) and a == e for a, e in zip(actual, expected, strict=False))
        )
    return type(expected) is type(actual) and expected == actual


def as_text(kind: Kind, value) -> str | None:
    """A value in the canonical text the full comparison hashes."""
    if value is None:
        return None
    if kind in LIST_KINDS:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if kind is Kind.BOOL:
        return "true" if value else "false"
    return str(value)


def sample_records(conn, model: ModelSpec, rows: pl.DataFrame, size: int, seed: int, fails: Failures) -> dict:
    """Compare a seeded random sample of expected rows with PostgreSQL, field by field."""
    chosen = rows.sample(n=min(size, rows.height), seed=seed)
    fetched = conn.execute(f"SELECT {pg_select(model)} WHERE id = ANY(%s::uuid[])", [chosen["id"].to_list()])
    found = {row[0]: row for row in fetched.fetchall()}
    differences = []
    for expected in chosen.iter_rows(named=True):
        actual = found.get(expected["id"])
        if actual is None:
            fails.add("records", model.table, "missing in PostgreSQL", object_id=expected["_object_id"])
            continue
        for f, value in zip(model.fields, actual, strict=False):
            value = canonical_json(value) if f.kind is Kind.JSON else value
            if not same(f.kind, expected[f.name], value):
                differences.append(
                    (
                        expected["_object_id"],
                        expected["id"],
                        f.name,
                        as_text(f.kind, expected[f.name]),
                        as_text(f.kind, value),
                    )
                )
    return {
        "mode": "sample",
        "compared": chosen.height,
        "seed": seed,
        "differences": _differences(model, differences, fails),
    }


def _differences(model: ModelSpec, rows, fails: Failures) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=["object_id", "id", "field", "expected", "actual"], orient="row")
    kinds = {f.name: f.kind for f in model.fields}
    for object_id, _, name, expected, actual in frame.iter_rows():
        fails.add(
            "records",
            model.table,
            f"expected {show(expected, kinds[name])}, found {show(actual, kinds[name])}",
            object_id=object_id,
            field=name,
        )
    return frame


def canonical_sql(f: Field, column: str, side: str) -> str:
    """DuckDB: a column as the canonical text both sides share (JSON: the expected side already is)."""
    if f.kind in LIST_KINDS:
        return f"CAST(to_json({column}) AS VARCHAR)"
    if f.kind is Kind.JSON and side == "pg":
        return f"m2pg_canonical_json({column})"
    return f"CAST({column} AS VARCHAR)"


def _canonical_arrow(texts: pa.Array) -> pa.Array:
    return pa.array([canonical_json(t) for t in texts.to_pylist()], pa.string())


def full_records(con, model: ModelSpec, rows: pl.DataFrame, owned: pl.Series, fails: Failures) -> dict:
    """Every row: canonical text per column and an md5 per row on both sides, joined on id. A row
    whose id is none of the source's documents' (`owned`) nor of the migration's form is another's:
    counted apart."""
    names = [f"c{i}" for i in range(len(model.fields))]
    row_hash = f"md5(CAST(to_json([{', '.join(names)}]) AS VARCHAR)) AS m2pg_hash"

    def canonical(side: str) -> str:
        return ", ".join(
            f"{canonical_sql(f, quote(f.name), side)} AS {n}" for f, n in zip(model.fields, names, strict=False)
        )

    con.register("m2pg_expected", rows.to_arrow())
    ours = f"(CAST(c0 AS UUID) IN {registered_ids(con, 'm2pg_owned', owned)} OR {object_id_shaped('c0')})"
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE m2pg_e AS SELECT *, {row_hash} FROM "
            f"(SELECT _object_id AS m2pg_oid, {canonical('expected')} FROM m2pg_expected)"
        )
        loaded = f"postgres_query('pg', {sql_literal('SELECT ' + pg_select(model))})"  # run by PostgreSQL
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE m2pg_a AS SELECT *, {row_hash} FROM (SELECT {canonical('pg')} FROM {loaded})"
        )
        missing = con.execute("SELECT m2pg_oid FROM m2pg_e ANTI JOIN m2pg_a USING (c0) ORDER BY 1").fetchall()
        extra = con.execute(f"SELECT c0 FROM m2pg_a ANTI JOIN m2pg_e USING (c0) WHERE {ours} ORDER BY 1").fetchall()
        (other,) = con.execute(f"SELECT count(*) FROM m2pg_a WHERE NOT ({ours})").fetchone()
        compared, differing = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE e.m2pg_hash <> a.m2pg_hash) FROM m2pg_e e JOIN m2pg_a a USING (c0)"
        ).fetchone()
        cells = ", ".join(
            f"{{'field': {sql_literal(f.name)}, 'expected': e.{n}, 'actual': a.{n}}}"
            for f, n in zip(model.fields, names, strict=False)
        )
        diff = con.execute(
            f"SELECT object_id, id, d.field, d.expected, d.actual FROM ("
            f"SELECT e.m2pg_oid AS object_id, e.c0 AS id, unnest([{cells}]) AS d "
            f"FROM m2pg_e e JOIN m2pg_a a ON a.c0 = e.c0 AND a.m2pg_hash <> e.m2pg_hash) "
            f"WHERE d.expected IS DISTINCT FROM d.actual ORDER BY object_id, d.field"
        ).fetchall()
    finally:
        con.unregister("m2pg_expected")
        con.unregister("m2pg_owned")
        con.execute("DROP TABLE IF EXISTS m2pg_e; DROP TABLE IF EXISTS m2pg_a")
    for (object_id,) in missing:
        fails.add("records", model.table, "missing in PostgreSQL", object_id=object_id)
    for (uuid,) in extra:
        fails.add(
            "records",
            model.table,
            "in PostgreSQL but not expected from the source",
            object_id=object_id_of(uuid),
            id=uuid,
        )
    return {
        "mode": "full",
        "compared": compared,
        "differing_rows": differing,
        "missing": len(missing),
        "extra": len(extra),
        "other_rows": other,
        "differences": _differences(model, diff, fails),
    }


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def junction_records(con, j: Junction, expected: pl.DataFrame, ends: dict[str, pl.Series], fails: Failures) -> dict:
    """Pairs are cheap: every junction is compared in full, in either mode. A pair with an end
    that is neither a loaded source document (`ends`) nor of the migration's form is another's:
    counted apart."""
    left, right = j.left.column, j.right.column
    pairs = expected.with_columns(l=uuids_of(expected[left]), r=uuids_of(expected[right]))
    con.register("m2pg_pairs", pairs.to_arrow())
    ours = (
        f"(CAST(l AS UUID) IN {registered_ids(con, 'm2pg_left', ends[left])} OR {object_id_shaped('l')}) "
        f"AND (CAST(r AS UUID) IN {registered_ids(con, 'm2pg_right', ends[right])} OR {object_id_shaped('r')})"
    )
    try:
        actual = (
            f"(SELECT CAST({quote(left)} AS VARCHAR) AS l, CAST({quote(right)} AS VARCHAR) AS r "
            f"FROM pg.{quote(j.table)})"
        )
        missing = con.execute(
            f"SELECT {quote(left)}, {quote(right)} FROM m2pg_pairs ANTI JOIN {actual} USING (l, r) ORDER BY 1, 2"
        ).fetchall()
        extra = con.execute(
            f"SELECT l, r FROM {actual} ANTI JOIN m2pg_pairs USING (l, r) WHERE {ours} ORDER BY 1, 2"
        ).fetchall()
        (other,) = con.execute(f"SELECT count(*) FROM {actual} WHERE NOT ({ours})").fetchone()
    finally:
        for name in ("m2pg_pairs", "m2pg_left", "m2pg_right"):
            con.unregister(name)
    for a, b in missing:
        fails.add("records", j.table, "pair missing in PostgreSQL", pair={left: a, right: b})
    for a, b in extra:
        fails.add(
            "records",
            j.table,
            "pair in PostgreSQL that no loaded source document names",
            pair={left: object_id_of(a), right: object_id_of(b)},
            ids={left: a, right: b},
        )
    return {
        "mode": "full",
        "compared": expected.height,
        "missing": len(missing),
        "extra": len(extra),
        "other_rows": other,
    }


# --- Layer 3: referential integrity ---------------------------------------------------------


def orphans(conn, table: str, where: str, target: str, column: str, label: str) -> tuple[int, list[str]]:
    """Rows of `table` whose `column` names no `target` row, with a few labels of them."""
    count, labels = conn.execute(
        f"SELECT count(*), (array_agg({label} ORDER BY {label}))[1:{LIMIT}] FROM {quote(table)} AS c "
        f"WHERE {where} NOT EXISTS (SELECT 1 FROM {quote(target)} AS t WHERE t.id = c.{quote(column)})"
    ).fetchone()
    return count, labels or []


def model_integrity(conn, model: ModelSpec, tables: dict[str, str], nulled: dict, fails: Failures) -> dict:
    found = {}
    for f in model.references:
        target = tables[f.parent.model]
        count, labels = orphans(
            conn,
            model.table,
            f"c.{quote(f.name)} IS NOT NULL AND",
            target,
            f.name,
            f"c.id::text || ' ' || c.{quote(f.name)}::text",
        )
        found[f.name] = count
        for label in labels:
            uuid, missing = label.split()
            fails.add(
                "integrity",
                model.table,
                f"orphan: names {target} {missing}, which does not exist",
                object_id=object_id_of(uuid),
                field=f.name,
            )
    return {"orphans": found, "references_nulled": nulled}


def junction_integrity(
    conn, j: Junction, tables: dict[str, str], by_feed: dict[str, pl.DataFrame], fails: Failures
) -> dict:
    found = {}
    for side in (j.left, j.right):
        count, labels = orphans(
            conn,
            j.table,
            "",
            tables[side.model],
            side.column,
            f"c.{quote(j.left.column)}::text || ' ' || c.{quote(j.right.column)}::text",
        )
        found[side.column] = count
        for label in labels:
            a, b = label.split()
            fails.add(
                "integrity",
                j.table,
                f"{side.column} names no {tables[side.model]} row",
                pair={j.left.column: object_id_of(a), j.right.column: object_id_of(b)},
                field=side.column,
            )
    return {"orphans": found, "one_sided": one_sided(j, by_feed)}


def one_sided(j: Junction, by_feed: dict[str, pl.DataFrame]) -> dict | None:
    """For a relation stored on both sides: the pairs only one side knew (informational)."""
    if len(by_feed) != 2:
        return None
    (a, first), (b, second) = by_feed.items()
    only = {
        a: first.join(second, on=[j.left.column, j.right.column], how="anti"),
        b: second.join(first, on=[j.left.column, j.right.column], how="anti"),
    }
    return {
        "count": sum(f.height for f in only.values()),
        "by_feed": {k: f.height for k, f in only.items()},
        "samples": [{"known_to": k, "pair": pair} for k, f in only.items() for pair in f.head(SAMPLES).to_dicts()],
    }


# --- Layer 4: types -------------------------------------------------------------------------


def with_precision(type_: str, precision: str | None) -> str:
    return type_ if precision is None else f"{type_} ({precision})"


def declared_type(f: Field) -> str:
    return with_precision(catalog_type(f), catalog_precision(f))


def live_columns(conn) -> dict[str, dict[str, str]]:
    columns: dict[str, dict[str, str]] = {}
    for table, column, type_, _array, _default, _nullable, precision in conn.execute(COLUMNS_SQL).fetchall():
        columns.setdefault(table, {})[column] = with_precision(type_, precision)
    return columns


JSON_TYPES = ("object", "array", "string", "number", "boolean", "null")


def measures(f: Field, enums: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, pl.Expr]]:
    """Whole-column profile: measure -> (PostgreSQL aggregate, the same over the expected rows)."""
    c, e = quote(f.name), pl.col(f.name)
    out = {"nulls": (f"count(*) - count({c})", e.null_count())}
    if f.kind is Kind.TEXT:
        out |= {
            "sum_length": (f"sum(length({c}))", e.str.len_chars().sum()),
            "max_length": (f"max(length({c}))", e.str.len_chars().max()),
        }
    elif f.kind is Kind.ENUM:
        out |= {
            f"count_{label}": (f"count(*) FILTER (WHERE {c}::text = {sql_literal(label)})", (e == label).sum())
            for label in enums[f.enum_name]
        }
    elif f.kind is Kind.INT:
        out |= {"sum": (f"sum({c})", e.sum()), "min": (f"min({c})", e.min()), "max": (f"max({c})", e.max())}
    elif f.kind is Kind.BOOL:
        out |= {"true": (f"count(*) FILTER (WHERE {c})", e.sum())}
    elif f.kind is Kind.DATETIME:
        ms = pg_value(f)
        out |= {
            "min_ms": (f"min({ms})", e.min()),
            "max_ms": (f"max({ms})", e.max()),
            "sum_ms": (f"sum({ms})", e.cast(pl.Int128).sum()),
        }
    elif f.kind in LIST_KINDS:
        out |= {"elements": (f"sum(cardinality({c}))", e.list.len().sum())}
    elif f.kind is Kind.JSON:
        shape = e.map_elements(json_shape, return_dtype=pl.Struct({"type": pl.String, "size": pl.Int64}))
        out |= {
            f"count_{t}": (
                f"count(*) FILTER (WHERE jsonb_typeof({c}) = '{t}')",
                (shape.struct.field("type") == t).sum(),
            )
            for t in JSON_TYPES
        }
        out["sum_size"] = (
            f"sum(CASE jsonb_typeof({c}) WHEN 'array' THEN jsonb_array_length({c}) "
            f"WHEN 'object' THEN (SELECT count(*) FROM jsonb_object_keys({c})) ELSE 0 END)",
            shape.struct.field("size").sum(),
        )
    return out


def json_shape(text: str) -> dict:
    value = json.loads(text)
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    kind = names.get(type(value), "number")
    return {"type": kind, "size": len(value) if kind in ("object", "array") else 0}


def _number(value) -> int | None:
    return None if value is None else int(value)


def profile(
    conn,
    model: ModelSpec,
    rows: pl.DataFrame,
    enums: dict[str, tuple[str, ...]],
    fails: Failures,
    only_expected: bool = False,
) -> dict:
    """Column profiles of the whole table on both sides; a truncation or shift changes them.
    Returns the source's profile; each measure PostgreSQL does not match is a failure. A table
    that also holds rows the app wrote is profiled over the expected rows' ids only."""
    plan = [
        (f, name, sql, expr) for f in model.fields if f.key != "_id" for name, (sql, expr) in measures(f, enums).items()
    ]
    if not plan:
        return {}
    where, params = (" WHERE id = ANY(%s::uuid[])", [rows["id"].to_list()]) if only_expected else ("", None)
    loaded = conn.execute(
        "SELECT " + ", ".join(p[2] for p in plan) + f" FROM {quote(model.table)}{where}", params
    ).fetchone()
    source = rows.select([p[3].alias(str(i)) for i, p in enumerate(plan)]).row(0)
    out: dict[str, dict] = {}
    sums = ("sum", "sum_length", "sum_ms", "sum_size", "elements")
    for (f, name, _, _), want, got in zip(plan, source, loaded, strict=False):
        want, got = _number(want), _number(got)
        if name in sums or name.startswith(("count_", "nulls", "true")):
            want, got = want or 0, got or 0
        out.setdefault(f.name, {})[name] = want
        if want != got:
            fails.add("types", model.table, f"column profile {name}: source {want}, loaded {got}", field=f.name)
    return out


def column_types(model: ModelSpec, live: dict[str, str] | None, fails: Failures) -> None:
    if live is None:
        fails.add("types", model.table, "table missing in PostgreSQL")
        return
    for f in model.fields:
        found = live.get(f.name)
        if found != declared_type(f):
            fails.add(
                "types",
                model.table,
                f"column has type {found or 'none (missing)'}, declared {declared_type(f)}",
                field=f.name,
            )


def enum_values(conn, model: ModelSpec, enums: dict[str, tuple[str, ...]], fails: Failures) -> None:
    for f in model.fields:
        if f.kind is Kind.ENUM:
            bad = conn.execute(
                f"SELECT {quote(f.name)}::text, count(*) FROM {quote(model.table)} "
                f"WHERE {quote(f.name)}::text <> ALL(%s) GROUP BY 1 ORDER BY 1",
                [list(enums[f.enum_name])],
            ).fetchall()
            for value, count in bad:
                fails.add("types", model.table, f"{count} value(s) {value!r} outside enum {f.enum}", field=f.name)


def date_values(conn, model: ModelSpec, fails: Failures) -> None:
    """DateTimes the app's client would read as Invalid Date, whatever wrote them."""
    for f in model.fields:
        if f.kind is Kind.DATETIME:
            ms = pg_value(f)
            outside, low, high = conn.execute(
                f"SELECT count(*), min({ms}), max({ms}) FROM {quote(model.table)} WHERE {ms} NOT BETWEEN %s AND %s",
                list(APP_DATETIME_MS),
            ).fetchone()
            if outside:
                fails.add(
                    "types",
                    model.table,
                    f"{outside} date(s) outside the app's range (from {iso_date(low)} to {iso_date(high)})",
                    field=f.name,
                )


def type_issue(kind: Kind, expected: str | None, actual: str | None) -> str | None:
    """What a differing value says about types: a time zone shift, a truncation, a lost element."""
    if expected is None or actual is None:
        return None
    if kind is Kind.DATETIME:
        shift = int(actual) - int(expected)
        if shift % QUARTER_HOUR == 0 and abs(shift) <= 14 * HOUR:
            return f"timestamp shifted by {shift / HOUR:+g} h (a time zone applied?)"
        return f"timestamp {actual} ms instead of {expected} ms"
    if kind in (Kind.TEXT, Kind.ENUM) and len(actual) < len(expected) and expected.startswith(actual):
        return f"text truncated from {len(expected)} to {len(actual)} characters"
    if kind is Kind.INT:
        return f"number {actual} instead of {expected}"
    if kind in LIST_KINDS:
        want, got = json.loads(expected), json.loads(actual)
        if len(want) != len(got):
            return f"array of {len(got)} elements instead of {len(want)}"
        if sorted(want, key=str) == sorted(got, key=str):
            return "array order changed"
    if kind is Kind.JSON and json_shape(expected) != json_shape(actual):
        want, got = json_shape(expected), json_shape(actual)
        return f"jsonb {got['type']} of {got['size']} instead of {want['type']} of {want['size']}"
    return None


def row_types(model: ModelSpec, differences: pl.DataFrame, fails: Failures) -> None:
    kinds = {f.name: f.kind for f in model.fields}
    for object_id, _, name, expected, actual in differences.iter_rows():
        issue = type_issue(kinds[name], expected, actual)
        if issue:
            fails.add("types", model.table, issue, object_id=object_id, field=name)


def model_types(
    conn,
    model: ModelSpec,
    enums: dict[str, tuple[str, ...]],
    rows: pl.DataFrame,
    live: dict[str, str] | None,
    differences: pl.DataFrame | None,
    full: bool,
    loaded: int | None,
    other_rows: int | None,
    fails: Failures,
) -> dict:
    """Declared column types and enum labels; each differing value classified; in sample mode,
    whole-column profiles of the migration's rows stand in for the rows the sample did not reach."""
    column_types(model, live, fails)
    if differences is not None:
        row_types(model, differences, fails)
    if live is None:
        return {}
    model = replace(model, fields=tuple(f for f in model.fields if live.get(f.name) == declared_type(f)))
    enum_values(conn, model, enums, fails)
    date_values(conn, model, fails)
    if full:
        return {"profile": "not needed: every value was compared"}
    if loaded != rows.height:
        return {
            "profile": f"not compared: PostgreSQL holds {loaded} of the migration's rows, {rows.height} "
            "expected (see counts)"
        }
    return {"profile": profile(conn, model, rows, enums, fails, only_expected=bool(other_rows))}


def junction_types(j: Junction, live: dict[str, str] | None, fails: Failures) -> None:
    if live is None:
        fails.add("types", j.table, "table missing in PostgreSQL")
        return
    for side in (j.left, j.right):
        found = live.get(side.column)
        if found != "uuid":
            fails.add(
                "types", j.table, f"column has type {found or 'none (missing)'}, declared uuid", field=side.column
            )


# --- The run --------------------------------------------------------------------------------


def connect(pg_uri: str):
    try:
        conn = psycopg.connect(pg_uri, autocommit=True)
    except psycopg.Error as error:
        raise ConfigError(
            f"cannot connect to PostgreSQL at {redact(pg_uri)}: {scrub(str(error), pg_uri).strip()}",
            stage="verify",
            hint="check --pg-uri (or M2PG_PG_URI)",
        ) from None
    conn.execute("SET default_transaction_read_only = on")
    return conn


@dataclass
class Run:
    """One verification: the connections, its options, and what outlives a collection."""

    app: App
    source: object
    staging: Staging
    pg_uri: str
    conn: psycopg.Connection
    con: duckdb.DuckDBPyConnection
    full: bool
    sample: int
    seed: int
    live: dict[str, dict[str, str]]
    loaded: Loaded
    fails: Failures = field(default_factory=Failures)
    results: dict[str, dict] = field(default_factory=lambda: {layer: {} for layer in LAYERS})
    pairs: dict[tuple[str, str], pl.DataFrame] = field(default_factory=dict)  # (model, feed key) -> pairs
    kinds: dict[str, str] = field(default_factory=dict)
    totals: Counter = field(default_factory=Counter)
    tables: dict[str, str] = field(default_factory=dict)  # model name -> its table

    def check(self, layer: str, table: str, check, *args) -> dict:
        """Run one check; a database error (a missing table, a dropped column) fails it, named."""
        try:
            result = check(*args) or {}
        except (psycopg.Error, duckdb.Error) as error:
            message = scrub(str(error), self.pg_uri).strip().splitlines()[0]
            message = message.rsplit("ERROR:", 1)[-1].strip()  # DuckDB quotes the whole query before it
            self.fails.add(layer, table, f"cannot check: {message}")
            result = {"error": message}
        self.results[layer][table] = result
        return result


def check_model(run: Run, model: ModelSpec) -> None:
    """All four layers for one collection; its expected rows die with this call."""
    t, fails = model.table, run.fails
    run.kinds[t] = "model"
    quarantine = read_quarantine(run.staging, model.source)
    feeds = tuple(f.key for j in run.app.junctions for f in j.feeds if f.model == model.name)
    found = read_collection(run.source, model, quarantine, feeds)
    rows, nulled = resolve(found.rows, model, run.loaded)
    run.loaded.ids[model.name] = rows["_object_id"]
    run.pairs |= {(model.name, key): frame for key, frame in found.pairs.items()}
    run.totals.update(documents=found.documents, quarantined=found.quarantined, expected=rows.height)
    counts = run.check("counts", t, count_model, run.con, model, found, quarantine, fails)
    if run.full:
        records = run.check("records", t, full_records, run.con, model, rows, source_ids(found, quarantine), fails)
    else:
        records = run.check("records", t, sample_records, run.conn, model, rows, run.sample, run.seed, fails)
    differences = records.pop("differences", None)
    run.check("integrity", t, model_integrity, run.conn, model, run.tables, nulled, fails)
    run.check(
        "types",
        t,
        model_types,
        run.conn,
        model,
        run.app.enums,
        rows,
        run.live.get(t),
        differences,
        run.full,
        counts.get("loaded"),
        counts.get("other_rows"),
        fails,
    )


def check_junction(run: Run, j: Junction) -> None:
    t, fails = j.table, run.fails
    run.kinds[t] = "junction"
    expected, by_feed = junction_pairs(j, run.pairs, run.loaded)
    run.check("counts", t, count_junction, run.con, j, expected, by_feed, run.loaded, fails)
    run.check("records", t, junction_records, run.con, j, expected, junction_ends(j, run.loaded), fails)
    run.check("integrity", t, junction_integrity, run.conn, j, run.tables, by_feed, fails)
    run.check("types", t, junction_types, j, run.live.get(t), fails)


def verify(app: App, source, staging_root, pg_uri: str, sample: int = 100, full: bool = False, seed: int = 7) -> dict:
    """Compare the source with PostgreSQL; write reports/verify.json; return the report."""
    started = time.perf_counter()
    staging = Staging(Path(staging_root))
    with connect(pg_uri) as conn, duck.connect(pg_uri) as con:
        con.create_function("m2pg_canonical_json", _canonical_arrow, ["VARCHAR"], "VARCHAR", type=PythonUDFType.ARROW)
        run = Run(
            app,
            source,
            staging,
            pg_uri,
            conn,
            con,
            full,
            sample,
            seed,
            live_columns(conn),
            Loaded(source, staging, app.models),
            tables={m.name: m.table for m in app.models},
        )
        for model in tracked(app.models, "verify", lambda m: m.table):
            check_model(run, model)
        for j in tracked(app.junctions, "verify", lambda j: j.table):
            check_junction(run, j)
    report = assemble(run)
    report["summary"] |= {
        "mode": "full" if full else "sample",
        "sample": None if full else sample,
        "seed": seed,
        "source": source.describe(),
        "database": redact(pg_uri),
        "seconds": round(time.perf_counter() - started, 3),
    }
    write_json(report, staging.report("verify.json"))
    return report


def assemble(run: Run) -> dict:
    """Per layer and table: the measurements and the failures; then per table and overall."""
    fails, kinds, totals = run.fails, run.kinds, run.totals
    layers: dict[str, dict] = {}
    for layer in LAYERS:
        per_table = {t: result | fails.of(layer, t) for t, result in run.results[layer].items()}
        failing = [t for t, r in per_table.items() if r["status"] == "fail"]
        layers[layer] = {"status": "fail" if failing else "pass", "failing_tables": failing, "tables": per_table}
    tables = {
        t: {"kind": kind, **{layer: layers[layer]["tables"][t]["status"] for layer in LAYERS}}
        for t, kind in kinds.items()
    }
    for row in tables.values():
        row["status"] = "fail" if "fail" in (row[layer] for layer in LAYERS) else "pass"
    failed = [t for t, row in tables.items() if row["status"] == "fail"]
    summary = {
        "tables": len(tables),
        "failed_tables": failed,
        "failures": sum(fails.counts.values()),
        "layers": {layer: layers[layer]["status"] for layer in LAYERS},
        "documents": totals["documents"],
        "quarantined": totals["quarantined"],
        "expected_rows": totals["expected"],
        "limit_per_table": LIMIT,
    }
    return {"status": "fail" if failed else "pass", "summary": summary, "layers": layers, "tables": tables}
