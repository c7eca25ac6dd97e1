"""How much each stage handles at once by default, importable without loading the stages."""

PART_SIZE = 10_000
"""Documents per staged part: extract's checkpoint and the unit a re-run skips when unchanged."""

PART_BYTES = 32 << 20
"""BSON bytes per staged part (and per chunk read from a dump) at most, whatever PART_SIZE says:
10,000 documents of a few megabytes each would otherwise be gigabytes in one worker. A part
holds at least one document."""

DECODED_BYTES = 8 << 20
"""BSON bytes decoded into Python objects at once (verify's oracle), at most: a Python value
takes several times its BSON size, and each copy on the way to Parquet another."""

BATCH_SIZE = 20_000
"""Rows per load transaction."""
