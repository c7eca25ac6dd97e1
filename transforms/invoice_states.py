"""The `invoice_States` collection and table."""
from toolkit.spec import Field, ID, Kind, ModelSpec

SPEC = ModelSpec(
    'invoice_States',
    fields=(
        ID,
        Field('name', Kind.TEXT),
    ),
)
