"""The `openAi_keys` collection and table."""

from toolkit.declarations.spec import ID, Field, Kind, ModelSpec, Reference

SPEC = ModelSpec(
    "openAi_keys",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("user", Kind.OBJECT_ID, references=Reference("Users", on_delete="RESTRICT")),
        Field("organization_id", Kind.TEXT),
        Field("api_key", Kind.TEXT),
    ),
    indexes=(("user",),),
)
