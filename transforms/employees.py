"""The `Employees` collection and table."""

from toolkit.declarations.spec import ID, Field, Kind, ModelSpec

SPEC = ModelSpec(
    "Employees",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("avatar", Kind.TEXT),
        Field("email", Kind.TEXT, optional=True),
        Field("name", Kind.TEXT),
        Field("salary", Kind.INT, client_type="BigInt"),
        Field("status", Kind.TEXT),
    ),
)
