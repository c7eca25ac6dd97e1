"""An application's declarations as one value: its models, junction tables and enums, checked
when the value is built, so that a typo in a declaration stops the tool at start-up with one line
naming the model and field instead of a KeyError deep inside a stage; and the order its models
load in, computed from their references rather than assumed from the order they are listed in.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter

from toolkit.errors import ConfigError
from toolkit.spec import Junction, Kind, ModelSpec


class DeclarationError(ConfigError):
    """A declaration names something that does not exist, or the models reference each other in
    a cycle no load order can satisfy."""


@dataclass(frozen=True)
class App:
    """`models` come out in load order: every model after the models it references."""

    name: str
    models: tuple[ModelSpec, ...]
    junctions: tuple[Junction, ...]
    enums: dict[str, tuple[str, ...]]

    def __post_init__(self) -> None:
        check(self)
        object.__setattr__(self, "models", load_order(self.models, self.name))

    def model(self, name: str) -> ModelSpec:
        return next(m for m in self.models if m.name == name)

    @property
    def tables(self) -> list[str]:
        return [m.table for m in self.models] + [j.table for j in self.junctions]


def _fail(app: str, where: str, what: str) -> DeclarationError:
    return DeclarationError(f"{app} declarations: {where}: {what}",
                            hint="fix the declaration in the app's transforms/ module")


def check(app: App) -> None:
    """Every name a declaration uses resolves: references, reports' targets, enums, index
    columns, junction ends and the models whose arrays feed them; no name is declared twice."""
    names = {m.name: m for m in app.models}
    for label, values in (("model", [m.name for m in app.models]),
                          ("collection", [m.source for m in app.models]),
                          ("table", app.tables)):
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise _fail(app.name, f"{label} {repeated[0]}", "declared twice")
    for m in app.models:
        fields = {f.name for f in m.fields}
        for f in m.fields:
            where = f"{m.name}.{f.name}"
            if f.references and f.references.model not in names:
                raise _fail(app.name, where, f"references unknown model {f.references.model!r}")
            if f.points_to and f.points_to not in names:
                raise _fail(app.name, where, f"points to unknown model {f.points_to!r}")
            if f.kind is Kind.ENUM and f.enum not in app.enums:
                raise _fail(app.name, where, f"unknown enum {f.enum!r}")
        for index in m.indexes:
            missing = [c for c in index if c not in fields]
            if missing:
                raise _fail(app.name, f"{m.name} index {index}", f"unknown column {missing[0]!r}")
    for j in app.junctions:
        for side in (j.left, j.right):
            if side.model not in names:
                raise _fail(app.name, f"{j.table}.{side.column}", f"unknown model {side.model!r}")
        for feed in j.feeds:
            if feed.model not in (j.left.model, j.right.model):
                raise _fail(app.name, f"{feed.model}.{feed.key} (feeds {j.table})",
                            "its model is neither end of the junction")


def load_order(models: tuple[ModelSpec, ...], app: str) -> tuple[ModelSpec, ...]:
    """Parents before children, otherwise as listed; a cycle (other than a model referencing
    itself) is a declaration error naming a field on it."""
    listed = {m.name: n for n, m in enumerate(models)}
    graph = TopologicalSorter({m.name: {f.references.model for f in m.references} - {m.name} for m in models})
    try:
        graph.prepare()
    except CycleError as cycle:
        loop = cycle.args[1]
        model = next(m for m in models if m.name == loop[0])
        field = next(f for f in model.references if f.references.model in loop)
        raise _fail(app, f"{model.name}.{field.name}", f"the models {' -> '.join(loop)} reference each other "
                    "in a cycle: no load order puts every parent first") from None
    order: list[ModelSpec] = []
    ready: list[tuple[int, str]] = []
    while graph.is_active():
        for name in graph.get_ready():
            heapq.heappush(ready, (listed[name], name))
        _, name = heapq.heappop(ready)
        order.append(models[listed[name]])
        graph.done(name)
    return tuple(order)
