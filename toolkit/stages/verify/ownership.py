"""Which rows of a table are the migration's: those holding ids of the source's documents, and
any other row the load recorded writing (`m2pg.owned_<table>`; in a target without that record,
a row whose id has the form the migration gives ids): a stale or wrong row of its own. A
junction's pair is the migration's when the load recorded writing it or the source holds it: the
app may link two migrated rows itself. Rows someone else wrote into the app's tables are counted
apart, neither loaded nor wrong.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from toolkit.declarations.spec import Junction
from toolkit.documents.ids import uuid_array, uuid_text_array
from toolkit.stages.verify.source import Collection, Loaded, Quarantine
from toolkit.target.preflight import owned_table, with_owner
from toolkit.target.schema import literal, quote

IDS_AT_ONCE = 1 << 15  # ids converted to UUIDs at a time


def registered_ids(con, name: str, ids: pa.Array) -> str:
    """Register `ids` (Arrow's uuid type) in DuckDB as `name`; returns SQL selecting them."""
    con.register(name, pa.table({"id": ids}))
    return f"(SELECT id FROM {name})"


def object_id_shaped(column: str) -> str:
    """DuckDB: whether a UUID (lowercase text) has the form the migration gives ids (toolkit.documents.ids:
    version 7, whole seconds, 10 zero bits). Such a row that no source document names is a wrong
    row of the migration; an id of any other form was written by someone else."""
    return (
        f"(substr({column}, 15, 1) = '7' AND substr({column}, 20, 1) IN ('8', '9', 'a', 'b') "
        f"AND right({column}, 2) = '00' AND substr({column}, 34, 1) IN ('0', '4', '8', 'c') "
        f"AND CAST('0x' || substr({column}, 1, 8) || substr({column}, 10, 4) AS BIGINT) % 1000 = 0)"
    )


def migration_rows(con, table: str, ends: dict[str, pa.Array]) -> tuple[int, int]:
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


def model_rows(con, table: str, expected: pa.Array, quarantined: pa.Array, recorded: bool) -> dict[str, int]:
    """The table's rows by whose they are: `loaded` (ids of the `expected` documents),
    `quarantined_rows` (ids of documents only `quarantined`), `stale_rows` (written by the migration,
    of documents no longer in the source) and `other_rows`. `recorded`: whether the target keeps
    the load's record of its rows; without it a row whose id has the migration's form counts as
    written by it."""
    if recorded:
        query = with_owner(table, ["id"], "t.id, o.id IS NOT NULL AS mine")
        rows, mine = f"postgres_query('pg', {literal(query)})", "t.mine"
    else:
        rows, mine = f"pg.{quote(table)}", object_id_shaped("CAST(t.id AS VARCHAR)")
    try:
        e, q = (
            registered_ids(con, "m2pg_expected_ids", expected),
            registered_ids(con, "m2pg_quarantined_ids", quarantined),
        )
        loaded, held, stale, total = con.execute(
            f"SELECT count(*) FILTER (WHERE t.id IN {e}), count(*) FILTER (WHERE t.id IN {q} AND t.id NOT IN {e}), "
            f"count(*) FILTER (WHERE t.id NOT IN {e} AND t.id NOT IN {q} AND {mine}), count(*) FROM {rows} AS t"
        ).fetchone()
    finally:
        con.unregister("m2pg_expected_ids")
        con.unregister("m2pg_quarantined_ids")
    return {
        "loaded": loaded,
        "quarantined_rows": held,
        "stale_rows": stale,
        "other_rows": total - loaded - held - stale,
    }


def recorded(conn, table: str) -> bool:
    """Whether the target keeps the load's record of the rows it wrote into `table` (else a row
    whose ids have the migration's form counts as its own)."""
    (found,) = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [owned_table(table)]).fetchone()
    return found


def _owner_query(j: Junction, select: str, where: str = "") -> str:
    """DuckDB SQL running `select` in PostgreSQL over the junction's pairs `t`, each beside its
    record `o` if the load wrote it: DuckDB holds none of the records."""
    query = with_owner(j.table, [j.left.column, j.right.column], select, where)
    return f"postgres_query('pg', {literal(query)})"


def expected_pairs(j: Junction, expected: pl.DataFrame) -> pa.Table:
    """The pairs a migration of the source holds, as UUIDs (l, r)."""
    return pa.table({"l": uuid_array(expected[j.left.column]), "r": uuid_array(expected[j.right.column])})


def migration_pairs(con, j: Junction, expected: pl.DataFrame) -> tuple[int, int]:
    """(pairs of the table the load recorded writing or the source holds, the other pairs). A pair
    the app wrote that the source then also held is the source's: the load found it there."""
    left, right = quote(j.left.column), quote(j.right.column)
    counted = f"count(o.{left}) AS recorded, count(*) AS total"
    recorded, total = con.execute(f"SELECT * FROM {_owner_query(j, counted)}").fetchone()
    unrecorded = _owner_query(j, f"t.{left} AS l, t.{right} AS r", f" WHERE o.{left} IS NULL")
    con.register("m2pg_pairs", expected_pairs(j, expected))
    try:
        (held,) = con.execute(
            f"SELECT count(*) FROM (SELECT CAST(l AS UUID) AS l, CAST(r AS UUID) AS r FROM {unrecorded}) "
            "SEMI JOIN m2pg_pairs USING (l, r)"
        ).fetchone()
    finally:
        con.unregister("m2pg_pairs")
    return recorded + held, total - recorded - held


def pairs_with_owner(j: Junction) -> str:
    """DuckDB SQL of the junction's pairs (l, r) and whether the load recorded writing each (mine)."""
    left, right = quote(j.left.column), quote(j.right.column)
    select = f"t.{left} AS l, t.{right} AS r, o.{left} IS NOT NULL AS mine"
    return f"(SELECT CAST(l AS UUID) AS l, CAST(r AS UUID) AS r, mine FROM {_owner_query(j, select)})"


def expected_ids(found: Collection) -> pa.Array:
    """UUIDs of the source's documents a migration loads."""
    return _in_slices(uuid_text_array, found.rows["id"])


def quarantined_ids(quarantine: Quarantine) -> pa.Array:
    """UUIDs of the source's quarantined documents: a row of one is the migration's, and wrong."""
    return uuid_array(pl.Series(sorted(quarantine.object_ids), dtype=pl.String).str.decode("hex"))


def junction_ends(j: Junction, loaded_ids: Loaded) -> dict[str, pa.Array]:
    """Per column of a junction, the UUIDs a pair of the migration's holds there."""
    return {side.column: _in_slices(uuid_array, loaded_ids.raw(side.model)) for side in (j.left, j.right)}


def _in_slices(convert, ids: pl.Series) -> pa.Array:
    """`convert` applied IDS_AT_ONCE ids at a time: its byte matrices are a few times the ids' size."""
    starts = range(0, max(len(ids), 1), IDS_AT_ONCE)
    return pa.concat_arrays([convert(ids.slice(start, IDS_AT_ONCE)) for start in starts])
