"""Transform: staged documents -> rows exactly as loaded, quarantine, and junction rows.

A model runs after the collections it references, so a reference is judged against what its
target kept: present and clean (remapped by a join on the ID lookup frame), quarantined, or
missing. Work goes part by part; a part whose inputs (its raw part, the outcome of the
collections it references, its repeated values) are unchanged since the last run is skipped.
On several worker processes, models whose references are done run side by side; a worker reads
the outcome of the referenced collections from their staged files, as a resumed run does.
"""

from __future__ import annotations

from typing import Any

__all__ = ["transform"]


def __getattr__(name: str) -> Any:
    """`transform`, loaded when asked for: the stages that only read what transform staged (load,
    reconcile, verify) import its rules' version, without the readers of every source behind it."""
    if name == "transform":
        from toolkit.stages.transform.schedule import transform

        return transform
    raise AttributeError(name)
