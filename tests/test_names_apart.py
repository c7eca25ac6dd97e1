"""A model's name, its collection and its table are three names: the stages look each up as what it is."""

import bson
import pytest
from bson import ObjectId

from toolkit.declarations.spec import ID, Field, Kind, ModelSpec, Reference
from toolkit.sources.readers import DumpSource
from toolkit.stages.extract import extract
from toolkit.stages.transform import transform
from toolkit.staging.layout import Staging, read_json

PEOPLE = [ObjectId() for _ in range(3)]
PERSON = ModelSpec("Person", (ID, Field("name", Kind.TEXT)), collection="people")
NOTE = ModelSpec(
    "Note",
    (
        ID,
        Field("text", Kind.TEXT),
        Field("author", Kind.OBJECT_ID, optional=True, references=Reference("Person")),
        Field("seenBy", Kind.UUID_LIST, points_to="Person"),
        Field("editor", Kind.OBJECT_ID, optional=True, points_to="Person"),
    ),
    collection="notes",
)


@pytest.mark.parametrize("workers", [1, 2])
def test_references_and_reported_ids_are_found_in_the_collection_of_the_model_they_name(tmp_path, workers):
    folder = tmp_path / "dump" / "toy"
    folder.mkdir(parents=True)
    (folder / "people.bson").write_bytes(
        b"".join(bson.encode({"_id": p, "name": f"p{n}"}) for n, p in enumerate(PEOPLE))
    )
    notes = [
        {"_id": ObjectId(), "text": "known", "author": PEOPLE[0], "seenBy": PEOPLE[:2], "editor": PEOPLE[2]},
        {"_id": ObjectId(), "text": "stranger", "author": ObjectId(), "seenBy": [ObjectId()], "editor": ObjectId()},
    ]
    (folder / "notes.bson").write_bytes(b"".join(map(bson.encode, notes)))
    staging = Staging(tmp_path / "staging")
    extract(DumpSource(tmp_path / "dump", "toy"), staging, (PERSON, NOTE), (), workers=1)
    transform(staging, (PERSON, NOTE), (), {}, workers=workers)
    report = {c["collection"]: c for c in read_json(staging.report("transform.json"))["collections"]}
    assert report["notes"]["clean"] == 2
    assert report["notes"]["nulled_references"] == {"author": {"missing": 1}}
    assert report["notes"]["dangling_ids"] == {"seenBy": 1, "editor": 1}  # the stranger's only
