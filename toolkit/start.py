"""The `m2pg` console script. A Ctrl+C pressed while the command's libraries load (about a
second) comes before the command's own handler: it ends in the same line as a second Ctrl+C,
exit 130, not in a traceback from whichever import it interrupted."""

import sys


def main() -> None:
    try:
        from toolkit.cli import main as command

        command()
    except KeyboardInterrupt:
        from toolkit.runtime.interrupt import STOPPED

        sys.stderr.write("".join(STOPPED) + "\n")
        sys.exit(130)
