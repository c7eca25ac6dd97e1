"""The `secondBrain_notions` collection and table."""

from toolkit.declarations.spec import ID, Field, Kind, ModelSpec, Reference

SPEC = ModelSpec(
    "secondBrain_notions",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("user", Kind.OBJECT_ID, references=Reference("Users", on_delete="RESTRICT")),
        Field("notion_api_key", Kind.TEXT),
        Field("notion_db_id", Kind.TEXT),
    ),
    indexes=(("user",),),
)
