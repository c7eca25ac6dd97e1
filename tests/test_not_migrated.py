"""What the app does not declare, said as warnings: collections and fields the source holds that
no model names, counted in words, with a few ids of their documents."""

import bson
import polars as pl
from bson import ObjectId

from toolkit.sources.coverage import of_source, unknown_fields, warnings
from toolkit.sources.readers import DumpSource
from toolkit.staging.layout import Staging, write_json
from transforms import APP


def test_what_is_not_migrated_is_counted_in_words():
    said = warnings(
        {
            "undeclared_collections": [{"collection": "audit_log", "documents": 1, "sample_ids": ["a1"]}],
            "unknown_fields": [
                {"collection": "Users", "field": "legacy", "documents": 2, "sample_ids": ["u1", "u2"]},
                {"collection": "Boards", "field": "", "documents": 1, "sample_ids": ["b1"]},
            ],
        }
    )
    assert said == [
        "collection audit_log (1 document, e.g. _id a1) is not declared by the app: not migrated",
        "field Users.legacy (2 documents, e.g. _id u1, u2) is not declared by the app: not migrated",
        "field Boards.(the empty name) (1 document, e.g. _id b1) is not declared by the app: not migrated",
    ]


def test_the_ids_shown_of_an_unknown_field_are_distinct(tmp_path):
    """A dump may hold two documents with one _id: both count, their id is shown once."""
    staging, users = Staging(tmp_path), next(m for m in APP.models if m.source == "Users")
    staging.raw_dir(users.source).mkdir(parents=True)
    write_json({"unknown_fields": {"legacy": 4}, "parts": []}, staging.manifest(users.source))
    pl.DataFrame(
        {
            "m2pg_object_id": ["a1", "a1", None, "b2"],
            "m2pg_source_id": [None, None, "7", None],
            "m2pg_unknown_fields": [["legacy"], ["legacy"], ["legacy", "old"], ["legacy"]],
        }
    ).write_parquet(staging.raw_dir(users.source) / "part-00000.parquet")
    found = unknown_fields(staging, [users])
    assert found == [
        {"collection": "Users", "field": "legacy", "documents": 4, "sample_ids": ["a1", "7", "b2"]},
        {"collection": "Users", "field": "old", "documents": 1, "sample_ids": ["7"]},
    ]


def test_an_undeclared_collection_of_documents_pymongo_cannot_decode_is_still_counted(tmp_path):
    """A real MongoDB may hold invalid UTF-8 (old drivers wrote it): the sample ids of a collection
    the app does not declare were decoded whole, and the extract failed on such a document."""
    first = ObjectId()
    garbled = bson.encode({"_id": first, "note": "x"}).replace(b"x\x00", b"\xff\x00")
    unreadable = bson.encode({"_id": "x"}).replace(b"x\x00", b"\xff\x00")  # its `_id` itself
    folder = tmp_path / "dump" / "nextcrm"
    folder.mkdir(parents=True)
    (folder / "audit_log.bson").write_bytes(garbled + unreadable + bson.encode({"_id": 7}))
    found = of_source(DumpSource(tmp_path / "dump", "nextcrm"), APP.models)["undeclared_collections"]
    assert [(c["collection"], c["documents"]) for c in found] == [("audit_log", 3)]
    samples = found[0]["sample_ids"]  # in `_id` order, an unreadable one last
    assert samples[:2] == ["7", str(first)] and "_id unreadable" in samples[2], samples
