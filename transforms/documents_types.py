"""The `Documents_Types` collection and table."""
from toolkit.spec import Field, ID, Kind, ModelSpec

SPEC = ModelSpec(
    'Documents_Types',
    fields=(
        ID,
        Field('__v', Kind.INT),
        Field('name', Kind.TEXT),
    ),
    indexes=(
    ),
)
