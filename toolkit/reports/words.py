"""Counts in the sentences m2pg prints: "1 row was", "2 rows were"; and the words the console
and the HTML report share."""

from __future__ import annotations

REFUSED = "of them refused"  # the deleted rows whose documents a rule now sends to the quarantine


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and the noun it takes: `counted(1, "row")` is "1 row", `counted(2, "batch", "batches")`
    is "2 batches"."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def were(count: int) -> str:
    """The verb after `counted`: "was" for one, "were" for any other count."""
    return "was" if count == 1 else "were"


def are(count: int) -> str:
    """The present tense: "is" for one, "are" for any other count."""
    return "is" if count == 1 else "are"
