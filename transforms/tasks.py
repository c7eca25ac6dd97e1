"""The `Tasks` collection and table."""

from toolkit.declarations.spec import ID, NOW, Field, Kind, ModelSpec, Reference

SPEC = ModelSpec(
    "Tasks",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("content", Kind.TEXT, optional=True),
        Field("createdAt", Kind.DATETIME, optional=True, default=NOW),
        Field("createdBy", Kind.OBJECT_ID, optional=True, points_to="Users"),
        Field("updatedAt", Kind.DATETIME, optional=True),
        Field("updatedBy", Kind.OBJECT_ID, optional=True, points_to="Users"),
        Field("dueDateAt", Kind.DATETIME, optional=True, default=NOW),
        Field("lastEditedAt", Kind.DATETIME, optional=True, default=NOW),
        Field("position", Kind.INT, client_type="BigInt"),
        Field("priority", Kind.TEXT),
        Field("section", Kind.OBJECT_ID, optional=True, references=Reference("Sections")),
        Field("tags", Kind.JSON, optional=True),
        Field("title", Kind.TEXT),
        Field("likes", Kind.INT, optional=True, default=0, client_type="BigInt"),
        Field("user", Kind.OBJECT_ID, optional=True, references=Reference("Users")),
        Field("taskStatus", Kind.ENUM, optional=True, default="ACTIVE", enum="taskStatus"),
    ),
    updated_at=("updatedAt", "lastEditedAt"),
    indexes=(
        ("createdAt",),
        ("createdBy",),
        ("dueDateAt",),
        ("priority",),
        ("section",),
        ("taskStatus",),
        ("updatedBy",),
        ("user",),
        ("user", "taskStatus"),
    ),
)
