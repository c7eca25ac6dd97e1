"""The `crm_Opportunities_Type` collection and table."""

from toolkit.declarations.spec import ID, Field, Kind, ModelSpec

SPEC = ModelSpec(
    "crm_Opportunities_Type",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("name", Kind.TEXT),
        Field("order", Kind.INT, optional=True, client_type="BigInt"),
    ),
    indexes=(),
)
