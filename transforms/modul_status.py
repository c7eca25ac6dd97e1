"""The `modulStatus` collection and table."""

from toolkit.declarations.spec import ID, Field, Kind, ModelSpec

SPEC = ModelSpec(
    "modulStatus",
    fields=(
        ID,
        Field("name", Kind.TEXT),
        Field("isVisible", Kind.BOOL),
    ),
)
