"""The `ImageUpload` collection and table."""
from toolkit.spec import ID, ModelSpec

SPEC = ModelSpec(
    'ImageUpload',
    fields=(
        ID,
    ),
)
