"""The post-migration query benchmark (plan 4.3.3): the plan's queries on the real schema,
each explained with ANALYZE to record its time, its plan and the indexes it used.

Each query takes its parameters from the database it runs on (an existing id, a word of an
existing name, an existing invoice item), or a placeholder matching nothing when the table is
empty, so the same list runs on any migrated NextCRM. Timings are for the benchmark report;
nothing here judges them.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from adbc_driver_postgresql import StatementOptions

from toolkit.indexes import ACCOUNT_NAME, CONTACT_NAME, OPPORTUNITY_NAME
from toolkit.load import connect
from toolkit.schema import literal, quote
from transforms import JUNCTIONS, MODELS

INDEX_SCANS = frozenset({"Index Scan", "Index Only Scan", "Bitmap Index Scan"})
NO_ID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class Query:
    """A benchmark query: `parameters` picks the values of $1.. from the database it runs on."""

    name: str
    sql: str
    simple: bool
    parameters: Callable[[object], tuple] = field(default=lambda cur: ())


def scalar(sql: str) -> Callable[[object], tuple]:
    """A parameter maker: the one value `sql` selects, as the query's only parameter."""
    def pick(cur) -> tuple:
        cur.execute(sql)
        return (cur.fetchone()[0],)
    return pick


def first_word(table: str, column: str, default: str) -> Callable[[object], tuple]:
    """The first word of the lowest-id row's `column` that full-text search keeps (no stop word)."""
    word = f"split_part({quote(column)}, ' ', 1)"
    return scalar(f"SELECT coalesce((SELECT {word} FROM {quote(table)} "
                  f"WHERE numnode(plainto_tsquery('english', {word})) > 0 ORDER BY id LIMIT 1), "
                  f"{literal(default)})")


def documents_with_relations() -> str:
    """Each document with, for every junction it belongs to, the rows it links to as a jsonb
    array: one row per document, where the plan's flat joins multiplied them."""
    tables = {m.name: m.table for m in MODELS}
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
            f"WHERE j.{quote(mine.column)} = d.id) r{n} ON true")
    return "\n".join(["SELECT " + ",\n       ".join(columns), 'FROM "Documents" d', *joins])


QUERIES: tuple[Query, ...] = (
    Query("account_by_id", 'SELECT * FROM "crm_Accounts" WHERE id = $1::uuid', simple=True,
          parameters=scalar(f'SELECT coalesce((SELECT id::text FROM "crm_Accounts" ORDER BY id '
                            f"LIMIT 1), {literal(NO_ID)})")),
    Query("active_contacts", 'SELECT * FROM "crm_Contacts" WHERE status LIMIT 50', simple=True),
    Query("opportunities_by_sales_stage", """
SELECT o.sales_stage, s.name AS sales_stage_name, o.opportunities
FROM (SELECT sales_stage, count(*) AS opportunities FROM "crm_Opportunities" GROUP BY sales_stage) o
LEFT JOIN "crm_Opportunities_Sales_Stages" s ON s.id = o.sales_stage
ORDER BY s."order" NULLS LAST, s.name""", simple=True),
    Query("active_accounts_with_contacts_and_opportunities", """
SELECT a.*, coalesce(c.linked, '[]') AS contacts, coalesce(o.linked, '[]') AS opportunities
FROM "crm_Accounts" a
LEFT JOIN LATERAL (SELECT jsonb_agg(t ORDER BY t.id) AS linked FROM "crm_Contacts" t
                   WHERE t."accountsIDs" = a.id) c ON true
LEFT JOIN LATERAL (SELECT jsonb_agg(t ORDER BY t.id) AS linked FROM "crm_Opportunities" t
                   WHERE t.account = a.id) o ON true
WHERE a.status = 'Active'""", simple=False),
    Query("documents_with_relations", documents_with_relations(), simple=False),
    Query("account_name_search",
          f"SELECT * FROM \"crm_Accounts\" WHERE {ACCOUNT_NAME} @@ plainto_tsquery('english', $1)",
          simple=True, parameters=first_word("crm_Accounts", "name", "Acme")),
    Query("contact_name_search",
          f"SELECT * FROM \"crm_Contacts\" WHERE {CONTACT_NAME} @@ plainto_tsquery('english', $1)",
          simple=True, parameters=first_word("crm_Contacts", "last_name", "Smith")),
    Query("opportunity_name_search",
          f"SELECT * FROM \"crm_Opportunities\" "
          f"WHERE {OPPORTUNITY_NAME} @@ plainto_tsquery('english', $1)",
          simple=True, parameters=first_word("crm_Opportunities", "name", "Renewal")),
    Query("invoice_items_containment",
          'SELECT * FROM "Invoices" WHERE invoice_items @> $1::jsonb', simple=True,
          parameters=scalar("""
SELECT coalesce((
  SELECT jsonb_build_array(jsonb_build_object(e.key, e.value))::text
  FROM (SELECT jsonb_path_query_first(invoice_items, '$[*] ? (@.type() == "object")') AS item
        FROM "Invoices" WHERE invoice_items @> '[{}]' ORDER BY id LIMIT 1) first,
       jsonb_each(first.item) e
  ORDER BY e.key LIMIT 1), '[{"product": "Service A"}]')""")),
)
"""The plan's queries, plus name searches on contacts and opportunities so that every
m2pg_ index has a query that should use it."""


def nodes(plan: dict) -> Iterator[dict]:
    """Every node of an EXPLAIN (FORMAT JSON) plan tree, sub-plans and init-plans included."""
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def explain(cur, query: Query, parameters: tuple) -> dict:
    # without parameters ADBC wraps a query in COPY (...) TO STDOUT, which refuses EXPLAIN
    cur.adbc_statement.set_options(**{StatementOptions.USE_COPY.value: "false"})
    cur.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query.sql}", parameters=parameters)
    return json.loads(cur.fetchone()[0])[0]


def summary(query: Query, parameters: tuple, explained: dict) -> dict:
    plan = explained["Plan"]
    scans = [n for n in nodes(plan) if n["Node Type"] in INDEX_SCANS]
    return {
        "name": query.name, "simple": query.simple, "sql": query.sql.strip(),
        "parameters": list(parameters),
        "execution_ms": explained["Execution Time"], "planning_ms": explained["Planning Time"],
        "uses_index": bool(scans), "indexes": sorted({n["Index Name"] for n in scans}),
        "top_node": plan["Node Type"], "rows": plan["Actual Rows"], "plan": explained,
    }


def run_queries(pg_uri: str, repeat: int = 3,
                queries: tuple[Query, ...] = QUERIES) -> list[dict]:
    """EXPLAIN ANALYZE each query `repeat` times and keep its fastest run: one dict per query
    with the times in ms, the index scans, the top node and the whole plan."""
    results = []
    with connect(pg_uri) as conn, conn.cursor() as cur:
        for query in queries:
            parameters = query.parameters(cur)
            runs = [explain(cur, query, parameters) for _ in range(max(repeat, 1))]
            best = min(runs, key=lambda run: run["Execution Time"])
            results.append(summary(query, parameters, best))
        conn.rollback()
    return results
