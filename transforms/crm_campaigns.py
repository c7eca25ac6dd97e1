"""The `crm_campaigns` collection and table."""

from toolkit.declarations.spec import ID, Field, Kind, ModelSpec

SPEC = ModelSpec(
    "crm_campaigns",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("name", Kind.TEXT),
        Field("description", Kind.TEXT, optional=True),
        Field("status", Kind.TEXT, optional=True),
    ),
)
