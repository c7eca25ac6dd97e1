"""The `crm_Leads` collection and table."""

from toolkit.declarations.spec import ID, NOW, Field, Kind, ModelSpec, Reference

SPEC = ModelSpec(
    "crm_Leads",
    fields=(
        ID,
        Field("__v", Kind.INT, default=0),
        Field("createdAt", Kind.DATETIME, optional=True, default=NOW),
        Field("createdBy", Kind.OBJECT_ID, optional=True, points_to="Users"),
        Field("updatedAt", Kind.DATETIME, optional=True),
        Field("updatedBy", Kind.OBJECT_ID, optional=True, points_to="Users"),
        Field("firstName", Kind.TEXT, optional=True),
        Field("lastName", Kind.TEXT),
        Field("company", Kind.TEXT, optional=True),
        Field("jobTitle", Kind.TEXT, optional=True),
        Field("email", Kind.TEXT, optional=True),
        Field("phone", Kind.TEXT, optional=True),
        Field("description", Kind.TEXT, optional=True),
        Field("lead_source", Kind.TEXT, optional=True),
        Field("refered_by", Kind.TEXT, optional=True),
        Field("campaign", Kind.TEXT, optional=True),
        Field("status", Kind.TEXT, optional=True, default="NEW"),
        Field("type", Kind.TEXT, optional=True, default="DEMO"),
        Field("assigned_to", Kind.OBJECT_ID, optional=True, references=Reference("Users")),
        Field("accountsIDs", Kind.OBJECT_ID, optional=True, references=Reference("crm_Accounts")),
    ),
    updated_at=("updatedAt",),
    indexes=(
        ("accountsIDs",),
        ("assigned_to",),
        ("createdAt",),
        ("createdBy",),
        ("status",),
        ("type",),
        ("updatedBy",),
    ),
)
