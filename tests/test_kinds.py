"""The table of kinds against what the stages and the app's own catalog say: a wrong row (a BSON
type let through, a staged type, a catalog type) fails here, not deep inside a run."""

import json
from datetime import datetime
from pathlib import Path

import bson
import polars as pl
import pyarrow as pa
import pytest
from bson import Int64, ObjectId, Regex

from toolkit.declarations.kinds import KINDS
from toolkit.declarations.spec import ID, LIST_KINDS, Field, Kind, ModelSpec
from toolkit.documents import index as bt
from toolkit.documents.decode import decode_chunk
from toolkit.target.schema import catalog_precision, catalog_type
from transforms import MODELS

CATALOG = json.loads((Path(__file__).parent / "data" / "target-catalog.json").read_text())


def field_of(kind: Kind) -> Field:
    return Field(kind.name.lower(), kind, optional=True, enum="E" if kind is Kind.ENUM else None)


ALL_KINDS = ModelSpec("AllKinds", (ID, *(field_of(k) for k in Kind)))
VALUES = {  # kind -> a value of each BSON type it takes, and one of a type it refuses (None: it takes any)
    Kind.OBJECT_ID: ([ObjectId()], "6b064c82833346aaba78a401"),
    Kind.TEXT: (["a"], 1),
    Kind.INT: ([5, Int64(5), 5.0], "5"),
    Kind.BOOL: ([True], 1),
    Kind.DATETIME: ([datetime(2020, 1, 2)], "2020-01-02"),
    Kind.JSON: ([{"a": [1]}, "s", 1.5, Regex("x")], None),
    Kind.ENUM: (["A"], True),
    Kind.TEXT_LIST: ([["a"]], "a"),
    Kind.UUID_LIST: ([[ObjectId()]], ObjectId()),
}


def bson_type_name(value) -> str:
    return bt.TYPE_NAMES[bson.encode({"v": value})[4]]


def decoded(documents: list[dict], model: ModelSpec = ALL_KINDS) -> pa.Table:
    return decode_chunk(b"".join(bson.encode({"_id": ObjectId(), **d}) for d in documents), model)


def test_every_kind_has_a_complete_row():
    assert set(KINDS) == set(Kind)
    for kind, facts in KINDS.items():
        assert facts.bson, kind
        assert isinstance(facts.raw, pa.DataType) and pl.Series([], dtype=facts.clean) is not None, kind
        assert (facts.pg_type is None) == (kind is Kind.ENUM), kind
        assert "{}" in facts.read and pl.Series([], dtype=facts.read_dtype) is not None, kind
        is_list = kind in LIST_KINDS
        assert isinstance(facts.clean, pl.List) == is_list == pa.types.is_list(facts.raw), kind


@pytest.mark.parametrize("present", [True, False], ids=["present", "absent"])
def test_decode_stages_each_kind_as_its_row_says(present):
    document = {field_of(k).name: VALUES[k][0][0] for k in Kind} if present else {}
    staged = decoded([document])
    assert pl.from_arrow(staged["m2pg_problems"]).to_list() == [[]]
    assert {k: staged.schema.field(field_of(k).name).type for k in Kind} == {k: KINDS[k].raw for k in Kind}


@pytest.mark.parametrize("kind", list(Kind), ids=str)
def test_decode_takes_the_bson_types_of_the_row_and_refuses_others(kind):
    model = ModelSpec("One", (ID, field_of(kind)))
    taken, refused = VALUES[kind]
    documents = [{field_of(kind).name: v} for v in taken] + ([{field_of(kind).name: refused}] if refused else [])
    problems = pl.from_arrow(decoded(documents, model)["m2pg_problems"]).to_list()
    assert problems[: len(taken)] == [[]] * len(taken)
    if refused is not None:  # refused by the type check, before pymongoarrow could convert or choke on it
        assert [
            (p["rule"], f"the document holds a BSON {bson_type_name(refused)}" in p["reason"]) for p in problems[-1]
        ] == [("type", True)]


def test_the_ddl_types_are_those_of_the_apps_own_migration():
    """tests/data/target-catalog.json is the catalog Prisma's migration makes."""
    tables = CATALOG["tables"]
    for model in MODELS:
        live = {c["name"]: c for c in tables[model.table]["columns"]}
        for f in model.fields:
            assert (catalog_type(f), catalog_precision(f)) == (live[f.name]["type"], live[f.name]["precision"]), (
                f"{model.table}.{f.name}"
            )
    used = {f.kind for m in MODELS for f in m.fields}
    assert used == set(Kind)  # so every row's catalog type is checked
