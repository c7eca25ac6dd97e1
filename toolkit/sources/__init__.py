"""Where documents come from: a live MongoDB or a mongodump, read as raw BSON in `_id` order."""
