"""Counts in sentences: one row, two rows; was and were; is and are."""

import pytest

from toolkit.reports.words import are, counted, were


@pytest.mark.parametrize(
    "count, noun, plural, said",
    [
        (1, "row", None, "1 row"),
        (0, "row", None, "0 rows"),
        (2, "row", None, "2 rows"),
        (1, "batch", "batches", "1 batch"),
        (3, "batch", "batches", "3 batches"),
        (-1, "row", None, "-1 rows"),  # a difference, not a count of one
    ],
)
def test_a_count_takes_the_noun_it_needs(count, noun, plural, said):
    assert counted(count, noun, plural) == said


@pytest.mark.parametrize("count, past, present", [(1, "was", "is"), (0, "were", "are"), (2, "were", "are")])
def test_the_verb_agrees_with_the_count(count, past, present):
    assert (were(count), are(count)) == (past, present)
