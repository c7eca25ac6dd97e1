"""Which rows of a table are the migration's: those holding ids of the source's documents, and,
where records are compared, any row whose id has the form the migration gives ids (a wrong row of
its own). A junction's pair is the migration's when the load recorded writing it (`m2pg.owned_<table>`):
the app may link two migrated rows itself. Rows someone else wrote into the app's tables are
counted apart, neither loaded nor wrong.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from toolkit.declarations.spec import Junction
from toolkit.documents.ids import uuid_array, uuid_text_array
from toolkit.stages.verify.source import Collection, Loaded, Quarantine
from toolkit.target.preflight import owned_table
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


def recorded(conn, j: Junction) -> bool:
    """Whether the target keeps the load's record of the junction's pairs (else a pair whose both
    ends are the migration's counts as its own)."""
    (found,) = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [owned_table(j.table)]).fetchone()
    return found


def _owner_query(j: Junction, select: str) -> str:
    """DuckDB SQL running `select` in PostgreSQL over the junction's pairs `t`, each beside its
    record `o` if the load wrote it: PostgreSQL looks them up with its own keys, and DuckDB holds
    none of the records."""
    left, right = quote(j.left.column), quote(j.right.column)
    query = (
        f"SELECT {select} FROM {quote(j.table)} t LEFT JOIN {owned_table(j.table)} o "
        f"ON o.{left} = t.{left} AND o.{right} = t.{right}"
    )
    return f"postgres_query('pg', {literal(query)})"


def migration_pairs(con, j: Junction) -> tuple[int, int]:
    """(pairs of the table the load recorded writing, the other pairs)."""
    column = quote(j.left.column)
    counted = f"count(o.{column}) AS loaded, count(*) AS total"
    loaded, total = con.execute(f"SELECT * FROM {_owner_query(j, counted)}").fetchone()
    return loaded, total - loaded


def pairs_with_owner(j: Junction) -> str:
    """DuckDB SQL of the junction's pairs (l, r) and whether the load recorded writing each (mine)."""
    left, right = quote(j.left.column), quote(j.right.column)
    select = f"t.{left} AS l, t.{right} AS r, o.{left} IS NOT NULL AS mine"
    return f"(SELECT CAST(l AS UUID) AS l, CAST(r AS UUID) AS r, mine FROM {_owner_query(j, select)})"


def source_ids(found: Collection, quarantine: Quarantine) -> pa.Array:
    """UUIDs of the source's documents, expected or quarantined: a row holding another id is not
    the migration's."""
    quarantined = pl.Series(sorted(quarantine.object_ids), dtype=pl.String).str.decode("hex")
    return pa.concat_arrays([_in_slices(uuid_text_array, found.rows["id"]), uuid_array(quarantined)])


def junction_ends(j: Junction, loaded_ids: Loaded) -> dict[str, pa.Array]:
    """Per column of a junction, the UUIDs a pair of the migration's holds there."""
    return {side.column: _in_slices(uuid_array, loaded_ids.raw(side.model)) for side in (j.left, j.right)}


def _in_slices(convert, ids: pl.Series) -> pa.Array:
    """`convert` applied IDS_AT_ONCE ids at a time: its byte matrices are a few times the ids' size."""
    starts = range(0, max(len(ids), 1), IDS_AT_ONCE)
    return pa.concat_arrays([convert(ids.slice(start, IDS_AT_ONCE)) for start in starts])
