"""Exactly-once loading, checked after any stop: every table holds exactly the rows the load
ledger records for it, no staged row is recorded twice, and the load report agrees.

The final database alone cannot show this: ON CONFLICT DO NOTHING repairs a batch whose rows
were committed without its ledger row, and only the ledger then tells the wrong story.
"""
from pathlib import Path

import psycopg
import pyarrow.parquet as pq

from toolkit.load import LEDGER
from toolkit.staging import Staging, read_json
from transforms import JUNCTIONS, MODELS

TABLES = [m.table for m in MODELS] + [j.table for j in JUNCTIONS]


def ledger(uri: str) -> dict[str, dict[str, int]]:
    """Table -> batches, rows and rows inserted, as the ledger records them (none before a load)."""
    with psycopg.connect(uri) as conn:
        if conn.execute("SELECT to_regclass(%s)", [LEDGER]).fetchone()[0] is None:
            return {}
        repeated = conn.execute(f"SELECT table_name, digest FROM {LEDGER} GROUP BY 1, 2 HAVING count(*) > 1")
        assert not repeated.fetchall(), "a batch is recorded twice"
        recorded = conn.execute(f"SELECT table_name, count(*), sum(rows), sum(inserted) FROM {LEDGER} GROUP BY 1")
        return {t: {"batches": b, "rows": int(r), "inserted": int(i)} for t, b, r, i in recorded.fetchall()}


def present(uri: str) -> dict[str, int]:
    """Table -> rows it holds (0 while the schema is not created yet)."""
    with psycopg.connect(uri) as conn:
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                if conn.execute("SELECT to_regclass(%s)", [f'public."{t}"']).fetchone()[0] else 0 for t in TABLES}


def staged(staging: Path) -> dict[str, int]:
    """Table -> rows of its clean parts."""
    parts = Staging(Path(staging)).clean_parts
    return {t: sum(pq.read_metadata(p).num_rows for p in parts(t)) for t in TABLES}


def assert_exactly_once(uri: str, staging: Path, *, complete: bool = False, before: dict | None = None,
                        foreign: dict[str, int] | None = None) -> dict:
    """Check the invariant; return the ledger, to pass as `before` once the next load has ended.

    complete: the load has recorded every staged row. before: the ledger as the load that just
    finished found it; its report (reports/load.json) must then tell what the ledger tells.
    foreign: rows someone other than m2pg wrote, per table.
    """
    recorded, rows, clean = ledger(uri), present(uri), staged(staging)
    foreign = foreign or {}
    for table in TABLES:
        mine = recorded.get(table, {"batches": 0, "rows": 0, "inserted": 0})
        assert rows[table] == mine["inserted"] + foreign.get(table, 0), (
            f"{table}: {rows[table]} rows present, the ledger records {mine['inserted']} inserted")
        if complete:
            assert mine["rows"] == clean[table], f"{table}: ledger records {mine['rows']} of {clean[table]} staged rows"
        else:
            assert mine["rows"] <= clean[table], f"{table}: ledger records {mine['rows']} of {clean[table]} staged rows"
    if before is not None:
        assert_report_agrees(staging, before, recorded)
    return recorded


def assert_report_agrees(staging: Path, before: dict, after: dict) -> None:
    """The load report's rows, inserted and already loaded per table are the ledger's difference."""
    report = read_json(Staging(Path(staging)).report("load.json"))
    empty = {"rows": 0, "inserted": 0}
    said = {t["table"]: t for t in report["tables"]}
    assert set(said) == set(TABLES)
    for table in TABLES:
        was, now = before.get(table, empty), after.get(table, empty)
        assert said[table]["rows"] == now["rows"], table
        assert said[table]["inserted"] == now["inserted"] - was["inserted"], table
        assert said[table]["already_loaded"] == was["rows"], table
    assert report["rows"] == sum(t["rows"] for t in said.values())
    assert report["inserted"] == sum(t["inserted"] for t in said.values())
    assert report["already_loaded"] == sum(t["already_loaded"] for t in said.values())
