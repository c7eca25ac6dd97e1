"""Junction rows from the owners' arrays, read a raw part at a time: the pairs, the skipped ones
by reason, and an owner whose `_id` repeats in a later part counting once (its first copy)."""
import bson
import polars as pl
from bson import ObjectId

from toolkit.decode import decode_chunk
from toolkit.extract import feeds_of
from toolkit.ids import idmap_frame, uuids_of
from toolkit.staging import Staging, write_parquet
from toolkit.transform import Outcome, junction_rows
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


def test_pairs_skips_and_an_owner_repeated_in_a_later_part(tmp_path):
    staging = Staging(tmp_path)
    write_parts(staging, [[{"_id": KEPT_DOC, KEY: [TASK_1, TASK_2, TASK_1]},
                           {"_id": REFUSED_DOC, KEY: [TASK_1, TASK_3, TASK_3]}],
                          [{"_id": KEPT_DOC, KEY: [TASK_3]},  # a second copy: not read
                           {"_id": OTHER_DOC, KEY: [TASK_1, GONE_TASK, REFUSED_TASK, None]}]])
    outcome = Outcome()
    outcome.kept = {"Documents": kept(KEPT_DOC, OTHER_DOC), "crm_Accounts_Tasks": kept(TASK_1, TASK_2, TASK_3)}
    outcome.quarantined = {"Documents": pl.Series([str(REFUSED_DOC)]),
                           "crm_Accounts_Tasks": pl.Series([str(REFUSED_TASK)])}

    frame, summary = junction_rows(staging, JUNCTION, (DOCUMENTS, TASKS), outcome)

    uuid = {str(i): uuids_of(pl.Series([str(i)]))[0] for i in (KEPT_DOC, OTHER_DOC, TASK_1, TASK_2)}
    expected = sorted([(uuid[str(KEPT_DOC)], uuid[str(TASK_1)]), (uuid[str(KEPT_DOC)], uuid[str(TASK_2)]),
                       (uuid[str(OTHER_DOC)], uuid[str(TASK_1)])])
    assert frame.columns == [JUNCTION.left.column, JUNCTION.right.column]
    assert frame.rows() == expected
    assert summary["rows"] == 3
    assert summary["pairs_by_feed"] == {f"Documents.{KEY}": 4}  # TASK_1 twice in one array
    assert summary["skipped_pairs"] == {"owner_quarantined": 3, "other_end_quarantined": 1,
                                        "other_end_missing": 1, "element_null": 1}


def test_an_owner_collection_with_no_parts_gives_no_rows(tmp_path):
    outcome = Outcome()
    outcome.kept = {"Documents": kept(), "crm_Accounts_Tasks": kept(TASK_1)}
    outcome.quarantined = {"Documents": pl.Series([], dtype=pl.String),
                           "crm_Accounts_Tasks": pl.Series([], dtype=pl.String)}

    frame, summary = junction_rows(Staging(tmp_path), JUNCTION, (DOCUMENTS, TASKS), outcome)

    assert frame.is_empty() and frame.columns == [JUNCTION.left.column, JUNCTION.right.column]
    assert summary["rows"] == 0
    assert summary["skipped_pairs"] == {"owner_quarantined": 0, "other_end_quarantined": 0, "other_end_missing": 0,
                                        "element_null": 0}
