"""The `TodoList` collection and table."""

from toolkit.declarations.spec import ID, Field, Kind, ModelSpec

SPEC = ModelSpec(
    "TodoList",
    fields=(
        ID,
        Field("createdAt", Kind.TEXT),
        Field("description", Kind.TEXT),
        Field("title", Kind.TEXT),
        Field("url", Kind.TEXT),
        Field("user", Kind.TEXT),
    ),
)
