"""The pairs verify expects in a junction: those a feed names whose both ends were loaded, each
once, sorted by both ends; per feed, its own distinct pairs."""

import polars as pl

from toolkit.stages.verify.source import Loaded, junction_pairs, rows_file
from transforms import JUNCTIONS

BOTH_SIDES = next(j for j in JUNCTIONS if j.table == "DocumentsToAccounts")
DOCUMENTS, ACCOUNTS = BOTH_SIDES.left.model, BOTH_SIDES.right.model


def oid(n: int) -> str:
    return f"{n:024x}"


def raw(n: int) -> bytes:
    return bytes.fromhex(oid(n))


def test_pairs_need_both_ends_loaded_and_count_once(tmp_path):
    pl.DataFrame({"_object_id": [oid(3), oid(1), oid(2)]}).write_parquet(rows_file(tmp_path, DOCUMENTS))
    pl.DataFrame({"_object_id": [oid(12), oid(11)]}).write_parquet(rows_file(tmp_path, ACCOUNTS))
    by_documents, by_accounts = ((f.model, f.key) for f in BOTH_SIDES.feeds)
    assert by_documents[0] == DOCUMENTS and by_accounts[0] == ACCOUNTS
    pairs = {
        by_documents: pl.DataFrame(  # owner: a document, other: an account
            {
                "owner": [raw(3), raw(1), raw(1), raw(9), raw(2)],
                "other": [raw(11), raw(12), raw(12), raw(11), raw(19)],
            }
        ),
        by_accounts: pl.DataFrame(  # owner: an account, other: a document
            {"owner": [raw(12), raw(11), raw(19)], "other": [raw(1), raw(2), raw(3)]}
        ),
    }

    expected, by_feed = junction_pairs(BOTH_SIDES, pairs, Loaded(tmp_path))

    left, right = BOTH_SIDES.left.column, BOTH_SIDES.right.column
    assert expected.columns == [left, right]
    assert expected.rows() == [(raw(1), raw(12)), (raw(2), raw(11)), (raw(3), raw(11))]
    feed_names = [f"{model}.{key}" for model, key in (by_documents, by_accounts)]
    assert sorted(by_feed[feed_names[0]].rows()) == [(raw(1), raw(12)), (raw(3), raw(11))]
    assert sorted(by_feed[feed_names[1]].rows()) == [(raw(1), raw(12)), (raw(2), raw(11))]
