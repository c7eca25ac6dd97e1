"""NextCRM's declarations against its MongoDB Prisma schema (`tests/data/source-model.json`, a
copy of the parsed schema): every stored key is declared once, as the kind, optionality, default,
enum and uniqueness the schema gives it; arrays of ObjectIds are either a uuid[] column or a
junction's feed. The target side is checked against Prisma's catalog in tests/integration/test_schema.py."""

import json
from pathlib import Path

import pytest

from toolkit.declarations.spec import LIST_KINDS, Field, Kind
from transforms import ENUMS, JUNCTIONS, MODELS

SOURCE = json.loads((Path(__file__).parent / "data" / "source-model.json").read_text())
FEEDS = {(f.model, f.key) for j in JUNCTIONS for f in j.feeds}
SCALARS = {"Int": Kind.INT, "DateTime": Kind.DATETIME, "Boolean": Kind.BOOL, "Json": Kind.JSON}


def kind_of(stored: dict) -> Kind:
    """The kind a field of the parsed schema becomes: written here from the schema's own words."""
    if stored["kind"] == "enum":
        return Kind.ENUM
    if stored["type"] == "String":
        if stored["object_id"]:
            return Kind.UUID_LIST if stored["list"] else Kind.OBJECT_ID
        return Kind.TEXT_LIST if stored["list"] else Kind.TEXT
    return SCALARS[stored["type"]]


def default_of(field: Field) -> str | None:
    """A declared default spelled as the parsed schema spells it (`now()`, `false`, `ACTIVE`)."""
    if field.default is None:
        return None
    return str(field.default).lower() if isinstance(field.default, bool) else str(field.default)


def stored_fields(model_name: str) -> dict[str, dict]:
    return {f["stored_as"]: f for f in SOURCE["models"][model_name]["fields"] if f["kind"] != "relation"}


def test_every_model_and_enum_of_the_source_is_declared():
    assert sorted(m.name for m in MODELS) == sorted(SOURCE["models"])
    assert {m.name: m.source for m in MODELS} == {n: s["collection"] for n, s in SOURCE["models"].items()}
    assert {name: list(labels) for name, labels in ENUMS.items()} == SOURCE["enums"]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_every_stored_key_is_declared_or_feeds_a_junction(model):
    stored, declared = stored_fields(model.name), {f.key for f in model.fields}
    assert declared <= set(stored), "declared keys the source does not store"
    for key in set(stored) - declared:
        assert (model.name, key) in FEEDS, f"{model.name}.{key} is neither a column nor a junction feed"
        assert stored[key]["list"] and stored[key]["object_id"]


FIELDS = [(m, f) for m in MODELS for f in m.fields if f.key != "_id"]


@pytest.mark.parametrize(("model", "field"), FIELDS, ids=[f"{m.name}.{f.key}" for m, f in FIELDS])
def test_each_field_is_declared_as_the_source_stores_it(model, field):
    stored = stored_fields(model.name)[field.key]
    assert field.kind is kind_of(stored)
    assert field.enum == (stored["type"] if stored["kind"] == "enum" else None)
    assert field.unique is stored["unique"]
    assert default_of(field) == (stored["default"].strip('"') if stored["default"] is not None else None)
    if field.kind not in LIST_KINDS:  # a list is never required: a missing one is empty
        assert field.optional is stored["optional"]


def test_every_id_is_an_object_id_with_a_generated_default():
    for name, model in SOURCE["models"].items():
        ids = [f for f in model["fields"] if f["id"]]
        assert [(f["stored_as"], f["object_id"], f["default"]) for f in ids] == [("_id", True, "auto()")], name
    assert all(m.fields[0].key == "_id" and m.fields[0].kind is Kind.OBJECT_ID for m in MODELS)
