"""Sampled verify holds only what it compares: the seeded sample of a collection's expected rows
read by position, and the column profiles taken over a scan of them, with every reference to a
document that was not loaded counted NULL, as PostgreSQL holds it."""

import polars as pl

from toolkit.declarations.kinds import KINDS
from toolkit.documents.ids import uuid_for
from toolkit.stages.verify import source as verify_source
from toolkit.stages.verify.source import Loaded, expected_rows, rows_file, sampled_rows
from transforms import MODELS

SPECS = {m.name: m for m in MODELS}
CONTRACTS = SPECS["crm_Contracts"]  # `account` is an optional reference to crm_Accounts
ACCOUNT = "6b064c82833346aaba78a440"
GONE = "6b064c82833346aaba78a441"  # an account that was never loaded


def handover(folder, contracts: int) -> Loaded:
    """A handover folder as the read jobs leave it: one loaded account, `contracts` contracts
    naming it, the account never loaded, or none."""
    for f in CONTRACTS.fields:  # every model a contract references: none of its documents loaded
        if f.references:
            pl.DataFrame({"_object_id": []}, schema={"_object_id": pl.String}).write_parquet(
                rows_file(folder, f.references.model)
            )
    pl.DataFrame({"_object_id": [ACCOUNT]}).write_parquet(rows_file(folder, "crm_Accounts"))
    oids = [f"6b064c82833346aaba78{n:04x}" for n in range(contracts)]
    given = {
        "id": [uuid_for(o) for o in oids],
        "title": [f"contract {n}" for n in range(contracts)],
        "account": [(ACCOUNT, GONE, None)[n % 3] for n in range(contracts)],
    }
    columns = {f.name: given.get(f.name, [None] * contracts) for f in CONTRACTS.fields}
    schema = {f.name: KINDS[f.kind].read_dtype for f in CONTRACTS.fields}
    pl.DataFrame({**columns, "_object_id": oids}, schema={**schema, "_object_id": pl.String}).write_parquet(
        rows_file(folder, CONTRACTS.name), row_group_size=7
    )
    return Loaded(folder)


def test_profiles_count_a_reference_to_a_document_not_loaded_as_null(tmp_path):
    loaded = handover(tmp_path, 30)
    scanned = expected_rows(tmp_path, CONTRACTS, loaded)
    assert isinstance(scanned, pl.LazyFrame)
    rows = scanned.collect()
    assert rows["account"].null_count() == 20  # 10 never set, 10 naming the account that is gone
    assert rows.filter(pl.col("account").is_not_null())["account"].unique().to_list() == [ACCOUNT]


def test_the_sample_is_seeded_and_holds_the_chosen_rows_resolved(tmp_path):
    loaded = handover(tmp_path, 40)
    first = pl.concat(sampled_rows(tmp_path, CONTRACTS, loaded, 40, 9, seed=3))
    again = pl.concat(sampled_rows(tmp_path, CONTRACTS, loaded, 40, 9, seed=3))
    other = pl.concat(sampled_rows(tmp_path, CONTRACTS, loaded, 40, 9, seed=4))
    assert first.height == 9 and first.equals(again) and not first.equals(other)
    assert first["_object_id"].n_unique() == 9
    whole = pl.read_parquet(rows_file(tmp_path, CONTRACTS.name))
    for row in first.iter_rows(named=True):  # each chosen row is the row of its document
        source = whole.row(by_predicate=pl.col("_object_id") == row["_object_id"], named=True)
        assert row["title"] == source["title"] and row["id"] == source["id"]
        assert row["account"] == (uuid_for(ACCOUNT) if source["account"] == ACCOUNT else None)


def test_a_sample_larger_than_the_collection_takes_every_row(tmp_path):
    loaded = handover(tmp_path, 12)
    assert sorted(pl.concat(sampled_rows(tmp_path, CONTRACTS, loaded, 12, 100, seed=7))["title"]) == sorted(
        f"contract {n}" for n in range(12)
    )


def test_a_sample_of_large_rows_comes_a_few_rows_at_a_time_in_the_files_order(tmp_path, monkeypatch):
    loaded = handover(tmp_path, 40)
    whole = pl.concat(sampled_rows(tmp_path, CONTRACTS, loaded, 40, 30, seed=5))
    monkeypatch.setattr(verify_source, "PART_BYTES", 1)  # a batch per row group holding a chosen row
    batches = list(sampled_rows(tmp_path, CONTRACTS, loaded, 40, 30, seed=5))
    assert len(batches) > 1 and pl.concat(batches).equals(whole)
    order = pl.read_parquet(rows_file(tmp_path, CONTRACTS.name))["_object_id"].to_list()
    assert whole["_object_id"].to_list() == sorted(whole["_object_id"], key=order.index)
