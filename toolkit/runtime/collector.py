"""Python's cycle collector paced for m2pg's loops: the stages that walk documents in Python
(verify's oracle, generate, the quarantine) allocate millions of short-lived dicts and lists,
none in a cycle, and at the default pace (a pass every 700 allocations, a full pass over every
live object, the loaded libraries' included, every hundred passes or so) the collector took
about 40% of such a loop's time. Cycles are still collected, a pass per 50,000 allocations."""

from __future__ import annotations

import gc

ALLOCATIONS_PER_PASS = 50_000


def collect_less_often() -> None:
    """For this process: the youngest generation collected every `ALLOCATIONS_PER_PASS`
    allocations; the older ones keep their default ratios to it."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(ALLOCATIONS_PER_PASS, middle, oldest)
