"""NextCRM's queries and extra indexes: the typical reads of its `actions/` (the plan's section
4.3.3) that the bench explains, and the indexes beyond its Prisma schema they want. A query
uses an expression index only when it repeats the expression, so both share them here.
"""

from __future__ import annotations

from toolkit.target.indexes import ExtraIndex
from toolkit.target.queries import NO_ID, Query, first_word, scalar
from toolkit.target.schema import literal, quote
from transforms import DECLARED, JUNCTIONS  # defined before the package imports this module

ACCOUNT_NAME = "to_tsvector('english', coalesce(name, ''))"
CONTACT_NAME = "to_tsvector('english', coalesce(first_name, '') || ' ' || coalesce(last_name, ''))"
OPPORTUNITY_NAME = "to_tsvector('english', coalesce(name, ''))"

EXTRA_INDEXES: tuple[ExtraIndex, ...] = (
    ExtraIndex("m2pg_crm_accounts_name_fts", "crm_Accounts", "gin", f"({ACCOUNT_NAME})"),
    ExtraIndex("m2pg_crm_contacts_name_fts", "crm_Contacts", "gin", f"({CONTACT_NAME})"),
    ExtraIndex("m2pg_crm_opportunities_name_fts", "crm_Opportunities", "gin", f"({OPPORTUNITY_NAME})"),
    ExtraIndex("m2pg_invoices_invoice_items_gin", "Invoices", "gin", f"{quote('invoice_items')} jsonb_path_ops"),
)


def documents_with_relations() -> str:
    """Each document with, for every junction it belongs to, the rows it links to as a jsonb
    array: one row per document, where the plan's flat joins multiplied them."""
    tables = {m.name: m.table for m in DECLARED}
    columns, joins = ["d.*"], []
    linked = [j for j in JUNCTIONS if "Documents" in (j.left.model, j.right.model)]
    for n, junction in enumerate(linked):
        mine, other = junction.side_of("Documents")
        target = tables[other.model]
        columns.append(f"coalesce(r{n}.linked, '[]') AS {quote(target)}")
        joins.append(
            f"LEFT JOIN LATERAL (SELECT jsonb_agg(t ORDER BY t.id) AS linked "
            f"FROM {quote(junction.table)} j "
            f"JOIN {quote(target)} t ON t.id = j.{quote(other.column)} "
            f"WHERE j.{quote(mine.column)} = d.id) r{n} ON true"
        )
    return "\n".join(["SELECT " + ",\n       ".join(columns), 'FROM "Documents" d', *joins])


QUERIES: tuple[Query, ...] = (
    Query(
        "account_by_id",
        'SELECT * FROM "crm_Accounts" WHERE id = $1::uuid',
        simple=True,
        parameters=scalar(
            f'SELECT coalesce((SELECT id::text FROM "crm_Accounts" ORDER BY id LIMIT 1), {literal(NO_ID)})'
        ),
    ),
    Query("active_contacts", 'SELECT * FROM "crm_Contacts" WHERE status LIMIT 50', simple=True),
    Query(
        "opportunities_by_sales_stage",
        """
SELECT o.sales_stage, s.name AS sales_stage_name, o.opportunities
FROM (SELECT sales_stage, count(*) AS opportunities FROM "crm_Opportunities" GROUP BY sales_stage) o
LEFT JOIN "crm_Opportunities_Sales_Stages" s ON s.id = o.sales_stage
ORDER BY s."order" NULLS LAST, s.name""",
        simple=True,
    ),
    Query(
        "active_accounts_with_contacts_and_opportunities",
        """
SELECT a.*, coalesce(c.linked, '[]') AS contacts, coalesce(o.linked, '[]') AS opportunities
FROM "crm_Accounts" a
LEFT JOIN LATERAL (SELECT jsonb_agg(t ORDER BY t.id) AS linked FROM "crm_Contacts" t
                   WHERE t."accountsIDs" = a.id) c ON true
LEFT JOIN LATERAL (SELECT jsonb_agg(t ORDER BY t.id) AS linked FROM "crm_Opportunities" t
                   WHERE t.account = a.id) o ON true
WHERE a.status = 'Active'""",
        simple=False,
    ),
    Query("documents_with_relations", documents_with_relations(), simple=False),
    Query(
        "account_name_search",
        f"SELECT * FROM \"crm_Accounts\" WHERE {ACCOUNT_NAME} @@ plainto_tsquery('english', $1)",
        simple=True,
        parameters=first_word("crm_Accounts", "name", "Acme"),
    ),
    Query(
        "contact_name_search",
        f"SELECT * FROM \"crm_Contacts\" WHERE {CONTACT_NAME} @@ plainto_tsquery('english', $1)",
        simple=True,
        parameters=first_word("crm_Contacts", "last_name", "Smith"),
    ),
    Query(
        "opportunity_name_search",
        f"SELECT * FROM \"crm_Opportunities\" WHERE {OPPORTUNITY_NAME} @@ plainto_tsquery('english', $1)",
        simple=True,
        parameters=first_word("crm_Opportunities", "name", "Renewal"),
    ),
    Query(
        "invoice_items_containment",
        'SELECT * FROM "Invoices" WHERE invoice_items @> $1::jsonb',
        simple=True,
        parameters=scalar("""
SELECT coalesce((
  SELECT jsonb_build_array(jsonb_build_object(e.key, e.value))::text
  FROM (SELECT jsonb_path_query_first(invoice_items, '$[*] ? (@.type() == "object")') AS item
        FROM "Invoices" WHERE invoice_items @> '[{}]' ORDER BY id LIMIT 1) first,
       jsonb_each(first.item) e
  ORDER BY e.key LIMIT 1), '[{"product": "Service A"}]')"""),
    ),
)
"""The plan's queries, plus name searches on contacts and opportunities so that every
m2pg_ index has a query that should use it."""
