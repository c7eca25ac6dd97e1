"""The tool's own errors: each says what went wrong and how to fix it."""
from __future__ import annotations


class M2pgError(Exception):
    """A failure the user can fix; the CLI prints it in one line and exits with `exit_code`."""

    exit_code = 1

    def __init__(self, message: str, *, stage: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.stage = stage
        self.hint = hint

    def __reduce__(self):  # raised in a worker process, re-raised in the parent
        return _rebuild, (type(self), self.args[0], self.stage, self.hint)

    def __str__(self) -> str:
        text = super().__str__()
        prefix = f"{self.stage}: " if self.stage else ""
        return f"{prefix}{text}" + (f"\n  hint: {self.hint}" if self.hint else "")


class ConfigError(M2pgError):
    """Wrong options, unreachable source, missing staging: a usage or configuration error."""

    exit_code = 2


def _rebuild(kind: type, message: str, stage: str | None, hint: str | None) -> M2pgError:
    return kind(message, stage=stage, hint=hint)
