"""How much each stage handles at once by default, importable without loading the stages."""

PART_SIZE = 10_000
"""Documents per staged part: extract's checkpoint and the unit a re-run skips when unchanged."""

BATCH_SIZE = 20_000
"""Rows per load transaction."""
