"""The `m2pg` process sets polars' allocator to give freed pages back at once, before polars
loads, unless the user chose a setting."""

import os
import subprocess
import sys

from toolkit.runtime.allocator import GIVE_BACK_AT_ONCE, SETTING

SHOW = "import toolkit.cli, os; print(os.environ['" + SETTING + "'])"


def setting_seen_by_polars(environment: dict[str, str]) -> str:
    """What the variable holds once the CLI has loaded polars (which puts its defaults first)."""
    done = subprocess.run(
        [sys.executable, "-c", SHOW], env=environment, capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip()


def test_the_cli_gives_freed_pages_back_at_once():
    environment = {k: v for k, v in os.environ.items() if k != SETTING}
    assert setting_seen_by_polars(environment).endswith("," + GIVE_BACK_AT_ONCE)  # the last setting wins


def test_the_users_setting_stands():
    chosen = "dirty_decay_ms:2000,muzzy_decay_ms:3000"
    assert setting_seen_by_polars({**os.environ, SETTING: chosen}).endswith("," + chosen)
