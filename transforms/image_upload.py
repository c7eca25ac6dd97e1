"""The `ImageUpload` collection and table."""

from toolkit.declarations.spec import ID, ModelSpec

SPEC = ModelSpec(
    "ImageUpload",
    fields=(ID,),
)
