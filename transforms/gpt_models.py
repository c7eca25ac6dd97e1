"""The `gpt_models` collection and table."""

from toolkit.declarations.spec import ID, NOW, Field, Kind, ModelSpec

SPEC = ModelSpec(
    "gpt_models",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("model", Kind.TEXT),
        Field("description", Kind.TEXT, optional=True),
        Field("status", Kind.ENUM, optional=True, enum="gptStatus"),
        Field("created_on", Kind.DATETIME, optional=True, default=NOW),
    ),
    indexes=(),
)
