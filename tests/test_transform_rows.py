"""Transform's rows for several documents at once: ids through the ID function, references remapped
or flagged (and why a missing one is missing), dangling ids counted, ids looked up in sorted lists."""

import bson
import polars as pl
from bson import ObjectId

from toolkit.documents.decode import decode_chunk
from toolkit.documents.ids import uuid_for, uuids_of
from toolkit.documents.lookup import is_among, position
from toolkit.stages.extract import feeds_of
from toolkit.stages.rules import PROBLEM
from toolkit.stages.transform.judge import _reference, judge
from toolkit.stages.transform.outcome import Outcome
from toolkit.stages.transform.rows import _dangling, _uuid_lists, clean_rows
from transforms import ENUMS, JUNCTIONS, MODELS

SPECS = {m.name: m for m in MODELS}
BOARDS = SPECS["Boards"]
U1, U2, REFUSED, GONE, GONE_TOO = (ObjectId(f"6b064c82833346aaba78a4{n:02x}") for n in (1, 2, 3, 4, 5))


def outcome() -> Outcome:
    state = Outcome()
    for name in SPECS:
        state.kept[name] = pl.DataFrame(schema={"object_id": pl.String, "id": pl.String})
        state.quarantined[name] = pl.Series([], dtype=pl.String)
    users = pl.Series([str(U1), str(U2)])
    state.kept["Users"] = pl.DataFrame({"object_id": users, "id": uuids_of(users)})
    state.quarantined["Users"] = pl.Series([str(REFUSED)])
    state.idmaps["Users"] = pl.Series([str(U1), str(U2), str(REFUSED)]).sort()
    return state


def boards(documents: list[dict], state: Outcome) -> pl.DataFrame:
    raw = pl.from_arrow(decode_chunk(b"".join(bson.encode(d) for d in documents), BOARDS, feeds_of(BOARDS, JUNCTIONS)))
    return judge(raw, BOARDS, ENUMS, state)


def board(n: int, **fields) -> dict:
    return {"_id": ObjectId(f"6b064c82833346aaba78a5{n:02x}"), "__v": 0, "description": "d", "title": "t", **fields}


def test_rows_carry_their_ids_their_references_and_the_dangling_ids_counted():
    state = outcome()
    documents = [
        board(1, user=U1, sharedWith=[U2, GONE, U1], createdBy=GONE_TOO),
        board(2, user=U2, sharedWith=[], createdBy=U1),
        board(3, user=U1, sharedWith=[GONE, None], createdBy=GONE),
    ]
    judged = boards(documents, state)
    report = {"dangling_ids": {}}

    rows = clean_rows(judged, BOARDS, lambda collection: state.idmaps[collection], report)

    assert rows["id"].to_list() == [uuid_for(str(d["_id"])) for d in documents]
    assert rows["_object_id"].to_list() == [str(d["_id"]) for d in documents]
    assert rows["user"].to_list() == [uuid_for(str(U1)), uuid_for(str(U2)), uuid_for(str(U1))]
    assert rows["createdBy"].to_list() == [uuid_for(str(GONE_TOO)), uuid_for(str(U1)), uuid_for(str(GONE))]
    assert rows["sharedWith"].to_list() == [
        [uuid_for(str(U2)), uuid_for(str(GONE)), uuid_for(str(U1))],
        [],
        [uuid_for(str(GONE)), None],
    ]
    assert report["dangling_ids"] == {"createdBy": 2, "sharedWith": 2, "updatedBy": 0}


def test_a_reference_that_points_nowhere_says_whether_its_target_is_quarantined_or_missing():
    state = outcome()
    judged = boards([board(1, user=U1), board(2, user=REFUSED), board(3, user=GONE)], state)

    assert judged["m2pg_miss_user"].to_list() == [None, "quarantined", "missing"]
    assert judged["m2pg_ref_user"].to_list() == [uuid_for(str(U1)), None, None]
    reasons = [[p["reason"] for p in problems] for problems in judged["problems"].to_list()]
    assert reasons == [
        [],
        [f"user: Users {REFUSED} is quarantined, so this record cannot reference it"],
        [f"user: Users {GONE} does not exist"],
    ]


def test_a_missing_reference_into_a_collection_the_source_lacks_says_so():
    state = outcome()
    state.absent["Users"] = "users"
    judged = boards([board(1, user=GONE)], state)

    assert judged["problems"].to_list()[0][0]["reason"] == (
        f"user: Users {GONE} does not exist (the source holds no users collection)"
    )


def test_an_optional_reference_that_points_nowhere_is_marked_not_refused():
    state = outcome()
    field = next(f for f in SPECS["crm_Opportunities"].fields if f.name == "assigned_to")
    frame = pl.DataFrame(
        {field.key: [str(U1), str(REFUSED), str(GONE), None], "problems": pl.Series([[]] * 4, dtype=pl.List(PROBLEM))}
    )

    judged = _reference(frame, field, state)

    assert judged["m2pg_miss_assigned_to"].to_list() == [None, "quarantined", "missing", None]
    assert judged["m2pg_ref_assigned_to"].to_list() == [uuid_for(str(U1)), None, None, None]
    assert judged["problems"].to_list() == [[]] * 4


def test_references_all_found_are_marked_missing_nowhere_with_the_same_types():
    """A part whose every reference is found skips the reasons, not the columns: the part with a
    dangling one and the part without stack into one frame."""
    state = outcome()
    found = boards([board(1, user=U1), board(2, user=U2)], state)
    dangling = boards([board(3, user=GONE)], state)

    assert found["m2pg_miss_user"].to_list() == [None, None]
    assert found["problems"].to_list() == [[], []]
    assert found.schema == dangling.schema
    assert pl.concat([found, dangling])["m2pg_miss_user"].to_list() == [None, None, "missing"]


def test_ids_are_looked_up_in_a_sorted_list_nulls_and_all():
    known = pl.Series(["a", "c", "e"])
    assert is_among(pl.Series(["e", "b", None, "a", "z", ""]), known).to_list() == [
        True,
        False,
        False,
        True,
        False,
        False,
    ]
    assert is_among(pl.Series(["a", None]), pl.Series([], dtype=pl.String)).to_list() == [False, False]
    assert _dangling(pl.Series(["a", None, "b", "z", "b"]), known) == 3


def test_ids_are_found_at_their_first_place_few_or_many():
    known = pl.Series([f"{n:024x}" for n in range(0, 400, 2)] + [f"{400:024x}"] * 3)  # sorted, the last repeated
    values = pl.Series([f"{n:024x}" for n in (398, 3, 0, 400, 401)] + [None])
    expected = [199, None, 0, 200, None, None]  # a repeated id: its first place
    assert position(values, known).to_list() == expected
    many = pl.concat([values] * known.len())  # more values than `known` holds
    assert position(many, known).to_list() == expected * known.len()
    assert position(many, known).dtype == position(values, known).dtype == pl.UInt32


def test_uuid_lists_of_a_series_in_several_chunks():
    lists = pl.concat([pl.Series([[str(U1)]]), pl.Series([[str(U2), None], None])], rechunk=False)
    assert lists.n_chunks() == 2
    assert _uuid_lists(lists).to_list() == [[uuid_for(str(U1))], [uuid_for(str(U2)), None], None]
