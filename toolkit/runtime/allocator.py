"""Polars' allocator told to give freed pages back to the system at once, not a second later:
a process's memory is then what it holds now, not the high-water mark of what it held before."""

from __future__ import annotations

import os

SETTING = "_RJEM_MALLOC_CONF"
GIVE_BACK_AT_ONCE = "dirty_decay_ms:0,muzzy_decay_ms:0"


def give_back_at_once() -> None:
    """For this process, before polars loads (polars puts its own defaults first, and the last
    setting wins); a setting the user made stands."""
    os.environ.setdefault(SETTING, GIVE_BACK_AT_ONCE)
