"""The `m2pg` process sets polars' allocator to give freed pages back at once, before polars
loads, whatever a parent process that loaded polars handed down; the user's other allocator
options stand."""

import os
import subprocess
import sys

from toolkit.runtime.allocator import GIVE_BACK_AT_ONCE, SETTING

SHOW = "import toolkit.cli, os; print(os.environ['" + SETTING + "'])"
POLARS_DEFAULT = "dirty_decay_ms:500,muzzy_decay_ms:1000"  # what a parent that loaded polars holds


def setting_seen_by_polars(given: str | None) -> str:
    """What the variable holds once the CLI has loaded polars (which puts its defaults first)."""
    environment = {k: v for k, v in os.environ.items() if k != SETTING}
    if given is not None:
        environment[SETTING] = given
    done = subprocess.run(
        [sys.executable, "-c", SHOW], env=environment, capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip()


def test_the_cli_gives_freed_pages_back_at_once():
    assert setting_seen_by_polars(None).endswith("," + GIVE_BACK_AT_ONCE)  # the last setting wins


def test_a_default_handed_down_by_a_parent_that_loaded_polars_does_not_keep_the_pages():
    assert setting_seen_by_polars(POLARS_DEFAULT).endswith(POLARS_DEFAULT + "," + GIVE_BACK_AT_ONCE)


def test_the_users_other_options_stand():
    assert setting_seen_by_polars("narenas:2").endswith(",narenas:2," + GIVE_BACK_AT_ONCE)
