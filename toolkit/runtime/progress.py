"""Progress bars for long stages, quiet when output is not a terminal (or with --quiet)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

console = Console(stderr=True)
NOTES = "toolkit"  # the logger the stages write their notes to (a restart, work left for the next run)
T = TypeVar("T")
_silenced = False


def silence() -> None:
    """No bars in this process from now on (--quiet)."""
    global _silenced
    _silenced = True


class DoneColumn(ProgressColumn):
    """Done and total in the task's unit: a count (documents, rows, tables), or sizes for a task
    added with unit="bytes" (a dump file, whose size is known before its documents are counted)."""

    def __init__(self) -> None:
        super().__init__()
        self.count, self.size = MofNCompleteColumn(), DownloadColumn()

    def render(self, task: Task) -> Text:
        return (self.size if task.fields.get("unit") == "bytes" else self.count).render(task)


@contextmanager
def bars():
    """One Progress for a stage; each collection or table adds its own task."""
    with Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        DoneColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=_silenced or not console.is_terminal,
    ) as progress:
        yield progress


def tracked(
    items: Iterable[T], description: str, label: Callable[[T], str] | None = None, total: int | None = None
) -> Iterator[T]:
    """`items` one by one under a bar of their own, named after the item in hand when `label` is
    given; the bar moves as each item is finished (when the next one is asked for)."""
    if total is None:
        items = items if isinstance(items, Sized) else list(items)
        total = len(items)
    with bars() as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            if label:
                progress.update(task, description=f"{description} {label(item)}")
            yield item
            progress.advance(task)
        progress.update(task, description=description)  # done: the bar names the whole step again


class ConsoleNotes(logging.Handler):
    """The stages' notes on the console the bars use: a warning in yellow, one line each."""

    def emit(self, record: logging.LogRecord) -> None:
        style = "yellow" if record.levelno >= logging.WARNING else ""
        console.print(Text(record.getMessage(), style=style), soft_wrap=True, highlight=False)


def show_notes() -> None:
    """Send the stages' log records to the console, once per process (the command's and each
    worker's): the stages log and print nothing themselves."""
    notes = logging.getLogger(NOTES)
    if not any(isinstance(handler, ConsoleNotes) for handler in notes.handlers):
        notes.addHandler(ConsoleNotes())
        notes.setLevel(logging.INFO)
        notes.propagate = False
