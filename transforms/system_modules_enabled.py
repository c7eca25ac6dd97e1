"""The `system_Modules_Enabled` collection and table."""

from toolkit.declarations.spec import ID, Field, Kind, ModelSpec

SPEC = ModelSpec(
    "system_Modules_Enabled",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("name", Kind.TEXT),
        Field("enabled", Kind.BOOL),
        Field("position", Kind.INT),
    ),
)
