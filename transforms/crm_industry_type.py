"""The `crm_Industry_Type` collection and table."""

from toolkit.declarations.spec import ID, Field, Kind, ModelSpec

SPEC = ModelSpec(
    "crm_Industry_Type",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("name", Kind.TEXT),
    ),
    indexes=(),
)
