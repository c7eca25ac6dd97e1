"""The `crm_Contracts` collection and table."""

from toolkit.declarations.spec import ID, NOW, Field, Kind, ModelSpec, Reference

SPEC = ModelSpec(
    "crm_Contracts",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("title", Kind.TEXT),
        Field("value", Kind.INT),
        Field("startDate", Kind.DATETIME, optional=True, default=NOW),
        Field("endDate", Kind.DATETIME, optional=True),
        Field("renewalReminderDate", Kind.DATETIME, optional=True),
        Field("customerSignedDate", Kind.DATETIME, optional=True),
        Field("companySignedDate", Kind.DATETIME, optional=True),
        Field("description", Kind.TEXT, optional=True),
        Field("account", Kind.OBJECT_ID, optional=True, references=Reference("crm_Accounts")),
        Field("assigned_to", Kind.OBJECT_ID, optional=True, references=Reference("Users")),
        Field("createdAt", Kind.DATETIME, optional=True, default=NOW),
        Field("createdBy", Kind.OBJECT_ID, optional=True, points_to="Users"),
        Field("updatedAt", Kind.DATETIME, optional=True),
        Field("updatedBy", Kind.OBJECT_ID, optional=True, points_to="Users"),
        Field("status", Kind.ENUM, default="NOTSTARTED", enum="crm_Contracts_Status"),
        Field("type", Kind.TEXT, optional=True),
    ),
    updated_at=("updatedAt",),
    indexes=(
        ("account",),
        ("assigned_to",),
        ("createdAt",),
        ("createdBy",),
        ("endDate",),
        ("startDate", "endDate"),
        ("startDate",),
        ("status",),
        ("updatedBy",),
    ),
)
