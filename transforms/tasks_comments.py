"""The `tasksComments` collection and table."""

from toolkit.declarations.spec import ID, NOW, Field, Kind, ModelSpec, Reference

SPEC = ModelSpec(
    "tasksComments",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("comment", Kind.TEXT),
        Field("createdAt", Kind.DATETIME, default=NOW),
        Field("task", Kind.OBJECT_ID, references=Reference("Tasks", on_delete="CASCADE")),
        Field("user", Kind.OBJECT_ID, references=Reference("Users", on_delete="RESTRICT")),
        Field("assigned_crm_account_task", Kind.OBJECT_ID, optional=True, references=Reference("crm_Accounts_Tasks")),
    ),
    indexes=(
        ("assigned_crm_account_task",),
        ("task",),
        ("user",),
    ),
)
