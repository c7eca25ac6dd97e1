"""The `Boards` collection and table."""

from toolkit.declarations.spec import ID, NOW, Field, Kind, ModelSpec, Reference

SPEC = ModelSpec(
    "Boards",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("description", Kind.TEXT),
        Field("favourite", Kind.BOOL, optional=True),
        Field("favouritePosition", Kind.INT, optional=True, client_type="BigInt"),
        Field("icon", Kind.TEXT, optional=True),
        Field("position", Kind.INT, optional=True, client_type="BigInt"),
        Field("title", Kind.TEXT),
        Field("user", Kind.OBJECT_ID, references=Reference("Users", on_delete="RESTRICT")),
        Field("visibility", Kind.TEXT, optional=True),
        Field("sharedWith", Kind.UUID_LIST, points_to="Users"),
        Field("createdAt", Kind.DATETIME, optional=True, default=NOW),
        Field("createdBy", Kind.OBJECT_ID, optional=True, points_to="Users"),
        Field("updatedAt", Kind.DATETIME, optional=True),
        Field("updatedBy", Kind.OBJECT_ID, optional=True, points_to="Users"),
    ),
    updated_at=("updatedAt",),
    indexes=(
        ("createdAt",),
        ("createdBy",),
        ("favourite",),
        ("updatedBy",),
        ("user", "favourite"),
        ("user",),
        ("visibility",),
    ),
)
