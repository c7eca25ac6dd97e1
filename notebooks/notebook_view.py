"""How the notebooks show a frame or a sentence: interactive in marimo, printed when run headless
(kept beside the notebooks: marimo is a development dependency, not one of m2pg's)."""

from __future__ import annotations

import marimo as mo
import polars as pl


def show(title: str, frame: pl.DataFrame, by_column: bool = False):
    """An interactive table in the notebook; the whole frame printed when run headless
    (`by_column` turns a few wide rows into one column per row, easier to read in a terminal)."""
    if mo.running_in_notebook():
        return mo.vstack([mo.md(f"### {title}"), mo.ui.table(frame, selection=None, page_size=15)])
    if by_column:
        frame = pl.DataFrame(
            {"column": frame.columns}
            | {f"row {n}": [str(v) for v in row] for n, row in enumerate(frame.rows(), start=1)}
        )
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=220, fmt_str_lengths=120):
        print(f"\n== {title}\n{frame}")


def say(text: str):
    """Markdown in the notebook; a line of text when run headless."""
    if mo.running_in_notebook():
        return mo.md(text)
    print(text.replace("`", ""))
