"""The command line's own surface: `--version`, and on/off flags shown as flags in every --help."""

import re
from importlib.metadata import version

import pytest
import typer
from typer.testing import CliRunner

from toolkit.cli import app

COMMANDS = typer.main.get_command(app).commands
FLAGS = [
    (name, param.opts[0])
    for name, command in COMMANDS.items()
    for param in command.params
    if getattr(param, "is_flag", False)
]


def help_line(command: str, option: str) -> str:
    done = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    return next(line for line in done.output.splitlines() if re.match(rf"\W*{re.escape(option)}\s", line))


def test_version_is_the_installed_one():
    done = CliRunner().invoke(app, ["--version"])
    assert (done.exit_code, done.output) == (0, f"m2pg {version('m2pg')}\n")


def test_the_flags_are_found():
    assert {
        ("load", "--replace"),
        ("verify", "--full"),
        ("reset", "--yes"),
        ("indexes", "--extra"),
        ("indexes", "--drop"),
        ("run", "--json"),
        ("run", "--quiet"),
    } <= set(FLAGS)


@pytest.mark.parametrize(("command", "flag"), FLAGS + [(name, "--help") for name in COMMANDS])
def test_an_on_off_flag_shows_no_value_in_help(command, flag):
    assert "<" not in help_line(command, flag)


def test_an_option_that_takes_a_value_shows_its_type():
    assert "<int" in help_line("load", "--batch-size")
