"""Reconcile's arithmetic: source = loaded + quarantined, staged pairs = loaded pairs, the app's own
rows counted apart, the first error said, and each failing table's reasons in words.

Reconcile reads PostgreSQL through DuckDB: the tables under the catalog `pg`, and plain counts
handed to PostgreSQL with `postgres_query`. Here an in-memory DuckDB holds the `pg` catalog and a
`postgres_query` that runs the counting SQL on it, so the counts are exercised without a server
(tests/integration reconciles against a real PostgreSQL)."""

import uuid

import duckdb
import polars as pl
import pytest

from toolkit.stages.reconcile import PG, junction_row, measure, model_row, orphan_check, reasons
from toolkit.staging.layout import DamagedStaging, Staging, write_json
from transforms import JUNCTIONS, MODELS

SPECS = {m.name: m for m in MODELS}
DOCUMENTS = SPECS["Documents"]
JUNCTION = next(j for j in JUNCTIONS if j.table == "DocumentsToCrmAccountsTasks")
COLLECTIONS = {m.name: m.source for m in MODELS}
TASKS = COLLECTIONS[JUNCTION.right.model]


def ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(f"ATTACH ':memory:' AS {PG}")
    con.execute(f"USE {PG}")
    con.execute("CREATE MACRO postgres_query(db, sql) AS TABLE SELECT * FROM query(sql)")
    con.execute(  # PostgreSQL's lookup of a table by its qualified, quoted name
        "CREATE MACRO to_regclass(name) AS "
        "(SELECT any_value(table_oid) FROM duckdb_tables() WHERE schema_name || '.\"' || table_name || '\"' = name)"
    )
    yield con
    con.close()


def parquet(path, rows: int, **columns) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(columns or {"n": list(range(rows))}).write_parquet(path)


def table(con, name: str, schema: str = "main", **columns: list[str | None]) -> None:
    con.execute(f'CREATE TABLE {schema}."{name}" ({", ".join(f"{c} UUID" for c in columns)})')
    rows = list(zip(*columns.values(), strict=True))
    if rows:
        con.executemany(f'INSERT INTO {schema}."{name}" VALUES ({", ".join("?" for _ in columns)})', rows)


def object_ids(n: int) -> list[str]:
    return [f"{i:024x}" for i in range(n)]


def staged_documents(staging: Staging, extracted: list[str], quarantined: int = 1) -> None:
    """The extract's manifest of every document, the last `quarantined` refused, and the id map of
    every extracted `_id`."""
    write_json({"complete": True, "documents": len(extracted)}, staging.manifest(DOCUMENTS.source))
    if quarantined:
        refused = object_ids(len(extracted))[-quarantined:]
        parquet(staging.quarantine(DOCUMENTS.source) / "part-00000.parquet", 0, object_id=refused)
    parquet(staging.idmap(DOCUMENTS.source), 0, object_id=object_ids(len(extracted)), id=extracted)


def test_every_document_loaded_or_quarantined_and_the_apps_rows_apart(con, tmp_path):
    staging, ours = Staging(tmp_path), ids(5)
    staged_documents(staging, ours)
    table(con, DOCUMENTS.table, id=ours[:4] + ids(2))

    assert model_row(con, staging, DOCUMENTS) == {
        "table": DOCUMENTS.table,
        "kind": "model",
        "collection": DOCUMENTS.source,
        "source": 5,
        "quarantined": 1,
        "loaded": 4,
        "other_rows": 2,
        "quarantined_rows": 0,
        "stale_rows": 0,
        "ok": True,
    }


def test_a_document_neither_loaded_nor_quarantined_fails(con, tmp_path):
    staging, ours = Staging(tmp_path), ids(5)
    staged_documents(staging, ours)
    table(con, DOCUMENTS.table, id=ours[:3] + ids(1))

    row = model_row(con, staging, DOCUMENTS)

    assert (row["loaded"], row["other_rows"], row["ok"]) == (3, 1, False) and "error" not in row
    assert reasons(row, []) == ["source 5 != loaded 3 + quarantined 1"]


def test_a_document_loaded_twice_over_fails_too(con, tmp_path):
    staging, ours = Staging(tmp_path), ids(5)
    staged_documents(staging, ours, quarantined=0)
    table(con, DOCUMENTS.table, id=ours + ours[:1])

    row = model_row(con, staging, DOCUMENTS)

    assert (row["source"], row["quarantined"], row["loaded"], row["other_rows"], row["ok"]) == (5, 0, 6, 0, False)


def test_nothing_quarantined_counts_zero(con, tmp_path):
    staging, ours = Staging(tmp_path), ids(4)
    staged_documents(staging, ours, quarantined=0)
    table(con, DOCUMENTS.table, id=ours)

    row = model_row(con, staging, DOCUMENTS)

    assert (row["source"], row["quarantined"], row["loaded"], row["other_rows"], row["ok"]) == (4, 0, 4, 0, True)


def test_without_the_id_map_nothing_counts_as_loaded(con, tmp_path):
    staging, ours = Staging(tmp_path), ids(5)
    staged_documents(staging, ours)
    staging.idmap(DOCUMENTS.source).unlink()
    table(con, DOCUMENTS.table, id=ours[:4])

    row = model_row(con, staging, DOCUMENTS)

    assert (row["source"], row["loaded"], row["other_rows"], row["ok"]) == (5, None, None, False)
    assert row["error"] == f"{staging.idmap(DOCUMENTS.source)} is missing: run `m2pg extract`"
    assert reasons(row, []) == [row["error"]]


def test_a_missing_table_is_said_in_one_line(con, tmp_path):
    staging, ours = Staging(tmp_path), ids(5)
    staged_documents(staging, ours)

    row = model_row(con, staging, DOCUMENTS)

    assert (row["loaded"], row["other_rows"], row["ok"]) == (None, None, False)
    assert row["error"].startswith("Catalog Error: Table with name Documents does not exist")
    assert "\n" not in row["error"]


def test_the_staging_error_comes_before_the_databases(con, tmp_path):
    staging, ours = Staging(tmp_path), ids(5)
    staged_documents(staging, ours)
    staging.idmap(DOCUMENTS.source).unlink()

    assert model_row(con, staging, DOCUMENTS)["error"].endswith("is missing: run `m2pg extract`")


def test_the_source_is_what_the_extract_recorded_not_the_files_it_left(con, tmp_path):
    """A raw part lost or added after the extract changes no count: the manifest is the record."""
    staging, ours = Staging(tmp_path), ids(5)
    staged_documents(staging, ours)
    parquet(staging.raw_dir(DOCUMENTS.source) / "part-00000.parquet", 2)
    table(con, DOCUMENTS.table, id=ours[:4])

    row = model_row(con, staging, DOCUMENTS)

    assert (row["source"], row["quarantined"], row["loaded"], row["ok"]) == (5, 1, 4, True)


@pytest.mark.parametrize(
    "manifest, error",
    [
        (None, "raw/Documents/manifest.json is missing: run `m2pg extract`"),
        (
            {"complete": False, "documents": 3},
            "the extract of Documents was interrupted: run `m2pg extract` to finish it",
        ),
    ],
    ids=["missing", "interrupted"],
)
def test_no_finished_extract_no_source_count(con, tmp_path, manifest, error):
    staging, ours = Staging(tmp_path), ids(5)
    staged_documents(staging, ours)
    staging.manifest(DOCUMENTS.source).unlink()
    if manifest:
        write_json(manifest, staging.manifest(DOCUMENTS.source))
    table(con, DOCUMENTS.table, id=ours[:4])

    row = model_row(con, staging, DOCUMENTS)

    assert (row["source"], row["ok"]) == (None, False)
    assert row["error"].endswith(error)


def test_a_manifest_without_its_count_stops_naming_the_stage_to_re_run(con, tmp_path):
    staging, ours = Staging(tmp_path), ids(5)
    staged_documents(staging, ours)
    write_json({"complete": True}, staging.manifest(DOCUMENTS.source))

    with pytest.raises(DamagedStaging, match=r"is garbled \(no documents\); re-run `m2pg extract`"):
        model_row(con, staging, DOCUMENTS)


def test_measure_gives_the_count_or_the_first_line_of_the_error(con):
    table(con, "t", id=ids(3))
    assert measure(con, 'SELECT count(*) FROM "t" WHERE id IS NOT NULL AND ? > 1', 2) == (3, None)
    count, error = measure(con, 'SELECT count(*) FROM "absent"')
    assert count is None and error.startswith("Catalog Error: Table with name absent does not exist")
    assert "\n" not in error


def staged_pairs(staging: Staging, documents: list[str], tasks: list[str], pairs: int | None) -> None:
    """The id maps of both ends, and `pairs` staged pairs: document i with task i, then pairs of new ids."""
    if pairs is not None:
        left, right = [*documents, *ids(pairs)][:pairs], [*tasks, *ids(pairs)][:pairs]
        columns = {JUNCTION.left.column: left, JUNCTION.right.column: right}
        parquet(staging.clean(JUNCTION.table) / "part-00000.parquet", pairs, **columns)
    parquet(staging.idmap(DOCUMENTS.source), 0, id=documents)
    parquet(staging.idmap(TASKS), 0, id=tasks)


def test_every_staged_pair_loaded_and_pairs_with_an_end_of_the_apps_apart(con, tmp_path):
    staging, documents, tasks, theirs = Staging(tmp_path), ids(3), ids(3), ids(2)
    staged_pairs(staging, documents, tasks, 3)
    table(
        con,
        JUNCTION.table,
        document_id=documents + [theirs[0], documents[0]],
        crm_accounts_task_id=tasks + [tasks[0], theirs[1]],
    )

    assert junction_row(con, staging, JUNCTION, COLLECTIONS) == {
        "table": JUNCTION.table,
        "kind": "junction",
        "staged": 3,
        "loaded": 3,
        "other_rows": 2,
        "ok": True,
    }


def test_pairs_the_load_recorded_count_as_loaded_and_a_pair_the_app_added_between_them_apart(con, tmp_path):
    """Both ends of the app's pair are migrated rows: only the load's record tells it apart."""
    staging, documents, tasks = Staging(tmp_path), ids(3), ids(3)
    staged_pairs(staging, documents, tasks, 3)
    table(con, JUNCTION.table, document_id=[*documents, documents[0]], crm_accounts_task_id=[*tasks, tasks[1]])
    con.execute("CREATE SCHEMA m2pg")
    table(con, f"owned_{JUNCTION.table}", "m2pg", document_id=documents, crm_accounts_task_id=tasks)

    row = junction_row(con, staging, JUNCTION, COLLECTIONS)

    assert (row["staged"], row["loaded"], row["other_rows"], row["ok"]) == (3, 3, 1, True)


def test_a_staged_pair_the_app_wrote_before_the_load_counts_as_loaded(con, tmp_path):
    """The app linked two migrated rows, then the source held the pair too: the load finds it in
    place. Counted as the app's, the staged pairs did not add up."""
    staging, documents, tasks = Staging(tmp_path), ids(3), ids(3)
    staged_pairs(staging, documents, tasks, 3)
    table(con, JUNCTION.table, document_id=documents, crm_accounts_task_id=tasks)
    con.execute("CREATE SCHEMA m2pg")
    table(con, f"owned_{JUNCTION.table}", "m2pg", document_id=documents[:2], crm_accounts_task_id=tasks[:2])

    row = junction_row(con, staging, JUNCTION, COLLECTIONS)

    assert (row["staged"], row["loaded"], row["other_rows"], row["ok"]) == (3, 3, 0, True)


def test_a_row_the_load_wrote_of_a_document_gone_from_the_source_fails(con, tmp_path):
    staging, ours, gone = Staging(tmp_path), ids(5), ids(1)
    staged_documents(staging, ours)
    table(con, DOCUMENTS.table, id=ours[:4] + gone + ids(1))
    con.execute("CREATE SCHEMA m2pg")
    table(con, f"owned_{DOCUMENTS.table}", "m2pg", id=ours[:4] + gone)

    row = model_row(con, staging, DOCUMENTS)

    assert (row["loaded"], row["stale_rows"], row["other_rows"], row["ok"]) == (4, 1, 1, False)
    assert reasons(row, []) == [
        "1 row the migration wrote of documents no longer in the source "
        "(the load of this staging folder deletes such rows)"
    ]


def test_a_staged_pair_not_loaded_fails(con, tmp_path):
    staging, documents, tasks = Staging(tmp_path), ids(3), ids(3)
    staged_pairs(staging, documents, tasks, 4)
    table(con, JUNCTION.table, document_id=documents, crm_accounts_task_id=tasks)

    row = junction_row(con, staging, JUNCTION, COLLECTIONS)

    assert (row["staged"], row["loaded"], row["other_rows"], row["ok"]) == (4, 3, 0, False)
    assert reasons(row, []) == ["staged 4 != loaded 3"]


def test_a_junction_not_transformed_says_what_to_run(con, tmp_path):
    staging, documents, tasks = Staging(tmp_path), ids(3), ids(3)
    staged_pairs(staging, documents, tasks, None)
    table(con, JUNCTION.table, document_id=documents, crm_accounts_task_id=tasks)

    row = junction_row(con, staging, JUNCTION, COLLECTIONS)

    assert (row["staged"], row["loaded"], row["ok"]) == (None, None, False)
    assert row["error"] == f"{staging.clean(JUNCTION.table)} is missing: run `m2pg transform`"


def test_a_junction_without_an_id_map_names_it(con, tmp_path):
    staging, documents, tasks = Staging(tmp_path), ids(3), ids(3)
    staged_pairs(staging, documents, tasks, 3)
    staging.idmap(TASKS).unlink()
    table(con, JUNCTION.table, document_id=documents, crm_accounts_task_id=tasks)

    row = junction_row(con, staging, JUNCTION, COLLECTIONS)

    assert (row["staged"], row["loaded"], row["ok"]) == (3, None, False)
    assert row["error"] == f"{staging.idmap(TASKS)} is missing: run `m2pg extract`"


@pytest.mark.parametrize("null_is_orphan, orphans", [(False, 1), (True, 2)])
def test_orphans_are_keys_naming_no_row_and_null_only_where_it_counts(con, null_is_orphan, orphans):
    parents = ids(2)
    table(con, "parent", id=parents)
    table(con, "child", parent_id=[parents[0], parents[1], parents[0], str(uuid.uuid4()), None])

    assert orphan_check(con, "child", "parent_id", "parent", null_is_orphan) == {
        "table": "child",
        "column": "parent_id",
        "references": "parent",
        "orphans": orphans,
        "ok": False,
    }


def test_no_orphans_is_ok_and_a_missing_table_is_not(con):
    parents = ids(2)
    table(con, "parent", id=parents)
    table(con, "child", parent_id=parents + [None])

    assert orphan_check(con, "child", "parent_id", "parent", False)["ok"] is True
    missing = orphan_check(con, "child", "parent_id", "absent", False)
    assert (missing["orphans"], missing["ok"]) == (None, False)
    assert missing["error"].startswith("Catalog Error: Table with name absent does not exist")


MODEL_ROW = {"table": "Boards", "kind": "model", "source": 5, "loaded": 4, "quarantined": 1, "ok": True}
GONE = "Catalog Error: Table with name Boards does not exist!"


@pytest.mark.parametrize(
    "row, checks, why",
    [
        (MODEL_ROW, [], []),
        (MODEL_ROW, [{"column": "user", "references": "Users", "orphans": 0, "ok": True}], []),
        (
            MODEL_ROW,
            [
                {"column": "user", "references": "Users", "orphans": 2, "ok": False},
                {"column": "board", "references": "Boards", "orphans": 0, "ok": True},
                {"column": "owner", "references": "Users", "orphans": 1, "ok": False},
            ],
            ["2 orphan user (no such Users)", "1 orphan owner (no such Users)"],
        ),
        (
            {**MODEL_ROW, "loaded": 3, "ok": False},
            [{"column": "user", "references": "Users", "orphans": 1, "ok": False}],
            ["source 5 != loaded 3 + quarantined 1", "1 orphan user (no such Users)"],
        ),
        (
            {**MODEL_ROW, "loaded": None, "ok": False, "error": GONE},
            [{"column": "user", "references": "Users", "orphans": None, "ok": False, "error": GONE}],
            [GONE],
        ),
        (
            {**MODEL_ROW, "loaded": None, "ok": False, "error": GONE},
            [
                {
                    "column": "user",
                    "references": "Users",
                    "orphans": None,
                    "ok": False,
                    "error": "Catalog Error: no Users",
                }
            ],
            [GONE, "user: Catalog Error: no Users"],
        ),
        (
            MODEL_ROW,
            [{"column": "user", "references": "Users", "orphans": None, "ok": False, "error": "no Users"}],
            ["user: no Users"],
        ),
        ({"table": "T", "kind": "junction", "staged": 2, "loaded": 3, "ok": False}, [], ["staged 2 != loaded 3"]),
    ],
)
def test_reasons_say_the_counts_then_each_key(row, checks, why):
    assert reasons(row, checks) == why


def test_a_row_of_a_quarantined_document_fails_and_does_not_count_as_loaded(con, tmp_path):
    """Counted as loaded (its id is in the id map), such a row and a missing one added up."""
    staging, ours = Staging(tmp_path), ids(5)
    staged_documents(staging, ours)
    table(con, DOCUMENTS.table, id=ours[:3] + ours[4:])

    row = model_row(con, staging, DOCUMENTS)

    assert (row["loaded"], row["quarantined_rows"], row["other_rows"], row["ok"]) == (3, 1, 0, False)
    assert reasons(row, []) == [
        "source 5 != loaded 3 + quarantined 1",
        "1 row of quarantined documents in the target",
    ]


def test_the_row_of_a_loaded_document_whose_second_copy_was_quarantined_counts_as_loaded(con, tmp_path):
    staging, ours = Staging(tmp_path), ids(5)
    write_json({"complete": True, "documents": 6}, staging.manifest(DOCUMENTS.source))
    parquet(staging.idmap(DOCUMENTS.source), 0, object_id=object_ids(5), id=ours)
    parquet(staging.quarantine(DOCUMENTS.source) / "part-00000.parquet", 0, object_id=object_ids(5)[-1:])
    parquet(staging.clean(DOCUMENTS.table) / "part-00000.parquet", 0, _object_id=object_ids(5))
    table(con, DOCUMENTS.table, id=ours)

    row = model_row(con, staging, DOCUMENTS)

    assert (row["source"], row["loaded"], row["quarantined_rows"], row["ok"]) == (6, 5, 0, True)
