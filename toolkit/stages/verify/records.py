"""Layer 2, records: the expected rows against PostgreSQL's, field by field. A seeded sample
through psycopg, or every row through per-row hashes in DuckDB; junctions always in full."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import polars as pl
import pyarrow as pa

from toolkit.declarations.spec import Junction, Kind, ModelSpec
from toolkit.documents.ids import object_id_of, uuid_array
from toolkit.stages.verify.compare import as_text, canonical_sql, pg_select, same, show
from toolkit.stages.verify.failures import Failures
from toolkit.stages.verify.oracle import canonical_json
from toolkit.stages.verify.ownership import object_id_shaped, registered_ids
from toolkit.target.schema import literal, quote

SLICE = 10_000  # expected rows compared at a time: larger slices hold more and gain little


def sample_records(conn, model: ModelSpec, chosen: pl.DataFrame, seed: int, fails: Failures) -> dict:
    """Compare a seeded random sample of expected rows (`chosen`) with PostgreSQL, field by field."""
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


def full_records(
    con, model: ModelSpec, slices: Callable[[], Iterable[pl.DataFrame]], owned: pa.Array, fails: Failures
) -> dict:
    """Every row: canonical text per column and a 64-bit hash of them per row on both sides (a
    differing row escapes only if its hashes collide: 2^-64), joined on id. The
    expected rows come a slice at a time (`slices()` gives them all, again at each call); only
    ids and hashes are kept, and the cells are read again for the rows whose hashes differ. A row
    whose id is none of the source's documents' (`owned`) nor of the migration's form is another's:
    counted apart."""
    names = [f"c{i}" for i in range(len(model.fields))]
    row_hash = f"hash({', '.join(names)}) AS m2pg_hash"

    def canonical(side: str) -> str:
        return ", ".join(
            f"{canonical_sql(f, quote(f.name), side)} AS {n}" for f, n in zip(model.fields, names, strict=False)
        )

    expected = f"(SELECT _object_id AS m2pg_oid, {canonical('expected')} FROM m2pg_expected)"
    loaded = f"(SELECT {canonical('pg')} FROM postgres_query('pg', {literal('SELECT ' + pg_select(model))}))"
    ours = f"(CAST(c0 AS UUID) IN {registered_ids(con, 'm2pg_owned', owned)} OR {object_id_shaped('c0')})"
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE m2pg_e (m2pg_oid VARCHAR, c0 VARCHAR, m2pg_hash UBIGINT)")
        for part in slices():
            con.register("m2pg_expected", part.to_arrow())
            con.execute(f"INSERT INTO m2pg_e SELECT m2pg_oid, c0, {row_hash} FROM {expected}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE m2pg_a AS SELECT c0, {row_hash} FROM {loaded}")  # by PostgreSQL
        missing = con.execute("SELECT m2pg_oid FROM m2pg_e ANTI JOIN m2pg_a USING (c0) ORDER BY 1").fetchall()
        extra = con.execute(f"SELECT c0 FROM m2pg_a ANTI JOIN m2pg_e USING (c0) WHERE {ours} ORDER BY 1").fetchall()
        (other,) = con.execute(f"SELECT count(*) FROM m2pg_a WHERE NOT ({ours})").fetchone()
        con.execute(
            "CREATE OR REPLACE TEMP TABLE m2pg_d AS SELECT c0 FROM m2pg_e e JOIN m2pg_a a USING (c0) "
            "WHERE e.m2pg_hash <> a.m2pg_hash"
        )
        (compared,) = con.execute("SELECT count(*) FROM m2pg_e SEMI JOIN m2pg_a USING (c0)").fetchone()
        (differing,) = con.execute("SELECT count(*) FROM m2pg_d").fetchone()
        cells = ", ".join(
            f"{{'field': {literal(f.name)}, 'expected': e.{n}, 'actual': a.{n}}}"
            for f, n in zip(model.fields, names, strict=False)
        )
        diff = []
        if differing:  # the differing rows' expected cells, the only rows read whole
            ids = [i for (i,) in con.execute("SELECT c0 FROM m2pg_d").fetchall()]
            con.register(
                "m2pg_expected", pl.concat(part.filter(pl.col("id").is_in(ids)) for part in slices()).to_arrow()
            )
            diff = con.execute(
                f"SELECT object_id, id, d.field, d.expected, d.actual FROM ("
                f"SELECT e.m2pg_oid AS object_id, e.c0 AS id, unnest([{cells}]) AS d "
                f"FROM (FROM {expected} SEMI JOIN m2pg_d USING (c0)) e "
                f"JOIN (FROM {loaded} SEMI JOIN m2pg_d USING (c0)) a ON a.c0 = e.c0) "
                f"WHERE d.expected IS DISTINCT FROM d.actual ORDER BY object_id, d.field"
            ).fetchall()
    finally:
        con.unregister("m2pg_expected")
        con.unregister("m2pg_owned")
        con.execute("DROP TABLE IF EXISTS m2pg_e; DROP TABLE IF EXISTS m2pg_a; DROP TABLE IF EXISTS m2pg_d")
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


def junction_records(con, j: Junction, expected: pl.DataFrame, ends: dict[str, pa.Array], fails: Failures) -> dict:
    """Pairs are cheap: every junction is compared in full, in either mode, as UUIDs on both
    sides. A pair with an end that is neither a loaded source document (`ends`) nor of the
    migration's form is another's: counted apart."""
    left, right = j.left.column, j.right.column
    pairs = pa.table({"l": uuid_array(expected[left]), "r": uuid_array(expected[right])})
    con.register("m2pg_pairs", pairs)
    ours = (
        f"(l IN {registered_ids(con, 'm2pg_left', ends[left])} OR {object_id_shaped('CAST(l AS VARCHAR)')}) "
        f"AND (r IN {registered_ids(con, 'm2pg_right', ends[right])} OR {object_id_shaped('CAST(r AS VARCHAR)')})"
    )
    try:
        actual = (
            f"(SELECT CAST({quote(left)} AS UUID) AS l, CAST({quote(right)} AS UUID) AS r FROM pg.{quote(j.table)})"
        )
        missing = con.execute(
            "SELECT CAST(l AS VARCHAR), CAST(r AS VARCHAR) FROM m2pg_pairs ANTI JOIN "
            f"{actual} USING (l, r) ORDER BY l, r"
        ).fetchall()
        extra = con.execute(
            f"SELECT CAST(l AS VARCHAR), CAST(r AS VARCHAR) FROM {actual} ANTI JOIN m2pg_pairs USING (l, r) "
            f"WHERE {ours} ORDER BY l, r"
        ).fetchall()
        (other,) = con.execute(f"SELECT count(*) FROM {actual} WHERE NOT ({ours})").fetchone()
    finally:
        for name in ("m2pg_pairs", "m2pg_left", "m2pg_right"):
            con.unregister(name)
    missing = [(object_id_of(a), object_id_of(b)) for a, b in missing]
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
