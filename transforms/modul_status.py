"""The `modulStatus` collection and table."""
from toolkit.spec import Field, ID, Kind, ModelSpec

SPEC = ModelSpec(
    'modulStatus',
    fields=(
        ID,
        Field('name', Kind.TEXT),
        Field('isVisible', Kind.BOOL),
    ),
)
