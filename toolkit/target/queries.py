"""The post-migration query benchmark: an app's typical queries on the migrated schema, each
explained with ANALYZE to record its time, its plan and the indexes it used.

Each query takes its parameters from the database it runs on (an existing id, a word of an
existing name), or a placeholder matching nothing when the table is empty, so the same list
runs on any migrated copy of the app. Timings are for the benchmark report; nothing here judges
them. The queries themselves are the app's (`App.queries`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from toolkit.target.schema import literal, quote

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
    return scalar(
        f"SELECT coalesce((SELECT {word} FROM {quote(table)} "
        f"WHERE numnode(plainto_tsquery('english', {word})) > 0 ORDER BY id LIMIT 1), "
        f"{literal(default)})"
    )


def nodes(plan: dict) -> Iterator[dict]:
    """Every node of an EXPLAIN (FORMAT JSON) plan tree, sub-plans and init-plans included."""
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def explain(cur, query: Query, parameters: tuple) -> dict:
    from adbc_driver_postgresql import StatementOptions

    # without parameters ADBC wraps a query in COPY (...) TO STDOUT, which refuses EXPLAIN
    cur.adbc_statement.set_options(**{StatementOptions.USE_COPY.value: "false"})
    cur.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query.sql}", parameters=parameters)
    return json.loads(cur.fetchone()[0])[0]


def summary(query: Query, parameters: tuple, explained: dict) -> dict:
    plan = explained["Plan"]
    scans = [n for n in nodes(plan) if n["Node Type"] in INDEX_SCANS]
    return {
        "name": query.name,
        "simple": query.simple,
        "sql": query.sql.strip(),
        "parameters": list(parameters),
        "execution_ms": explained["Execution Time"],
        "planning_ms": explained["Planning Time"],
        "uses_index": bool(scans),
        "indexes": sorted({n["Index Name"] for n in scans}),
        "top_node": plan["Node Type"],
        "rows": plan["Actual Rows"],
        "plan": explained,
    }


def run_queries(pg_uri: str, queries: tuple[Query, ...], repeat: int = 3) -> list[dict]:
    """EXPLAIN ANALYZE each query `repeat` times and keep its fastest run: one dict per query
    with the times in ms, the index scans, the top node and the whole plan."""
    from toolkit.stages.load import connect

    results = []
    with connect(pg_uri) as conn, conn.cursor() as cur:
        for query in queries:
            parameters = query.parameters(cur)
            runs = [explain(cur, query, parameters) for _ in range(max(repeat, 1))]
            best = min(runs, key=lambda run: run["Execution Time"])
            results.append(summary(query, parameters, best))
        conn.rollback()
    return results
