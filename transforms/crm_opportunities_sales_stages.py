"""The `crm_Opportunities_Sales_Stages` collection and table."""

from toolkit.declarations.spec import ID, Field, Kind, ModelSpec

SPEC = ModelSpec(
    "crm_Opportunities_Sales_Stages",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("name", Kind.TEXT),
        Field("probability", Kind.INT, optional=True, client_type="BigInt"),
        Field("order", Kind.INT, optional=True, client_type="BigInt"),
    ),
    indexes=(),
)
