"""The `m2pg` process sets the allocators of polars and of DuckDB to give freed pages back at once,
before either loads, whatever a parent process that loaded polars handed down; the user's other
allocator options stand."""

import os
import subprocess
import sys

import pytest

from toolkit.runtime.allocator import GIVE_BACK_AT_ONCE, SETTINGS

POLARS = "_RJEM_MALLOC_CONF"
POLARS_DEFAULT = "dirty_decay_ms:500,muzzy_decay_ms:1000"  # what a parent that loaded polars holds


def setting_seen(name: str, given: str | None) -> str:
    """What the variable `name` holds once the CLI has loaded polars (which puts its defaults
    first) and DuckDB."""
    environment = {k: v for k, v in os.environ.items() if k != name}
    if given is not None:
        environment[name] = given
    show = f"import toolkit.cli, duckdb, os; print(os.environ[{name!r}])"
    done = subprocess.run(
        [sys.executable, "-c", show], env=environment, capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip()


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
