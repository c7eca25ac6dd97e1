"""The allocators of polars and of DuckDB (each its own jemalloc) and of Arrow (mimalloc) told to
give freed pages back to the system at once, not a second later: a process's memory is then
what it holds now, not the high-water mark of what each of them held before."""

from __future__ import annotations

import os

SETTINGS = ("_RJEM_MALLOC_CONF", "DUCKDB_JE_MALLOC_CONF")  # polars' jemalloc, DuckDB's
GIVE_BACK_AT_ONCE = "dirty_decay_ms:0,muzzy_decay_ms:0"
# Arrow's mimalloc reads one option a variable: freed pages purged at once, arenas committed as
# they are used (else a worker writing a junction table's Parquet keeps 20 MB it no longer uses)
ARROW_GIVES_BACK_AT_ONCE = {"MIMALLOC_PURGE_DELAY": "0", "MIMALLOC_ARENA_EAGER_COMMIT": "0"}


def with_give_back(setting: str | None) -> str:
    """`setting` with ours after it: the last value of an option wins, the others stand. A
    process that loaded polars holds polars' own default here and hands it to its children,
    so a value found here is not necessarily one the user chose."""
    return ",".join(filter(None, [setting, GIVE_BACK_AT_ONCE]))


def settings() -> dict[str, str]:
    """Every allocator's setting as this process has it, with ours after it; a mimalloc option
    the user set stands."""
    jemallocs = {name: with_give_back(os.environ.get(name)) for name in SETTINGS}
    return jemallocs | {name: os.environ.get(name, value) for name, value in ARROW_GIVES_BACK_AT_ONCE.items()}


def give_back_at_once() -> None:
    """For this process, before polars, DuckDB and Arrow load (polars puts its defaults before
    what it finds; mimalloc reads its options once)."""
    os.environ.update(settings())
