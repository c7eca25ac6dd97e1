"""Exactly-once loading, checked after any stop: every table holds exactly the rows the load
ledger records for it (inserted less deleted), each of them remembered as the migration's, no
batch is recorded twice, and the load report agrees.

The final database alone cannot show this: ON CONFLICT DO NOTHING repairs a batch whose rows
were committed without its ledger row, and only the ledger then tells the wrong story.
"""

from pathlib import Path

import psycopg
import pyarrow.parquet as pq

from toolkit.declarations.app import App
from toolkit.stages.load import LEDGER, keys_of, owned_table
from toolkit.staging.layout import Staging, read_json

WRITTEN = ("inserted", "updated", "deleted")


def the_app(app: App | None) -> App:
    """The app whose tables are checked: NextCRM's unless a test names another."""
    if app is not None:
        return app
    from transforms import APP

    return APP


def ledger(uri: str) -> dict[str, dict[str, int]]:
    """Table -> batches, rows, and rows inserted, updated and deleted, as the ledger records them
    (none before a load)."""
    with psycopg.connect(uri) as conn:
        if conn.execute("SELECT to_regclass(%s)", [LEDGER]).fetchone()[0] is None:
            return {}
        repeated = conn.execute(f"SELECT table_name, digest FROM {LEDGER} GROUP BY 1, 2 HAVING count(*) > 1")
        assert not repeated.fetchall(), "a batch is recorded twice"
        recorded = conn.execute(
            f"SELECT table_name, count(*), sum(rows), sum(inserted), sum(updated), sum(deleted) "
            f"FROM {LEDGER} GROUP BY 1"
        )
        return {
            t: {"batches": b, "rows": int(r), "inserted": int(i), "updated": int(u), "deleted": int(d)}
            for t, b, r, i, u, d in recorded.fetchall()
        }


def owned(uri: str, app: App | None = None) -> dict[str, tuple[int, int]]:
    """Table -> (rows the target remembers as the migration's, how many of them the table holds)."""
    app = the_app(app)
    keys = keys_of(app.models, app.junctions)
    with psycopg.connect(uri) as conn:
        found = {}
        for table in app.tables:
            mine = owned_table(table)
            if conn.execute("SELECT to_regclass(%s)", [mine]).fetchone()[0] is None:
                found[table] = (0, 0)
                continue
            same = " AND ".join(f'o."{k}" = t."{k}"' for k in keys[table])
            found[table] = (
                conn.execute(f"SELECT count(*) FROM {mine}").fetchone()[0],
                conn.execute(f'SELECT count(*) FROM {mine} o JOIN "{table}" t ON {same}').fetchone()[0],
            )
        return found


def present(uri: str, app: App | None = None) -> dict[str, int]:
    """Table -> rows it holds (0 while the schema is not created yet)."""
    tables = the_app(app).tables
    with psycopg.connect(uri) as conn:
        return {
            t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
            if conn.execute("SELECT to_regclass(%s)", [f'public."{t}"']).fetchone()[0]
            else 0
            for t in tables
        }


def staged(staging: Path, app: App | None = None) -> dict[str, int]:
    """Table -> rows of its clean parts."""
    parts = Staging(Path(staging)).clean_parts
    return {t: sum(pq.read_metadata(p).num_rows for p in parts(t)) for t in the_app(app).tables}


def assert_exactly_once(
    uri: str,
    staging: Path,
    *,
    complete: bool = False,
    before: dict | None = None,
    foreign: dict[str, int] | None = None,
    app: App | None = None,
) -> dict:
    """Check the invariant; return the ledger, to pass as `before` once the next load has ended.

    complete: the load has written every staged row (and deleted every row no longer staged).
    before: the ledger as the last finished load left it (before the load that just finished and
    any stopped before it began); its report (reports/load.json) must then tell what the ledger
    tells: a load that goes on with a stopped one counts that one's writes too.
    foreign: rows someone other than m2pg wrote, per table.
    """
    recorded, rows, clean, mine = ledger(uri), present(uri, app), staged(staging, app), owned(uri, app)
    foreign = foreign or {}
    for table in the_app(app).tables:
        done = recorded.get(table, dict.fromkeys(("batches", "rows", *WRITTEN), 0))
        assert rows[table] == done["inserted"] - done["deleted"] + foreign.get(table, 0), (
            f"{table}: {rows[table]} rows present, the ledger records {done['inserted']} inserted and "
            f"{done['deleted']} deleted"
        )
        assert mine[table] == (rows[table] - foreign.get(table, 0),) * 2, (
            f"{table}: {rows[table]} rows present, {mine[table]} remembered as the migration's (and present)"
        )
        if complete:
            assert mine[table][0] == clean[table], f"{table}: {mine[table][0]} rows loaded of {clean[table]} staged"
    if before is not None:
        assert_report_agrees(staging, before, recorded, app)
    return recorded


def assert_report_agrees(staging: Path, before: dict, after: dict, app: App | None = None) -> None:
    """The load report's rows written per table are the ledger's difference, and every staged row
    is written or unchanged."""
    report = read_json(Staging(Path(staging)).report("load.json"))
    empty = dict.fromkeys(WRITTEN, 0)
    said = {t["table"]: t for t in report["tables"]}
    tables = the_app(app).tables
    assert set(said) == set(tables)
    clean = staged(staging, app)
    for table in tables:
        was, now = before.get(table, empty), after.get(table, empty)
        for kind in WRITTEN:
            assert said[table][kind] == now[kind] - was[kind], (table, kind)
        assert said[table]["rows"] == clean[table], table
        assert said[table]["unchanged"] == clean[table] - said[table]["inserted"] - said[table]["updated"], table
    for key in ("rows", *WRITTEN, "unchanged"):
        assert report[key] == sum(t[key] for t in said.values()), key
