"""Optional indexes for an app's query patterns that its Prisma schema does not create
(`App.extra_indexes`: full-text search or containment would otherwise scan a whole table).

They are m2pg's, not Prisma's: every name starts with `m2pg_`, so a comparison of the live
catalog with Prisma's (`schema.read_catalog`) must skip index names starting with `m2pg_`.
"""

from __future__ import annotations

from dataclasses import dataclass

import adbc_driver_postgresql.dbapi as pgdbapi

from toolkit.runtime.errors import ConfigError
from toolkit.target.postgres import server_message
from toolkit.target.schema import quote

PREFIX = "m2pg_"


@dataclass(frozen=True)
class ExtraIndex:
    """An index over `table` by `method` on a column or expression (with its operator class)."""

    name: str
    table: str
    method: str
    key: str

    @property
    def create(self) -> str:
        return f"CREATE INDEX IF NOT EXISTS {quote(self.name)} ON {quote(self.table)} USING {self.method} ({self.key})"

    @property
    def drop(self) -> str:
        return f"DROP INDEX IF EXISTS {quote(self.name)}"


def add_extra_indexes(pg_uri: str, indexes: tuple[ExtraIndex, ...]) -> tuple[list[str], list[str]]:
    """Create the indexes that do not exist yet, all in one transaction: the names added, and
    those already there (kept as they are).

    A plain CREATE INDEX blocks writes to the table while it builds: run it after the load,
    before the application is switched over.
    """
    from toolkit.stages.load import connect

    with connect(pg_uri) as conn, conn.cursor() as cur:
        missing = sorted({i.table for i in indexes} - set(_present(cur, "r", [i.table for i in indexes])))
        if missing:
            raise ConfigError(
                f"the optional indexes go on tables the target lacks: {', '.join(quote(t) for t in missing)}",
                stage="indexes",
                hint="migrate first (`m2pg run`), then add them; nothing was written",
            )
        there = _present(cur, "i", [i.name for i in indexes])
        for index in indexes:
            if index.name in there:
                continue
            try:
                cur.execute(index.create)
            except pgdbapi.Error as error:
                if not (error.sqlstate or "").startswith(REFUSED_DATA):
                    raise  # the server or the connection failed: said as such by the command
                conn.rollback()
                raise refused(index, error) from None
        conn.commit()
    return [i.name for i in indexes if i.name not in there], [i.name for i in indexes if i.name in there]


def _present(cur, kind: str, names: list[str]) -> set[str]:
    """Which of `names` are relations of `kind` (r: table, i: index) in schema public."""
    cur.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = $1 AND c.relname = ANY($2::text[])",
        parameters=(kind, names),
    )
    return {row[0] for row in cur.fetchall()}


REFUSED_DATA = ("22", "23", "54")  # SQLSTATE classes: a value the index cannot take, or too large for it


def refused(index: ExtraIndex, error: pgdbapi.Error) -> ConfigError:
    return ConfigError(
        f'PostgreSQL cannot build the optional index {index.name} over the rows of "{index.table}": '
        f"{server_message(error)}",
        stage="indexes",
        hint="none of the optional indexes was added (they are built in one transaction); the app does "
        "not need them: change the value PostgreSQL names, or go on without them",
    )


def drop_extra_indexes(pg_uri: str, indexes: tuple[ExtraIndex, ...]) -> list[str]:
    """Drop the indexes `add_extra_indexes` creates; the names of those that were there."""
    from toolkit.stages.load import connect

    with connect(pg_uri) as conn, conn.cursor() as cur:
        there = _present(cur, "i", [i.name for i in indexes])
        for index in indexes:
            if index.name in there:
                cur.execute(index.drop)
        conn.commit()
    return [i.name for i in indexes if i.name in there]
