"""The `crm_Accounts_Tasks` collection and table."""

from toolkit.declarations.spec import ID, NOW, Field, Kind, ModelSpec, Reference

SPEC = ModelSpec(
    "crm_Accounts_Tasks",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("content", Kind.TEXT, optional=True),
        Field("createdAt", Kind.DATETIME, optional=True, default=NOW),
        Field("createdBy", Kind.OBJECT_ID, optional=True, points_to="Users"),
        Field("updatedAt", Kind.DATETIME, optional=True),
        Field("updatedBy", Kind.OBJECT_ID, optional=True, points_to="Users"),
        Field("dueDateAt", Kind.DATETIME, optional=True, default=NOW),
        Field("priority", Kind.TEXT),
        Field("tags", Kind.JSON, optional=True),
        Field("title", Kind.TEXT),
        Field("likes", Kind.INT, optional=True, default=0, client_type="BigInt"),
        Field("user", Kind.OBJECT_ID, optional=True, references=Reference("Users")),
        Field("taskStatus", Kind.ENUM, optional=True, default="ACTIVE", enum="taskStatus"),
        Field("account", Kind.OBJECT_ID, optional=True, references=Reference("crm_Accounts")),
    ),
    updated_at=("updatedAt",),
    indexes=(
        ("account",),
        ("account", "taskStatus"),
        ("createdAt",),
        ("createdBy",),
        ("dueDateAt",),
        ("priority",),
        ("taskStatus",),
        ("updatedBy",),
        ("user",),
    ),
)
