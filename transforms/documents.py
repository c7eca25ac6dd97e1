"""The `Documents` collection and table."""

from toolkit.declarations.spec import ID, NOW, Field, Kind, ModelSpec, Reference

SPEC = ModelSpec(
    "Documents",
    fields=(
        ID,
        Field("__v", Kind.INT, optional=True),
        Field("date_created", Kind.DATETIME, optional=True, default=NOW),
        Field("createdAt", Kind.DATETIME, optional=True, default=NOW),
        Field("last_updated", Kind.DATETIME, optional=True),
        Field("updatedAt", Kind.DATETIME, optional=True),
        Field("document_name", Kind.TEXT),
        Field("created_by_user", Kind.OBJECT_ID, optional=True, references=Reference("Users")),
        Field("createdBy", Kind.OBJECT_ID, optional=True, points_to="Users"),
        Field("description", Kind.TEXT, optional=True),
        Field("document_type", Kind.OBJECT_ID, optional=True, references=Reference("Documents_Types")),
        Field("favourite", Kind.BOOL, optional=True),
        Field("document_file_mimeType", Kind.TEXT),
        Field("document_file_url", Kind.TEXT),
        Field("status", Kind.TEXT, optional=True),
        Field("visibility", Kind.TEXT, optional=True),
        Field("tags", Kind.JSON, optional=True),
        Field("key", Kind.TEXT, optional=True),
        Field("size", Kind.INT, optional=True),
        Field("assigned_user", Kind.OBJECT_ID, optional=True, references=Reference("Users")),
        Field("connected_documents", Kind.TEXT_LIST),
        Field("document_system_type", Kind.ENUM, optional=True, default="OTHER", enum="DocumentSystemType"),
    ),
    updated_at=("last_updated", "updatedAt"),
    indexes=(
        ("assigned_user",),
        ("createdAt",),
        ("createdBy",),
        ("created_by_user",),
        ("document_system_type",),
        ("document_type",),
        ("favourite",),
        ("status",),
        ("visibility",),
    ),
)
