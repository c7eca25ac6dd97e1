"""Optional indexes for the post-migration query patterns that Prisma's schema does not create.

Full-text search on names and containment on invoice items scan a whole table without them.
They are m2pg's, not Prisma's: every name starts with `m2pg_`, so a comparison of the live
catalog with Prisma's (`schema.read_catalog`) must skip index names starting with `m2pg_`.
A query uses an expression index only when it repeats the expression, so `queries.py` builds
its predicates from the expressions declared here.
"""
from __future__ import annotations

from dataclasses import dataclass

from toolkit.load import connect
from toolkit.schema import quote

PREFIX = "m2pg_"

ACCOUNT_NAME = "to_tsvector('english', coalesce(name, ''))"
CONTACT_NAME = "to_tsvector('english', coalesce(first_name, '') || ' ' || coalesce(last_name, ''))"
OPPORTUNITY_NAME = "to_tsvector('english', coalesce(name, ''))"


@dataclass(frozen=True)
class ExtraIndex:
    """An index over `table` by `method` on a column or expression (with its operator class)."""

    name: str
    table: str
    method: str
    key: str

    @property
    def create(self) -> str:
        return (f"CREATE INDEX IF NOT EXISTS {quote(self.name)} ON {quote(self.table)} "
                f"USING {self.method} ({self.key})")

    @property
    def drop(self) -> str:
        return f"DROP INDEX IF EXISTS {quote(self.name)}"


EXTRA_INDEXES: tuple[ExtraIndex, ...] = (
    ExtraIndex("m2pg_crm_accounts_name_fts", "crm_Accounts", "gin", f"({ACCOUNT_NAME})"),
    ExtraIndex("m2pg_crm_contacts_name_fts", "crm_Contacts", "gin", f"({CONTACT_NAME})"),
    ExtraIndex("m2pg_crm_opportunities_name_fts", "crm_Opportunities", "gin",
               f"({OPPORTUNITY_NAME})"),
    ExtraIndex("m2pg_invoices_invoice_items_gin", "Invoices", "gin",
               f"{quote('invoice_items')} jsonb_path_ops"),
)


def add_extra_indexes(pg_uri: str, indexes: tuple[ExtraIndex, ...] = EXTRA_INDEXES) -> list[str]:
    """Create the indexes that do not exist yet, all in one transaction, and return their names.

    A plain CREATE INDEX blocks writes to the table while it builds: run it after the load,
    before the application is switched over. An index of the same name is kept as it is.
    """
    with connect(pg_uri) as conn, conn.cursor() as cur:
        for index in indexes:
            cur.execute(index.create)
        conn.commit()
    return [index.name for index in indexes]


def drop_extra_indexes(pg_uri: str, indexes: tuple[ExtraIndex, ...] = EXTRA_INDEXES) -> list[str]:
    """Drop the indexes `add_extra_indexes` creates (those missing are skipped); their names."""
    with connect(pg_uri) as conn, conn.cursor() as cur:
        for index in indexes:
            cur.execute(index.drop)
        conn.commit()
    return [index.name for index in indexes]
