"""The `Users` collection and table."""

from toolkit.declarations.spec import ID, NOW, Field, Kind, ModelSpec

SPEC = ModelSpec(
    "Users",
    fields=(
        ID,
        Field("__v", Kind.INT, default=0),
        Field("account_name", Kind.TEXT, optional=True),
        Field("avatar", Kind.TEXT, optional=True),
        Field("email", Kind.TEXT, unique=True),
        Field("is_account_admin", Kind.BOOL, default=False),
        Field("is_admin", Kind.BOOL, default=False),
        Field("created_on", Kind.DATETIME, default=NOW),
        Field("lastLoginAt", Kind.DATETIME, optional=True),
        Field("name", Kind.TEXT, optional=True),
        Field("password", Kind.TEXT, optional=True),
        Field("username", Kind.TEXT, optional=True),
        Field("userStatus", Kind.ENUM, default="PENDING", enum="ActiveStatus"),
        Field("userLanguage", Kind.ENUM, default="en", enum="Language"),
    ),
    indexes=(
        ("created_on",),
        ("email",),
        ("is_account_admin",),
        ("is_admin",),
        ("lastLoginAt",),
        ("userLanguage",),
        ("userStatus",),
    ),
)
