"""The extra m2pg_ indexes and the query benchmark, on a NextCRM schema filled by SQL."""

import adbc_driver_postgresql.dbapi as pg
import pytest

from toolkit.runtime.errors import ConfigError
from toolkit.target import indexes, queries, schema
from transforms import APP

NAMES = [index.name for index in APP.extra_indexes]

DATA = [
    """INSERT INTO "crm_Opportunities_Sales_Stages" (id, __v, name, probability, "order")
       SELECT md5('stage' || i)::uuid, 0, 'Stage ' || i, i * 20, i FROM generate_series(1, 5) i""",
    """INSERT INTO "crm_Accounts" (id, __v, name, status)
       SELECT md5('account' || i)::uuid, 0,
              CASE WHEN i % 100 = 0 THEN 'Acme Holding ' || i ELSE 'Firm' || i || ' Trading' END,
              CASE WHEN i % 2 = 0 THEN 'Active' ELSE 'Inactive' END
       FROM generate_series(1, 3000) i""",
    # punctuation and case still match 'Acme'; a longer word that starts with it does not
    """INSERT INTO "crm_Accounts" (id, __v, name) VALUES
       (md5('edge1')::uuid, 0, 'ACME, Inc.'), (md5('edge2')::uuid, 0, 'The Acme'),
       (md5('edge3')::uuid, 0, 'Acmeville Stores'), (md5('edge4')::uuid, 0, '')""",
    # a NULL first name must not hide the last name from the search
    """INSERT INTO "crm_Contacts" (id, "accountsIDs", first_name, last_name, status)
       SELECT md5('contact' || i)::uuid, md5('account' || (i % 3000 + 1))::uuid,
              CASE WHEN i % 7 = 0 THEN NULL ELSE 'Jane' END, 'Doe' || i, i % 3 <> 0
       FROM generate_series(1, 6000) i""",
    """INSERT INTO "crm_Opportunities" (id, account, sales_stage, name)
       SELECT md5('opportunity' || i)::uuid, md5('account' || (i % 3000 + 1))::uuid,
              CASE WHEN i % 10 = 0 THEN NULL ELSE md5('stage' || (i % 5 + 1))::uuid END,
              CASE WHEN i % 50 = 0 THEN 'Renewal ' || i ELSE 'Deal' || i END
       FROM generate_series(1, 4000) i""",
    # NULL items, an object instead of an array, and other products must not match
    """INSERT INTO "Invoices" (id, last_updated, "invoice_file_mimeType", invoice_file_url,
                              invoice_items)
       SELECT md5('invoice' || i)::uuid, now(), 'application/pdf', 'https://files/' || i,
              CASE i % 100
                WHEN 0 THEN '[{"product": "Service A", "quantity": 1}]'::jsonb
                WHEN 1 THEN NULL
                WHEN 2 THEN '{"product": "Service A"}'::jsonb
                ELSE jsonb_build_array(jsonb_build_object('product', 'Product ' || i,
                                                          'quantity', i % 7 + 1)) END
       FROM generate_series(1, 5000) i""",
    """INSERT INTO "Invoices" (id, last_updated, "invoice_file_mimeType", invoice_file_url,
                              invoice_items) VALUES
       (md5('edge1')::uuid, now(), 'application/pdf', 'https://files/e1',
        '["note", {"product": "Service A", "quantity": 3}, {"product": "Service B"}]'),
       (md5('edge2')::uuid, now(), 'application/pdf', 'https://files/e2',
        '[{"product": "service a"}]')""",
    """INSERT INTO "Documents" (id, document_name, "document_file_mimeType", document_file_url)
       SELECT md5('document' || i)::uuid, 'Doc ' || i, 'application/pdf', 'https://docs/' || i
       FROM generate_series(1, 2000) i""",
    """INSERT INTO "DocumentsToAccounts" (document_id, account_id)
       SELECT md5('document' || i)::uuid, md5('account' || (i + k))::uuid
       FROM generate_series(1, 2000) i, generate_series(0, 1) k""",
    """INSERT INTO "DocumentsToContacts" (document_id, contact_id)
       SELECT md5('document' || i)::uuid, md5('contact' || i)::uuid
       FROM generate_series(2, 2000, 2) i""",
    """INSERT INTO "DocumentsToInvoices" (document_id, invoice_id)
       SELECT md5('document' || i)::uuid, md5('invoice' || i)::uuid
       FROM generate_series(5, 2000, 5) i""",
]


def execute(uri: str, *statements: str) -> None:
    with pg.connect(uri, autocommit=True) as conn, conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def select(uri: str, sql: str, parameters: tuple = ()) -> list[tuple]:
    with pg.connect(uri) as conn, conn.cursor() as cur:
        cur.execute(sql, parameters=parameters or None)
        return cur.fetchall()


def live_extra_indexes(uri: str) -> dict[str, str]:
    return dict(
        select(
            uri,
            "SELECT indexname::text, indexdef FROM pg_indexes "
            "WHERE schemaname = 'public' AND indexname LIKE 'm2pg\\_%'",
        )
    )


def query(name: str) -> queries.Query:
    return next(q for q in APP.queries if q.name == name)


@pytest.fixture
def crm(pg_uri) -> str:
    schema.create_schema(pg_uri, APP.models, APP.junctions, APP.enums)
    execute(pg_uri, *DATA)
    return pg_uri


@pytest.fixture
def indexed(crm) -> str:
    indexes.add_extra_indexes(crm, APP.extra_indexes)
    execute(crm, "ANALYZE")
    return crm


def test_add_extra_indexes_is_idempotent(crm):
    assert indexes.add_extra_indexes(crm, APP.extra_indexes) == (NAMES, [])
    first = live_extra_indexes(crm)
    assert indexes.add_extra_indexes(crm, APP.extra_indexes) == ([], NAMES)  # said as already there
    assert live_extra_indexes(crm) == first
    assert sorted(first) == sorted(NAMES)
    assert all("USING gin" in definition for definition in first.values())
    assert "jsonb_path_ops" in first["m2pg_invoices_invoice_items_gin"]


def test_extra_indexes_are_the_only_m2pg_names_in_the_catalog(crm):
    """read_catalog sees them: comparisons with Prisma's catalog skip names starting m2pg_."""
    indexes.add_extra_indexes(crm, APP.extra_indexes)
    catalog = schema.read_catalog(crm)
    listed = {i["name"] for t in catalog["tables"].values() for i in t["indexes"]}
    assert {name for name in listed if name.startswith(indexes.PREFIX)} == set(NAMES)


def test_a_value_no_index_can_take_stops_with_one_line_and_adds_none(crm):
    """A contact's name with more than a megabyte of distinct words: PostgreSQL's full-text vector
    cannot hold it. The command names the index and PostgreSQL's reason; the accounts' index,
    built before it in the same transaction, is not left behind."""
    execute(
        crm,
        """INSERT INTO "crm_Contacts" (id, last_name)
           SELECT md5('long name')::uuid, string_agg(md5(g::text), ' ') FROM generate_series(1, 40000) g""",
    )
    with pytest.raises(ConfigError) as raised:
        indexes.add_extra_indexes(crm, APP.extra_indexes)
    said = str(raised.value)
    assert 'm2pg_crm_contacts_name_fts over the rows of "crm_Contacts"' in said, said
    assert "string is too long for tsvector" in said and "\n" not in said, said
    assert raised.value.stage == "indexes"
    assert live_extra_indexes(crm) == {}


def test_drop_extra_indexes_removes_them(crm):
    indexes.add_extra_indexes(crm, APP.extra_indexes)
    assert indexes.drop_extra_indexes(crm, APP.extra_indexes) == NAMES
    assert live_extra_indexes(crm) == {}
    assert indexes.drop_extra_indexes(crm, APP.extra_indexes) == []  # not said as dropped, not an error
    assert live_extra_indexes(crm) == {}


def test_indexes_before_the_apps_tables_exist_stop_with_one_line(pg_uri):
    """Before the migration, CREATE INDEX failed on the first missing table with a traceback,
    and --drop said it dropped indexes that were never there."""
    with pytest.raises(ConfigError) as raised:
        indexes.add_extra_indexes(pg_uri, APP.extra_indexes)
    said = str(raised.value)
    assert said.startswith("indexes: the optional indexes go on tables the target lacks:"), said
    assert all(f'"{i.table}"' in said for i in APP.extra_indexes), said
    assert indexes.drop_extra_indexes(pg_uri, APP.extra_indexes) == []


SEARCHES = [  # (query, parameter, expected names, or values of the first selected column)
    ("account_name_search", "Acme", {f"Acme Holding {i}" for i in range(100, 3001, 100)} | {"ACME, Inc.", "The Acme"}),
    ("account_name_search", "acme holding", {f"Acme Holding {i}" for i in range(100, 3001, 100)}),
    ("account_name_search", "the", set()),  # a stop word finds nothing rather than everything
    ("contact_name_search", "Doe7", {"Doe7"}),  # first_name is NULL
    ("contact_name_search", "jane doe8", {"Doe8"}),
    ("opportunity_name_search", "renewal", {f"Renewal {i}" for i in range(50, 4001, 50)}),
]


@pytest.mark.parametrize(("name", "term", "expected"), SEARCHES)
def test_full_text_search_finds_whole_words(indexed, name, term, expected):
    column = {"contact_name_search": "last_name"}.get(name, "name")
    sql = f"SELECT {column} FROM ({query(name).sql}) found"
    assert {row[0] for row in select(indexed, sql, (term,))} == expected


def test_jsonb_containment_finds_items_inside_arrays_only(indexed):
    sql = f"SELECT invoice_file_url FROM ({query('invoice_items_containment').sql}) found"
    found = {row[0] for row in select(indexed, sql, ('[{"product": "Service A"}]',))}
    assert found == {f"https://files/{i}" for i in range(100, 5001, 100)} | {"https://files/e1"}


def test_parameters_come_from_the_data(indexed):
    with pg.connect(indexed) as conn, conn.cursor() as cur:
        picked = {q.name: q.parameters(cur) for q in APP.queries}
    for name, parameters in picked.items():
        rows = select(indexed, f"SELECT count(*) FROM ({query(name).sql}) found", parameters)
        assert rows[0][0] > 0, (name, parameters)


USES = [  # (query, index its plan must show)
    ("account_by_id", "crm_Accounts_pkey"),
    ("account_name_search", "m2pg_crm_accounts_name_fts"),
    ("contact_name_search", "m2pg_crm_contacts_name_fts"),
    ("opportunity_name_search", "m2pg_crm_opportunities_name_fts"),
    ("invoice_items_containment", "m2pg_invoices_invoice_items_gin"),
]

ROWS = {  # rows the top plan node returns, on DATA
    "account_by_id": 1,
    "active_contacts": 50,
    "opportunities_by_sales_stage": 6,  # five stages and the opportunities with none
    "active_accounts_with_contacts_and_opportunities": 1500,
    "documents_with_relations": 2000,  # one row per document, however many links it has
}


def named_indexes(plan) -> set[str]:
    """Every "Index Name" anywhere in an EXPLAIN (FORMAT JSON) document, sub-plans included."""
    if isinstance(plan, dict):
        found = {plan["Index Name"]} if "Index Name" in plan else set()
        return found.union(*(named_indexes(v) for v in plan.values()))
    if isinstance(plan, list):
        return set().union(*(named_indexes(v) for v in plan))
    return set()


def test_run_queries_explains_every_query(indexed):
    results = queries.run_queries(indexed, APP.queries, repeat=2)
    assert [r["name"] for r in results] == [q.name for q in APP.queries]
    by_name = {r["name"]: r for r in results}
    for result in results:
        explained = result["plan"]
        assert explained["Plan"]["Node Type"] == result["top_node"]
        assert (result["execution_ms"], result["planning_ms"]) == (
            explained["Execution Time"],
            explained["Planning Time"],
        )  # the times of the plan kept
        assert result["indexes"] == sorted(named_indexes(explained)), result["name"]
    assert {name: by_name[name]["rows"] for name in ROWS} == ROWS
    assert [r["name"] for r in results if r["simple"]] == [
        "account_by_id",
        "active_contacts",
        "opportunities_by_sales_stage",
        "account_name_search",
        "contact_name_search",
        "opportunity_name_search",
        "invoice_items_containment",
    ]
    for name, index in USES:  # each query reads through exactly the index meant for it
        assert by_name[name]["uses_index"] is True and by_name[name]["indexes"] == [index], by_name[name]["plan"]


def test_searches_read_the_whole_table_without_the_extra_indexes(crm):
    execute(crm, "ANALYZE")
    results = {r["name"]: r for r in queries.run_queries(crm, APP.queries, repeat=1)}
    for name, _index in USES[1:]:
        assert results[name]["top_node"] == "Seq Scan", (name, results[name]["plan"])
        assert results[name]["uses_index"] is False and results[name]["indexes"] == [], results[name]["plan"]


def test_run_queries_on_empty_tables(pg_uri):
    schema.create_schema(pg_uri, APP.models, APP.junctions, APP.enums)
    results = queries.run_queries(pg_uri, APP.queries, repeat=1)
    assert len(results) == len(APP.queries)
    assert all(r["rows"] == 0 for r in results)
