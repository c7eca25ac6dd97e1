"""An application's declarations as one value: its models, junction tables and enums, checked
when the value is built, so that a typo in a declaration stops the tool at start-up with one line
naming the model and field instead of a KeyError deep inside a stage; and the order its models
load in, computed from their references rather than assumed from the order they are listed in.
"""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from toolkit.declarations.limits import IDENTIFIER_BYTES, derived_name, index_name, kept_name
from toolkit.declarations.spec import Junction, Kind, ModelSpec
from toolkit.runtime.errors import ConfigError


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
    database: str = "app"  # the MongoDB database its data is generated into and dumps are named after
    sample_data: Any = None  # the app's tables for the data generators (counts, value pools, edge cases)
    queries: tuple = ()  # the app's typical queries, whose plans the bench reads
    extra_indexes: tuple = ()  # indexes beyond the app's own schema that its queries want

    def __post_init__(self) -> None:
        check(self)
        object.__setattr__(self, "models", load_order(self.models, self.name))

    def model(self, name: str) -> ModelSpec:
        return next(m for m in self.models if m.name == name)

    @property
    def tables(self) -> list[str]:
        return [m.table for m in self.models] + [j.table for j in self.junctions]


APPS_GROUP = "m2pg.apps"  # the entry-point group an installed package names its App in
APP_VARIABLE = "M2PG_APP"  # picks one when several are installed


def installed(name: str | None = None) -> App:
    """The App an installed package declares (entry point group `m2pg.apps`): the one named
    by `name` or $M2PG_APP, or the only one installed; a `module:attribute` names one directly.
    The engine imports no app itself."""
    wanted = name or os.environ.get(APP_VARIABLE) or None  # set to nothing: as if unset
    if wanted and ":" in wanted:  # module:attribute, an app that is not installed (a test's, a draft)
        return _imported(wanted)
    found = {e.name: e for e in entry_points(group=APPS_GROUP)}
    if wanted is None and len(found) == 1:
        wanted = next(iter(found))
    if wanted not in found:
        known = ", ".join(sorted(found)) or "none"
        what = (
            f"no app {wanted!r} is installed"
            if wanted
            else "several apps are installed"
            if found
            else "no app is installed"
        )
        raise ConfigError(
            f"{what} (installed apps: {known})",
            hint=f"set {APP_VARIABLE} to an installed app's "
            f"name, or install a package that declares one under the `{APPS_GROUP}` entry points",
        )
    return found[wanted].load()


def _imported(path: str) -> App:
    module, _, attribute = path.partition(":")
    try:
        found = getattr(import_module(module), attribute)
    except (ImportError, AttributeError) as error:
        raise ConfigError(
            f"cannot import the app {path!r}: {error}",
            hint=f"{APP_VARIABLE}=module:attribute names an App importable from here",
        ) from None
    if not isinstance(found, App):
        raise ConfigError(
            f"{path} is a {type(found).__name__}, not an App", hint="point it at the App value the app's package builds"
        )
    return found


def _fail(app: str, where: str, what: str) -> DeclarationError:
    return DeclarationError(f"{app} declarations: {where}: {what}", hint="fix the declaration in the app's package")


def check(app: App) -> None:
    """Every name a declaration uses resolves: references, reports' targets, enums, index
    columns, junction ends and the models whose arrays feed them; no name is declared twice."""
    names = {m.name: m for m in app.models}
    for label, values in (
        ("model", [m.name for m in app.models]),
        ("collection", [m.source for m in app.models]),
        ("table", app.tables),
    ):
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
        for name in m.updated_at:
            if name not in fields or m.field(name).kind is not Kind.DATETIME:
                raise _fail(app.name, f"{m.name}.{name}", "is declared as set on every write, but is no date field")
        for index in m.indexes:
            missing = [c for c in index if c not in fields]
            if missing:
                raise _fail(app.name, f"{m.name} index {index}", f"unknown column {missing[0]!r}")
    _names_apart(app)
    for j in app.junctions:
        for side in (j.left, j.right):
            if side.model not in names:
                raise _fail(app.name, f"{j.table}.{side.column}", f"unknown model {side.model!r}")
        for feed in j.feeds:
            if feed.model not in (j.left.model, j.right.model):
                raise _fail(
                    app.name, f"{feed.model}.{feed.key} (feeds {j.table})", "its model is neither end of the junction"
                )


def _names_apart(app: App) -> None:
    """The tables, primary keys and indexes the schema names share one namespace in PostgreSQL,
    which keeps 63 bytes of a name: two that end up the same would clash when it is created."""
    names: dict[str, str] = {}
    tables = [
        (m.table, [f.name for f in m.fields], m.indexes, [f.name for f in m.fields if f.unique]) for m in app.models
    ]
    tables += [
        (j.table, [j.left.column, j.right.column], ((j.left.column,), (j.right.column,)), []) for j in app.junctions
    ]
    for table, columns, indexes, unique in tables:
        named = [(table, f"table {table}"), (derived_name(table, "pkey"), f"the primary key of {table}")]
        named += [(index_name(table, cols), f"{table} index {cols}") for cols in indexes]
        named += [(index_name(table, (column,), unique=True), f"{table}.{column} unique") for column in unique]
        too_long = [c for c in columns if len(c.encode()) > IDENTIFIER_BYTES]
        if too_long:
            raise _fail(
                app.name, f"{table}.{too_long[0]}", f"the name is longer than PostgreSQL's {IDENTIFIER_BYTES} bytes"
            )
        for name, what in named:
            if len(name.encode()) > IDENTIFIER_BYTES:
                raise _fail(app.name, what, f"the name {name!r} is longer than PostgreSQL's {IDENTIFIER_BYTES} bytes")
            if name in names:
                raise _fail(
                    app.name,
                    what,
                    f"its name in PostgreSQL, {name!r}, is that of {names[name]} too: give one a shorter name",
                )
            names[name] = what
    ledgers: dict[str, str] = {}  # m2pg's record of each table's rows, cut as PostgreSQL cuts it
    for table, *_ in tables:
        ledger = kept_name("owned_" + table)
        if ledger in ledgers:
            raise _fail(
                app.name,
                f"table {table}",
                f"m2pg's record of its rows, m2pg.{ledger}, would be that of table {ledgers[ledger]} too "
                "(63 bytes of a name are kept): give one a shorter name",
            )
        ledgers[ledger] = table


def load_order(models: tuple[ModelSpec, ...], app: str) -> tuple[ModelSpec, ...]:
    """Parents before children, otherwise as listed; a cycle (other than a model referencing
    itself) is a declaration error naming a field on it."""
    listed = {m.name: n for n, m in enumerate(models)}
    graph = TopologicalSorter({m.name: {f.parent.model for f in m.references} - {m.name} for m in models})
    try:
        graph.prepare()
    except CycleError as cycle:
        loop = cycle.args[1]
        model = next(m for m in models if m.name == loop[0])
        field = next(f for f in model.references if f.parent.model in loop)
        raise _fail(
            app,
            f"{model.name}.{field.name}",
            f"the models {' -> '.join(loop)} reference each other in a cycle: no load order puts every parent first",
        ) from None
    order: list[ModelSpec] = []
    ready: list[tuple[int, str]] = []
    while graph.is_active():
        for name in graph.get_ready():
            heapq.heappush(ready, (listed[name], name))
        _, name = heapq.heappop(ready)
        order.append(models[listed[name]])
        graph.done(name)
    return tuple(order)
