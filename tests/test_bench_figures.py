"""The bench's own arithmetic and words (bench/ is not a package): the hardware limit from what it
measured, and what each figure is said to count."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from limits import limit_per_second  # noqa: E402
from report import megabyte_lines  # noqa: E402


@pytest.mark.parametrize(
    ("documents", "conversion_seconds", "rows", "copy_seconds", "expected"),
    [
        (100, 1.0, 100, 1.0, 50),  # one row a document
        (100, 1.0, 300, 1.0, 50),  # three rows a document: all three are copied, not one
        (90_821, 0.436, 174_949, 0.505, 96_515),  # the bench of 2026-12-05, scale 1
    ],
)
def test_the_limit_copies_every_final_row(documents, conversion_seconds, rows, copy_seconds, expected):
    conversion = {"documents": documents, "seconds": conversion_seconds}
    copy = {"rows": rows, "seconds": copy_seconds}
    assert limit_per_second(documents, conversion, copy) == expected


MEGABYTES = {  # bench/results/latest.json of 2026-12-05, one command kept
    "documents": 930,  # the accounts' collection: 600 of the sample profile and the 330 planted
    "large": [{"documents": 300, "megabytes": 3}, {"documents": 30, "megabytes": 15}],
    "collection_bytes": 1_092_602_667,
    "target_mb": 1024,
    "commands": {"verify": {"seconds": 19.44, "peak_rss_mb": 785.0}},
}


def test_the_megabytes_heading_counts_the_accounts_not_the_profile():
    heading = megabyte_lines(MEGABYTES)[0]
    assert "whose 930 accounts hold 300 of 3 MB and 30 of 15 MB (1,093 MB)" in heading
    assert "930 documents" not in heading
