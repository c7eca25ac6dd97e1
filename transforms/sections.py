"""The `Sections` collection and table."""

from toolkit.declarations.spec import ID, Field, Kind, ModelSpec, Reference

SPEC = ModelSpec(
    "Sections",
    fields=(
        ID,
        Field("__v", Kind.INT),
        Field("board", Kind.OBJECT_ID, references=Reference("Boards", on_delete="RESTRICT")),
        Field("title", Kind.TEXT),
        Field("position", Kind.INT, optional=True, client_type="BigInt"),
    ),
    indexes=(("board",),),
)
