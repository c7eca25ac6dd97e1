"""Checks that hold for any app, written once and run for every app: the schema made from the
declarations is the one the live catalog reads back; one document per model, built from the
declarations alone, comes back whole through a real `m2pg run` and `m2pg verify --full`; and every
quarantine rule refuses the documents built from the declarations to break it, and nothing else."""

import os
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import polars as pl
import psycopg
import pytest
from bson import ObjectId

from rule_breakers import NEEDS, Breakers, breakers
from toolkit.declarations.app import App
from toolkit.declarations.spec import Kind, ModelSpec
from toolkit.generate import sample as generate
from toolkit.reports.error_log import read_quarantine
from toolkit.stages.rules import HINTS
from toolkit.target.schema import check_target, create_schema, read_catalog

TESTS = Path(__file__).resolve().parents[1]
sys.path.append(str(TESTS))  # the toy app lives beside the tests, not in an installed package

import toy_app  # noqa: E402

import transforms  # noqa: E402

APPS = {"toy_app:APP": toy_app.APP, "transforms:APP": transforms.APP}
"""Every app these checks run for, by the M2PG_APP value that selects it."""

VALUES = {
    Kind.TEXT: "some text",
    Kind.INT: -7,
    Kind.BOOL: True,
    Kind.DATETIME: datetime(2024, 5, 6, 7, 8, 9, 123000),
    Kind.JSON: {"nested": [1, "two", {"three": None}]},
    Kind.TEXT_LIST: ["a", "b"],
}
"""A value of each kind that holds no default and no edge case: what every app must carry over."""


@pytest.fixture(params=sorted(APPS))
def app(request) -> tuple[str, App]:
    return request.param, APPS[request.param]


def m2pg(selected: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("M2PG_")}
    env["M2PG_APP"] = selected
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_the_schema_made_from_the_declarations_is_the_catalog_read_back(app, pg_uri):
    _, declared = app
    create_schema(pg_uri, declared.models, declared.junctions, declared.enums)
    assert check_target(pg_uri, declared.models, declared.junctions) == []
    catalog = read_catalog(pg_uri)
    assert catalog["enums"] == {name: list(labels) for name, labels in declared.enums.items()}
    assert set(catalog["tables"]) == set(declared.tables)
    for model in declared.models:
        table = catalog["tables"][model.table]
        assert [c["name"] for c in table["columns"]] == [f.name for f in model.fields], model.name
        keys = sorted(c["definition"].replace('"', "") for c in table["constraints"] if c["kind"] == "foreign key")
        assert keys == sorted(_foreign_key(declared, model, f) for f in model.references), model.name
        for f in model.fields:
            unique = any(
                i["definition"].startswith("CREATE UNIQUE INDEX") and _indexed(i["definition"]) == f.name
                for i in table["indexes"]
            )
            assert unique == (f.unique or f.key == "_id"), f"{model.name}.{f.name}"
    for junction in declared.junctions:
        table = catalog["tables"][junction.table]
        assert [c["name"] for c in table["columns"]] == [junction.left.column, junction.right.column]
        targets = sorted(
            c["definition"].replace('"', "").split(" REFERENCES ")[1].split("(")[0]
            for c in table["constraints"]
            if c["kind"] == "foreign key"
        )
        assert targets == sorted(declared.model(s.model).table for s in (junction.left, junction.right))


def _indexed(definition: str) -> str:
    """The one column an index definition names (PostgreSQL quotes it only where it must)."""
    return definition.rsplit("(", 1)[1].removesuffix(")").strip('"')


def _foreign_key(app: App, model: ModelSpec, f) -> str:
    """How PostgreSQL spells back the foreign key a reference declares, quotes left out (it
    quotes a name only where it must)."""
    target = app.model(f.references.model).table
    return (
        f"FOREIGN KEY ({f.name}) REFERENCES {target}(id) "
        f"ON UPDATE {f.references.on_update} ON DELETE {f.references.on_delete}"
    )


def one_document_per_model(app: App) -> dict[str, list[dict]]:
    """{collection: [document]}: every field given a value of its kind, every reference and
    junction array pointing at the other models' documents."""
    ids = {m.name: ObjectId(f"{1_700_000_000 + n:08x}{n:016x}") for n, m in enumerate(app.models)}
    data = {}
    for model in app.models:
        document = {"_id": ids[model.name]}
        for f in model.fields:
            if f.key == "_id":
                continue
            target = f.references.model if f.references else f.points_to
            if f.kind is Kind.OBJECT_ID:
                document[f.key] = ids[target] if target else ObjectId(f"{1_650_000_000:08x}{0:016x}")
            elif f.kind is Kind.UUID_LIST:
                document[f.key] = [ids[target]] if target else []
            elif f.kind is Kind.ENUM:
                document[f.key] = app.enums[f.enum][-1]
            else:
                document[f.key] = VALUES[f.kind]
        for junction in app.junctions:
            for feed in junction.feeds:
                if feed.model == model.name:
                    document[feed.key] = [ids[junction.side_of(model.name)[1].model]]
        data[model.source] = [document]
    return data


def test_one_document_per_model_comes_back_whole(app, pg_uri, tmp_path):
    selected, declared = app
    dump = generate.write_dump(tmp_path / "dump", declared.database, one_document_per_model(declared)).parent
    common = ("--dump", str(dump), "--pg-uri", pg_uri, "--staging", str(tmp_path / "staging"))
    done = m2pg(selected, "run", *common)
    assert done.returncode == 0, done.stdout + done.stderr
    verified = m2pg(selected, "verify", "--full", *common)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    with psycopg.connect(pg_uri) as conn:
        rows = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in declared.tables}
    assert rows == dict.fromkeys(declared.tables, 1)


@pytest.fixture(scope="module", params=sorted(APPS))
def refused(request, tmp_path_factory) -> tuple[str, Breakers, pl.DataFrame]:
    """(app, the documents built to break the rules, the quarantine) after a real `m2pg extract`
    and `m2pg transform` of a dump holding them among valid ones."""
    selected, declared = request.param, APPS[request.param]
    made = breakers(declared)
    root = tmp_path_factory.mktemp("rules")
    folder = generate.write_dump(root / "dump", declared.database, dict.fromkeys(made.files, []))
    for collection, raw in made.files.items():  # bytes no MongoDB server would hold
        (folder / f"{collection}.bson").write_bytes(raw)
    staging = ("--staging", str(root / "staging"))
    for stage in (("extract", "--dump", str(folder.parent)), ("transform",)):
        done = m2pg(selected, *stage, *staging)
        assert done.returncode in (0, 3), done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr
    return selected, made, read_quarantine(root / "staging")


def test_every_rule_has_documents_built_to_break_it():
    assert sorted(NEEDS) == sorted(HINTS)


@pytest.mark.parametrize("rule", sorted(NEEDS))
def test_every_rule_fires_on_the_documents_that_break_it(refused, rule):
    """Each document planted for (model, field, rule) is quarantined naming that field and rule,
    with that one reason."""
    selected, made, records = refused
    planted = [p for p in made.planted if p.rule == rule]
    if not planted:
        pytest.skip(f"{rule} cannot fire for {selected}: {made.unbroken(APPS[selected])[rule]}")
    found = {r["record"]: r for r in records.with_columns(record=pl.coalesce("object_id", "source_id")).to_dicts()}
    wrong = []
    for p in planted:
        row = found.get(p.record)
        said = (row["field"], row["rule"], row["reason"]) if row else "not quarantined"
        if not row or (row["field"], row["rule"]) != (p.field, p.rule) or "; " in row["reason"]:
            wrong.append(f"{p.model}.{p.field} {p.rule} ({p.record}): {said}")
    assert wrong == [], f"{len(wrong)} of {len(planted)} documents planted for {rule} in {selected}:\n" + "\n".join(
        wrong
    )


def test_only_the_planted_documents_are_quarantined(refused):
    """Every valid document, the edges the rules must let through included, stays out; each
    planted one is quarantined once (whether with its rule, the test above says)."""
    selected, made, records = refused
    counted = Counter(records.select(pl.coalesce("object_id", "source_id")).to_series().to_list())
    planted = {p.record for p in made.planted}
    valid = {record: collection for collection, records in made.valid.items() for record in records}
    unplanted = sorted((valid.get(r, "?"), r) for r in counted if r not in planted)
    assert unplanted == [], f"{selected}: (collection, record) quarantined though valid"
    assert sorted(r for r, n in counted.items() if n > 1) == [], f"{selected}: records quarantined twice"
