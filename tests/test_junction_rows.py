"""Junction rows from the owners' arrays, read a raw part at a time: the pairs, the skipped ones
by reason, and an owner whose `_id` repeats in a later part counting once (its first copy)."""

import bson
import polars as pl
from bson import ObjectId

from toolkit.documents.decode import decode_chunk
from toolkit.documents.ids import idmap_frame, uuids_of
from toolkit.stages.extract import feeds_of
from toolkit.stages.transform.junctions import junction_places, uuid_slices
from toolkit.stages.transform.outcome import Outcome
from toolkit.staging.layout import Staging, write_parquet
from transforms import JUNCTIONS, MODELS

SPECS = {m.name: m for m in MODELS}
JUNCTION = next(j for j in JUNCTIONS if j.table == "DocumentsToCrmAccountsTasks")
DOCUMENTS, TASKS = SPECS["Documents"], SPECS["crm_Accounts_Tasks"]
KEY = JUNCTION.feeds[0].key


def oid(n: int) -> ObjectId:
    return ObjectId(f"{n:024x}")


KEPT_DOC, REFUSED_DOC, OTHER_DOC = oid(1), oid(2), oid(3)
TASK_1, TASK_2, TASK_3, GONE_TASK, REFUSED_TASK = oid(11), oid(12), oid(13), oid(14), oid(15)


def write_parts(staging: Staging, parts: list[list[dict]]) -> None:
    """Raw parts and the ID lookup of every extracted `_id`, as extract stages them."""
    ids = []
    for number, documents in enumerate(parts):
        buffer = b"".join(bson.encode(d) for d in documents)
        table = decode_chunk(buffer, DOCUMENTS, feeds_of(DOCUMENTS, JUNCTIONS))
        write_parquet(table, staging.raw_dir(DOCUMENTS.source) / f"part-{number:05d}.parquet")
        ids.append(pl.from_arrow(table["m2pg_object_id"]))
    write_parquet(idmap_frame(DOCUMENTS.source, pl.concat(ids)).to_arrow(), staging.idmap(DOCUMENTS.source))


def kept(*ids: ObjectId) -> pl.DataFrame:
    """What a model kept, as the outcome holds it: sorted by ObjectId."""
    text = pl.Series([str(i) for i in ids], dtype=pl.String)
    return pl.DataFrame({"object_id": text, "id": uuids_of(text)}).sort("object_id")


def junction_rows(staging: Staging, j, ends, outcome: Outcome) -> tuple[pl.DataFrame, dict]:
    """The junction table's rows with their UUIDs, all at once, and its summary."""
    places, summary = junction_places(staging, j, ends, outcome)
    return pl.concat(uuid_slices(places, j, outcome)), summary


def test_pairs_skips_and_an_owner_repeated_in_a_later_part(tmp_path):
    staging = Staging(tmp_path)
    write_parts(
        staging,
        [
            [{"_id": KEPT_DOC, KEY: [TASK_1, TASK_2, TASK_1]}, {"_id": REFUSED_DOC, KEY: [TASK_1, TASK_3, TASK_3]}],
            [
                {"_id": KEPT_DOC, KEY: [TASK_3]},  # a second copy: not read
                {"_id": OTHER_DOC, KEY: [TASK_1, GONE_TASK, REFUSED_TASK, None]},
            ],
        ],
    )
    outcome = Outcome()
    outcome.kept = {"Documents": kept(KEPT_DOC, OTHER_DOC), "crm_Accounts_Tasks": kept(TASK_1, TASK_2, TASK_3)}
    outcome.quarantined = {
        "Documents": pl.Series([str(REFUSED_DOC), str(KEPT_DOC)]),  # KEPT_DOC's second copy: a repeat
        "crm_Accounts_Tasks": pl.Series([str(REFUSED_TASK)]),
    }

    frame, summary = junction_rows(staging, JUNCTION, (DOCUMENTS, TASKS), outcome)

    uuid = {str(i): uuids_of(pl.Series([str(i)]))[0] for i in (KEPT_DOC, OTHER_DOC, TASK_1, TASK_2)}
    expected = sorted(
        [
            (uuid[str(KEPT_DOC)], uuid[str(TASK_1)]),
            (uuid[str(KEPT_DOC)], uuid[str(TASK_2)]),
            (uuid[str(OTHER_DOC)], uuid[str(TASK_1)]),
        ]
    )
    assert frame.columns == [JUNCTION.left.column, JUNCTION.right.column]
    assert frame.rows() == expected
    assert summary["rows"] == 3
    assert summary["pairs_by_feed"] == {f"Documents.{KEY}": 4}  # TASK_1 twice in one array
    assert summary["skipped_pairs"] == {
        "owner_quarantined": 3,
        "other_end_quarantined": 1,
        "other_end_missing": 1,
        "element_null": 1,
    }


def test_an_owner_collection_with_no_parts_gives_no_rows(tmp_path):
    outcome = Outcome()
    outcome.kept = {"Documents": kept(), "crm_Accounts_Tasks": kept(TASK_1)}
    outcome.quarantined = {
        "Documents": pl.Series([], dtype=pl.String),
        "crm_Accounts_Tasks": pl.Series([], dtype=pl.String),
    }

    frame, summary = junction_rows(Staging(tmp_path), JUNCTION, (DOCUMENTS, TASKS), outcome)

    assert frame.is_empty() and frame.columns == [JUNCTION.left.column, JUNCTION.right.column]
    assert summary["rows"] == 0
    assert summary["skipped_pairs"] == {
        "owner_quarantined": 0,
        "other_end_quarantined": 0,
        "other_end_missing": 0,
        "element_null": 0,
    }


def test_every_part_adds_to_the_skipped_counts_and_rows_sort_by_both_ends(tmp_path):
    staging = Staging(tmp_path)
    gone_too = oid(16)
    write_parts(
        staging,
        [
            [{"_id": KEPT_DOC, KEY: [TASK_2, TASK_1, None, GONE_TASK, REFUSED_TASK]}],
            [{"_id": OTHER_DOC, KEY: [TASK_1, None, GONE_TASK, gone_too, REFUSED_TASK]}],
        ],
    )
    outcome = Outcome()
    outcome.kept = {"Documents": kept(KEPT_DOC, OTHER_DOC), "crm_Accounts_Tasks": kept(TASK_1, TASK_2)}
    outcome.quarantined = {
        "Documents": pl.Series([], dtype=pl.String),
        "crm_Accounts_Tasks": pl.Series([str(REFUSED_TASK)]),
    }

    frame, summary = junction_rows(staging, JUNCTION, (DOCUMENTS, TASKS), outcome)

    uuid = {i: uuids_of(pl.Series([str(i)]))[0] for i in (KEPT_DOC, OTHER_DOC, TASK_1, TASK_2)}
    assert frame.rows() == sorted(
        [(uuid[KEPT_DOC], uuid[TASK_2]), (uuid[KEPT_DOC], uuid[TASK_1]), (uuid[OTHER_DOC], uuid[TASK_1])]
    )
    assert summary["skipped_pairs"] == {
        "owner_quarantined": 0,
        "other_end_quarantined": 2,
        "other_end_missing": 3,
        "element_null": 2,
    }
    assert summary["table"] == JUNCTION.table and summary["pairs_known_to_one_side_only"] == 0


def with_undefined(document: dict, key: str) -> bytes:
    """The document with `key` an array of its ObjectIds and then one undefined (BSON type 6:
    the old drivers' null, which bson cannot encode)."""
    items = document.pop(key)
    undefined = b"\x06" + str(len(items)).encode() + b"\x00"
    elements = bson.encode({str(i): v for i, v in enumerate(items)})[4:-1] + undefined
    array = (len(elements) + 5).to_bytes(4, "little") + elements + b"\x00"
    body = bson.encode(document)[4:-1] + b"\x04" + key.encode() + b"\x00" + array
    return (len(body) + 5).to_bytes(4, "little") + body + b"\x00"


def test_an_undefined_in_an_array_is_skipped_as_a_null_and_its_owner_kept(tmp_path):
    raw = with_undefined({"_id": KEPT_DOC, KEY: [TASK_1]}, KEY)
    assert bson.decode(raw)[KEY] == [TASK_1, None]
    table = pl.from_arrow(decode_chunk(raw, DOCUMENTS, feeds_of(DOCUMENTS, JUNCTIONS)))
    assert table["m2pg_problems"].to_list() == [[]]  # a good record: not quarantined
    assert table[KEY].to_list() == [[str(TASK_1), None]]
    assert table["m2pg_document"].to_list() == [raw]  # the original bytes, undefined and all
    staging = Staging(tmp_path)
    write_parquet(table.to_arrow(), staging.raw_dir(DOCUMENTS.source) / "part-00000.parquet")
    outcome = Outcome()
    outcome.kept = {"Documents": kept(KEPT_DOC), "crm_Accounts_Tasks": kept(TASK_1)}
    outcome.quarantined = {name: pl.Series([], dtype=pl.String) for name in outcome.kept}

    frame, summary = junction_rows(staging, JUNCTION, (DOCUMENTS, TASKS), outcome)

    assert summary["rows"] == 1 and summary["skipped_pairs"]["element_null"] == 1


def test_an_owner_whose_first_copy_has_no_array_names_no_pair(tmp_path):
    staging = Staging(tmp_path)
    write_parts(staging, [[{"_id": KEPT_DOC, KEY: None}], [{"_id": KEPT_DOC, KEY: [TASK_1]}]])
    outcome = Outcome()
    outcome.kept = {"Documents": kept(KEPT_DOC), "crm_Accounts_Tasks": kept(TASK_1)}
    outcome.quarantined = {
        "Documents": pl.Series([str(KEPT_DOC)]),  # the second copy, refused as a repeat
        "crm_Accounts_Tasks": pl.Series([], dtype=pl.String),
    }

    frame, summary = junction_rows(staging, JUNCTION, (DOCUMENTS, TASKS), outcome)

    assert frame.is_empty() and summary["rows"] == 0


BOTH_SIDES = next(j for j in JUNCTIONS if j.table == "DocumentsToAccounts")
ACCOUNTS = SPECS["crm_Accounts"]


def test_a_pair_named_by_both_sides_is_one_row_and_the_one_sided_ones_are_counted(tmp_path):
    staging = Staging(tmp_path)
    doc_1, doc_2, account_1, account_2, account_3 = oid(21), oid(22), oid(31), oid(32), oid(33)
    refused_doc, gone_doc, refused_account, gone_account = oid(23), oid(29), oid(34), oid(39)
    documents_key, accounts_key = (f.key for f in BOTH_SIDES.feeds)
    for model, documents in (
        (
            DOCUMENTS,
            [
                {"_id": doc_1, documents_key: [account_1, account_2, account_2, refused_account]},
                {"_id": doc_2, documents_key: [account_3, gone_account]},
            ],
        ),
        (
            ACCOUNTS,
            [
                {"_id": account_1, accounts_key: [doc_1, refused_doc]},
                {"_id": account_2, accounts_key: [doc_1, gone_doc, refused_doc]},
                {"_id": account_3, accounts_key: [doc_1]},
            ],
        ),
    ):
        table = decode_chunk(b"".join(bson.encode(d) for d in documents), model, feeds_of(model, JUNCTIONS))
        write_parquet(table, staging.raw_dir(model.source) / "part-00000.parquet")
    outcome = Outcome()
    outcome.kept = {"Documents": kept(doc_1, doc_2), "crm_Accounts": kept(account_1, account_2, account_3)}
    outcome.quarantined = {
        "Documents": pl.Series([str(refused_doc)], dtype=pl.String),
        "crm_Accounts": pl.Series([str(refused_account)], dtype=pl.String),
    }

    frame, summary = junction_rows(staging, BOTH_SIDES, (DOCUMENTS, ACCOUNTS), outcome)

    uuid = {i: uuids_of(pl.Series([str(i)]))[0] for i in (doc_1, doc_2, account_1, account_2, account_3)}
    assert frame.columns == ["document_id", "account_id"]
    assert frame.rows() == sorted(
        [
            (uuid[doc_1], uuid[account_1]),
            (uuid[doc_1], uuid[account_2]),
            (uuid[doc_1], uuid[account_3]),
            (uuid[doc_2], uuid[account_3]),
        ]
    )
    assert summary["pairs_by_feed"] == {f"Documents.{documents_key}": 4, f"crm_Accounts.{accounts_key}": 3}
    # (doc_2, account_3) only in the documents' arrays, (doc_1, account_3) only in the accounts'
    assert summary["pairs_known_to_one_side_only"] == 2
    assert summary["skipped_pairs"] == {  # both sides' arrays add to the counts
        "owner_quarantined": 0,
        "other_end_quarantined": 3,
        "other_end_missing": 2,
        "element_null": 0,
    }


def many_pairs(tmp_path) -> tuple[Staging, Outcome]:
    """Five documents each naming every one of three tasks: fifteen pairs."""
    staging = Staging(tmp_path)
    documents = [oid(100 + n) for n in range(5)]
    tasks = [TASK_3, TASK_1, TASK_2]
    write_parts(staging, [[{"_id": d, KEY: tasks} for d in reversed(documents)]])
    outcome = Outcome()
    outcome.kept = {"Documents": kept(*documents), "crm_Accounts_Tasks": kept(*tasks)}
    outcome.quarantined = {name: pl.Series([], dtype=pl.String) for name in outcome.kept}
    return staging, outcome


def test_the_uuids_made_a_slice_at_a_time_are_the_whole_table_in_order(tmp_path):
    staging, outcome = many_pairs(tmp_path)
    places, _ = junction_places(staging, JUNCTION, (DOCUMENTS, TASKS), outcome)

    slices = list(uuid_slices(places, JUNCTION, outcome, rows=4))
    whole = pl.concat(list(uuid_slices(places, JUNCTION, outcome, rows=100)))

    assert [s.height for s in slices] == [4, 4, 4, 3]
    assert pl.concat(slices).rows() == whole.rows() == sorted(whole.rows())
    assert whole.height == 15
    assert [s.height for s in uuid_slices(places.head(1), JUNCTION, outcome, rows=1)] == [1]
    assert [s.height for s in uuid_slices(places.head(0), JUNCTION, outcome, rows=1)] == [0]  # at least one frame


def test_kept_ids_not_written_as_lowercase_hex_are_sorted_by_their_uuids(tmp_path):
    staging, outcome = many_pairs(tmp_path)
    places, _ = junction_places(staging, JUNCTION, (DOCUMENTS, TASKS), outcome)
    tasks = outcome.kept["crm_Accounts_Tasks"]
    outcome.kept["crm_Accounts_Tasks"] = tasks.with_columns(  # their text order is no longer the UUIDs'
        object_id=pl.Series([str(TASK_3).upper(), str(TASK_1), str(TASK_2)])
    )

    slices = list(uuid_slices(places, JUNCTION, outcome, rows=4))

    assert len(slices) == 1
    assert slices[0].rows() == sorted(slices[0].rows())


def test_an_undefined_in_an_optional_field_is_a_null_and_its_document_kept():
    """`_EMPTY` allows undefined (the old drivers' null) in any field, but pymongoarrow refused
    it and the document went to the quarantine as `type`: a good record lost."""
    plain = bson.encode({"_id": OTHER_DOC, "document_name": "kept", "description": None})
    raw = plain.replace(b"\x0adescription\x00", b"\x06description\x00")
    assert raw != plain and bson.decode(raw)["description"] is None
    table = pl.from_arrow(decode_chunk(plain + raw, DOCUMENTS, feeds_of(DOCUMENTS, JUNCTIONS)))
    assert table["m2pg_problems"].to_list() == [[], []]
    assert table["description"].to_list() == [None, None] and table["document_name"].to_list() == ["kept"] * 2
    assert table["m2pg_document"].to_list() == [plain, raw]  # the original bytes, undefined and all
