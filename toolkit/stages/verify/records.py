"""Layer 2, records: the expected rows against PostgreSQL's, field by field. A seeded sample
through psycopg, or every row through per-row hashes in DuckDB; junctions always in full."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import polars as pl

from toolkit.declarations.spec import Junction, Kind, ModelSpec
from toolkit.documents.ids import object_id_of
from toolkit.runtime.sizes import PART_BYTES
from toolkit.sources.readers import spans
from toolkit.stages.verify.compare import as_text, canonical_sql, difference, pg_select, same
from toolkit.stages.verify.failures import Failures
from toolkit.stages.verify.oracle import canonical_json
from toolkit.stages.verify.ownership import expected_pairs, object_id_shaped, pairs_with_owner
from toolkit.target.preflight import owned_table
from toolkit.target.schema import literal, quote

SLICE = 5_000  # expected rows compared at a time: larger slices hold more and gain little
ID = quote("id")


def sample_records(conn, model: ModelSpec, chosen: Iterable[pl.DataFrame], seed: int, fails: Failures) -> dict:
    """Compare a seeded random sample of expected rows (`chosen`, a few at a time) with
    PostgreSQL, field by field, fetching PostgreSQL's rows about PART_BYTES at a time (a sample
    may hold rows of megabytes)."""
    differences, compared = [], 0
    for batch in (part for rows in chosen for part in byte_slices(rows, PART_BYTES)):
        compared += batch.height
        fetched = conn.execute(f"SELECT {pg_select(model)} WHERE id = ANY(%s::uuid[])", [batch["id"].to_list()])
        found = {row[0]: row for row in fetched.fetchall()}
        for expected in batch.iter_rows(named=True):
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
        del fetched, found
    return {
        "mode": "sample",
        "compared": compared,
        "seed": seed,
        "differences": _differences(model, differences, fails),
    }


def byte_slices(rows: pl.DataFrame, budget: int) -> Iterator[pl.DataFrame]:
    """Consecutive slices of `rows` whose text and bytes come to about `budget` (one row at least)."""
    lengths = [pl.col(c).str.len_bytes() for c, t in rows.schema.items() if t == pl.String]
    lengths += [pl.col(c).bin.size() for c, t in rows.schema.items() if t == pl.Binary]
    sizes = rows.select(pl.sum_horizontal([x.fill_null(0) for x in lengths] + [pl.lit(0)])).to_series()
    for start, stop in spans(sizes.to_numpy(), 0, rows.height, budget):
        yield rows.slice(start, stop - start)


def _differences(model: ModelSpec, rows, fails: Failures) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=["object_id", "id", "field", "expected", "actual"], orient="row")
    kinds = {f.name: f.kind for f in model.fields}
    for object_id, _, name, expected, actual in frame.iter_rows():
        fails.add(
            "records",
            model.table,
            difference(kinds[name], expected, actual),
            object_id=object_id,
            field=name,
        )
    return frame


def full_records(
    con,
    model: ModelSpec,
    slices: Callable[[], Iterable[pl.DataFrame]],
    fails: Failures,
    ranges: Sequence[tuple[str | None, str | None]] = ((None, None),),
    recorded: bool = False,
) -> dict:
    """Every row: canonical text per column and a 64-bit hash of them per row on both sides (a
    differing row escapes only if its hashes collide: 2^-64), joined on id. The expected rows
    come a slice at a time (`slices()` gives them all, again at each call) and only their ids (16
    bytes) and hashes are kept; PostgreSQL's rows stream past them in one join that keeps only
    the rows that are not equal, and the cells are read again for the rows whose hashes differ.
    A row no expected row names is a wrong row of the migration when the load recorded writing
    it (`recorded`: the target keeps the record), or, without a record, when its id has the
    migration's form (as every source document's has); another's otherwise: counted apart. PostgreSQL's
    rows are read once per range of ids in `ranges` (see `id_ranges`): rows of megabytes are
    then not read thousands at a time."""
    names = [f"c{i}" for i in range(len(model.fields))]
    keyed = f"CAST(c0 AS UUID) AS m2pg_id, hash({', '.join(names)}) AS m2pg_hash"

    def canonical(side: str) -> str:
        return ", ".join(
            f"{canonical_sql(f, quote(f.name), side)} AS {n}" for f, n in zip(model.fields, names, strict=False)
        )

    expected = f"(SELECT _object_id AS m2pg_oid, {canonical('expected')} FROM m2pg_expected)"

    def loaded(low: str | None, high: str | None) -> str:
        bounds = [f"{ID} >= {literal(low)}::uuid" if low else "", f"{ID} < {literal(high)}::uuid" if high else ""]
        where = " AND ".join(filter(None, bounds))
        query = f"SELECT {pg_select(model)}{' WHERE ' + where if where else ''}"
        return f"(SELECT {canonical('pg')} FROM postgres_query('pg', {literal(query)}))"

    unequal = (
        "SELECT e.m2pg_id AS expected_id, CAST(a.m2pg_id AS VARCHAR) AS actual_id "
        "FROM m2pg_a a FULL JOIN m2pg_e e ON a.m2pg_id = e.m2pg_id "
        "WHERE a.m2pg_hash IS DISTINCT FROM e.m2pg_hash"
    )
    ours = object_id_shaped("actual_id")
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE m2pg_e (m2pg_id UUID, m2pg_hash UBIGINT)")
        for part in slices():
            con.register("m2pg_expected", part.to_arrow())
            con.execute(f"INSERT INTO m2pg_e SELECT {keyed} FROM {expected}")
        (expected_rows,) = con.execute("SELECT count(*) FROM m2pg_e").fetchone()
        con.execute("CREATE OR REPLACE TEMP TABLE m2pg_a (m2pg_id UUID, m2pg_hash UBIGINT)")
        for low, high in ranges:  # PostgreSQL's rows read once
            con.execute(f"INSERT INTO m2pg_a SELECT {keyed} FROM {loaded(low, high)}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE m2pg_x AS {unequal}")
        if recorded and con.execute("SELECT count(*) FROM m2pg_x WHERE expected_id IS NULL").fetchone()[0]:
            owned = literal(f"SELECT id FROM {owned_table(model.table)}")
            con.execute(f"CREATE OR REPLACE TEMP TABLE m2pg_o AS SELECT id FROM postgres_query('pg', {owned})")
            ours = "CAST(actual_id AS UUID) IN (SELECT id FROM m2pg_o)"
        missing = con.execute("SELECT expected_id FROM m2pg_x WHERE actual_id IS NULL").fetchall()
        extra = con.execute(f"SELECT actual_id FROM m2pg_x WHERE expected_id IS NULL AND {ours} ORDER BY 1").fetchall()
        (other,) = con.execute(f"SELECT count(*) FROM m2pg_x WHERE expected_id IS NULL AND NOT {ours}").fetchone()
        con.execute(
            "CREATE OR REPLACE TEMP TABLE m2pg_d AS SELECT actual_id AS c0 FROM m2pg_x "
            "WHERE expected_id IS NOT NULL AND actual_id IS NOT NULL"
        )
        (differing,) = con.execute("SELECT count(*) FROM m2pg_d").fetchone()
        compared = expected_rows - len(missing)
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
            for number, (low, high) in enumerate(ranges):  # PostgreSQL's differing rows, range by range
                into = "CREATE OR REPLACE TEMP TABLE m2pg_l AS" if number == 0 else "INSERT INTO m2pg_l"
                con.execute(f"{into} FROM {loaded(low, high)} SEMI JOIN m2pg_d USING (c0)")
            diff = con.execute(
                f"SELECT object_id, id, d.field, d.expected, d.actual FROM ("
                f"SELECT e.m2pg_oid AS object_id, e.c0 AS id, unnest([{cells}]) AS d "
                f"FROM (FROM {expected} SEMI JOIN m2pg_d USING (c0)) e "
                f"JOIN m2pg_l a ON a.c0 = e.c0) "
                f"WHERE d.expected IS DISTINCT FROM d.actual ORDER BY object_id, d.field"
            ).fetchall()
    finally:
        con.unregister("m2pg_expected")
        con.execute(
            " ".join(f"DROP TABLE IF EXISTS {t};" for t in ("m2pg_e", "m2pg_a", "m2pg_x", "m2pg_d", "m2pg_l", "m2pg_o"))
        )
    missing = sorted(object_id_of(str(uuid)) for (uuid,) in missing)  # the expected ids are all of that form
    for object_id in missing:
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


def junction_records(con, j: Junction, expected: pl.DataFrame, recorded: bool, fails: Failures) -> dict:
    """Pairs are cheap: every junction is compared in full, in either mode, as UUIDs on both
    sides. A pair with an end not of the migration's form (which every source document's id has)
    is another's: counted apart."""
    left, right = j.left.column, j.right.column
    con.register("m2pg_pairs", expected_pairs(j, expected))
    if recorded:  # the load's record says whose a pair is
        actual = pairs_with_owner(j)
    else:
        a, b = f"t.{quote(left)}", f"t.{quote(right)}"
        mine = " AND ".join(object_id_shaped(f"CAST({column} AS VARCHAR)") for column in (a, b))
        actual = f"(SELECT CAST({a} AS UUID) AS l, CAST({b} AS UUID) AS r, ({mine}) AS mine FROM pg.{quote(j.table)} t)"
    try:  # PostgreSQL's pairs read once, against the expected ones: only the pairs on one side alone kept
        con.execute(
            "CREATE OR REPLACE TEMP TABLE m2pg_x AS SELECT CAST(e.l AS VARCHAR) AS el, CAST(e.r AS VARCHAR) AS er, "
            f"CAST(a.l AS VARCHAR) AS l, CAST(a.r AS VARCHAR) AS r, a.mine FROM {actual} a FULL JOIN m2pg_pairs e "
            "ON a.l = e.l AND a.r = e.r WHERE a.l IS NULL OR e.l IS NULL"
        )
        missing = con.execute("SELECT el, er FROM m2pg_x WHERE l IS NULL ORDER BY el, er").fetchall()
        extra = con.execute("SELECT l, r FROM m2pg_x WHERE el IS NULL AND mine ORDER BY l, r").fetchall()
        (other,) = con.execute("SELECT count(*) FROM m2pg_x WHERE el IS NULL AND NOT mine").fetchone()
    finally:
        con.unregister("m2pg_pairs")
        con.execute("DROP TABLE IF EXISTS m2pg_x")
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
