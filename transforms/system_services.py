"""The `systemServices` collection and table."""

from toolkit.declarations.spec import ID, Field, Kind, ModelSpec

SPEC = ModelSpec(
    "systemServices",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("name", Kind.TEXT),
        Field("serviceUrl", Kind.TEXT, optional=True),
        Field("serviceId", Kind.TEXT, optional=True),
        Field("serviceKey", Kind.TEXT, optional=True),
        Field("servicePassword", Kind.TEXT, optional=True),
        Field("servicePort", Kind.TEXT, optional=True),
        Field("description", Kind.TEXT, optional=True),
    ),
)
