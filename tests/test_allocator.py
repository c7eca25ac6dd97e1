"""The `m2pg` process sets the allocators of polars, DuckDB and Arrow to give freed pages back at
once, before any loads, whatever a parent process that loaded polars handed down; the user's other
allocator options stand."""

import os
import subprocess
import sys

import pytest

from toolkit.runtime.allocator import ARROW_GIVES_BACK_AT_ONCE, GIVE_BACK_AT_ONCE, SETTINGS

POLARS = "_RJEM_MALLOC_CONF"
POLARS_DEFAULT = "dirty_decay_ms:500,muzzy_decay_ms:1000"  # what a parent that loaded polars holds


def setting_seen(name: str, given: str | None) -> str:
    """What the variable `name` holds once the CLI has loaded polars (which puts its defaults
    first) and DuckDB."""
    return after_the_cli(f"import duckdb, os; print(os.environ[{name!r}])", name, given)


def after_the_cli(code: str, name: str, given: str | None) -> str:
    """What `code` prints in a fresh process that imported the CLI first, with `name` set to
    `given` (or unset) in its environment."""
    environment = {k: v for k, v in os.environ.items() if k not in (name, *ARROW_GIVES_BACK_AT_ONCE)}
    if given is not None:
        environment[name] = given
    done = subprocess.run(
        [sys.executable, "-c", f"import toolkit.cli\n{code}"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout.strip()


ARROW_HOLDS_AFTER_FREEING = """
import time, numpy, pyarrow
def anonymous_mb():
    return next(int(line.split()[1]) // 1024 for line in open("/proc/self/status") if line.startswith("RssAnon:"))
before = anonymous_mb()
buffers = [pyarrow.allocate_buffer(256 * 1024) for _ in range(200)]  # 50 MB in pieces, as a Parquet writer's
for buffer in buffers:
    numpy.frombuffer(buffer, dtype=numpy.uint8)[:] = 1
del buffers, buffer
time.sleep(0.05)
print(anonymous_mb() - before)
"""


def test_both_allocators_are_set():
    assert set(SETTINGS) == {POLARS, "DUCKDB_JE_MALLOC_CONF"}


@pytest.mark.parametrize("name", SETTINGS)
def test_the_cli_gives_freed_pages_back_at_once(name):
    assert setting_seen(name, None).endswith(GIVE_BACK_AT_ONCE)  # the last setting wins


def test_a_default_handed_down_by_a_parent_that_loaded_polars_does_not_keep_the_pages():
    assert setting_seen(POLARS, POLARS_DEFAULT).endswith(POLARS_DEFAULT + "," + GIVE_BACK_AT_ONCE)


@pytest.mark.parametrize("name", SETTINGS)
def test_the_users_other_options_stand(name):
    assert setting_seen(name, "narenas:2").endswith("narenas:2," + GIVE_BACK_AT_ONCE)


@pytest.mark.parametrize("name", ARROW_GIVES_BACK_AT_ONCE)
def test_arrows_allocator_gives_back_at_once_unless_the_user_chose(name):
    assert setting_seen(name, None) == ARROW_GIVES_BACK_AT_ONCE[name]
    assert setting_seen(name, "1") == "1"


def test_memory_that_arrow_freed_is_given_back():
    assert int(after_the_cli(ARROW_HOLDS_AFTER_FREEING, "MIMALLOC_PURGE_DELAY", None)) < 10
