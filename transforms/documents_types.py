"""The `Documents_Types` collection and table."""

from toolkit.declarations.spec import ID, Field, Kind, ModelSpec

SPEC = ModelSpec(
    "Documents_Types",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("name", Kind.TEXT),
    ),
    indexes=(),
)
