"""How many worker processes a stage starts: every core from 32 MiB of data, one below, unless chosen."""

import pytest

from toolkit.runtime import parallel
from toolkit.runtime.parallel import workers_for

MIB = 1 << 20


@pytest.mark.parametrize(
    "volume, cores, expected",
    [
        (0, 4, 1),
        (32 * MIB - 1, 4, 1),  # one byte below the threshold
        (32 * MIB, 4, 4),  # at the threshold
        (32 * MIB, 2, 2),
        (10**12, 3, 3),
        (32 * MIB, None, 1),  # a platform that cannot count its cores
    ],
)
def test_the_volume_decides_when_no_number_is_chosen(monkeypatch, volume, cores, expected):
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: cores)
    assert workers_for(volume, None) == expected


@pytest.mark.parametrize(
    "volume, chosen, expected",
    [
        (0, 3, 3),  # more than a small source would get
        (10**12, 1, 1),  # fewer than a large source would get
        (10**12, 5, 5),  # more than the cores
        (10**12, 0, 1),  # never none
        (0, -2, 1),
    ],
)
def test_a_chosen_number_wins_over_the_volume(monkeypatch, volume, chosen, expected):
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 4)
    assert workers_for(volume, chosen) == expected
