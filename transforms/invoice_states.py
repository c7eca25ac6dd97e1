"""The `invoice_States` collection and table."""

from toolkit.declarations.spec import ID, Field, Kind, ModelSpec

SPEC = ModelSpec(
    "invoice_States",
    fields=(
        ID,
        Field("name", Kind.TEXT),
    ),
)
