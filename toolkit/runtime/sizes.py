"""How much each stage handles at once by default, importable without loading the stages."""

PART_SIZE = 10_000
"""Documents per staged part: extract's checkpoint and the unit a re-run skips when unchanged."""

PART_BYTES = 32 << 20
"""BSON bytes per staged part (and per chunk read from a dump) at most, whatever PART_SIZE says:
10,000 documents of a few megabytes each would otherwise be gigabytes in one worker. A part
holds at least one document."""

BATCH_SIZE = 20_000
"""Rows per load transaction."""
