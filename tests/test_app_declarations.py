"""An app's declarations are checked when they are built, and give the load order."""

import random
import subprocess
import sys
import textwrap

import pytest

from toolkit.declarations.app import App, DeclarationError, load_order
from toolkit.declarations.limits import derived_name, index_name
from toolkit.declarations.spec import ID, Feed, Field, Junction, Kind, ModelSpec, Reference, Side
from transforms import APP, DECLARED, ENUMS, JUNCTIONS


def model(name: str, *fields: Field, indexes=(), collection=None) -> ModelSpec:
    return ModelSpec(name, (ID, *fields), indexes, collection)


def ref(name: str, target: str) -> Field:
    return Field(name, Kind.OBJECT_ID, optional=True, references=Reference(target))


def parents_first(models) -> bool:
    seen = set()
    for m in models:
        if any(f.references.model not in seen | {m.name} for f in m.references):
            return False
        seen.add(m.name)
    return True


def test_nextcrm_loads_as_declared_and_parents_first():
    assert APP.models == DECLARED
    assert parents_first(APP.models)
    assert len(APP.tables) == 29 + len(JUNCTIONS)


@pytest.mark.parametrize("seed", range(5))
def test_any_listing_of_the_models_loads_parents_first(seed):
    shuffled = list(DECLARED)
    random.Random(seed).shuffle(shuffled)
    assert not parents_first(shuffled)  # else the case proves nothing
    ordered = App("NextCRM", tuple(shuffled), JUNCTIONS, ENUMS).models
    assert parents_first(ordered) and sorted(m.name for m in ordered) == sorted(m.name for m in DECLARED)


def test_the_order_keeps_the_listing_where_the_references_allow():
    a, b, c = model("A", ref("c", "C")), model("B"), model("C")
    assert [m.name for m in load_order((a, b, c), "Toy")] == ["B", "C", "A"]
    self_ref = model("Tree", ref("parent", "Tree"))
    assert load_order((self_ref,), "Toy") == (self_ref,)  # a model may reference itself


BROKEN = [  # (what is wrong, models, junctions, enums, what the one line must name)
    ("unknown reference", (model("A", ref("owner", "Users")),), (), {}, "A.owner: references unknown model 'Users'"),
    (
        "unknown report target",
        (model("A", Field("by", Kind.OBJECT_ID, points_to="Nobody")),),
        (),
        {},
        "A.by: points to unknown model 'Nobody'",
    ),
    (
        "unknown enum",
        (model("A", Field("status", Kind.ENUM, enum="Status")),),
        (),
        {},
        "A.status: unknown enum 'Status'",
    ),
    (
        "cycle",
        (model("A", ref("b", "B")), model("B", ref("c", "C")), model("C", ref("a", "A"))),
        (),
        {},
        "reference each other in a cycle",
    ),
    (
        "unknown index column",
        (model("A", Field("name", Kind.TEXT), indexes=(("nmae",),)),),
        (),
        {},
        "unknown column 'nmae'",
    ),
    (
        "unknown junction end",
        (model("A"),),
        (Junction("AToB", Side("a_id", "A"), Side("b_id", "B")),),
        {},
        "AToB.b_id: unknown model 'B'",
    ),
    (
        "feed from elsewhere",
        (model("A"), model("B"), model("C")),
        (Junction("AToB", Side("a_id", "A"), Side("b_id", "B"), (Feed("C", "bIDs"),)),),
        {},
        "C.bIDs (feeds AToB): its model is neither end of the junction",
    ),
    (
        "a table twice",
        (model("A"), model("B")),
        (Junction("A", Side("a_id", "A"), Side("b_id", "B")),),
        {},
        "table A: declared twice",
    ),
    (
        "set on every write, but no date",
        (ModelSpec("A", (ID, Field("name", Kind.TEXT)), updated_at=("name",)),),
        (),
        {},
        "A.name: is declared as set on every write, but is no date field",
    ),
    (
        "set on every write, but unknown",
        (ModelSpec("A", (ID,), updated_at=("updatedAt",)),),
        (),
        {},
        "A.updatedAt: is declared as set on every write, but is no date field",
    ),
    (
        "a collection twice",
        (model("A", collection="things"), model("B", collection="things")),
        (),
        {},
        "collection things: declared twice",
    ),
    (
        "two indexes one name once cut to 63 bytes",
        (model("A" * 58, Field("a", Kind.TEXT), Field("b", Kind.TEXT), indexes=(("a",), ("b",))),),
        (),
        {},
        f"index ('b',): its name in PostgreSQL, '{'A' * 58}__idx', is that of {'A' * 58} index ('a',) too",
    ),
    (
        "a table longer than 63 bytes",
        (model("T" * 64),),
        (),
        {},
        "is longer than PostgreSQL's 63 bytes",
    ),
    (
        "two tables whose records of m2pg's rows are one once cut to 63 bytes",
        (model("T" * 57 + "a"), model("T" * 57 + "b")),
        (),
        {},
        f"table {'T' * 57}b: m2pg's record of its rows, m2pg.owned_{'T' * 57}, would be that of table {'T' * 57}a",
    ),
    (
        "a column longer than 63 bytes",
        (model("A", Field("c" * 64, Kind.TEXT)),),
        (),
        {},
        f"A.{'c' * 64}: the name is longer than PostgreSQL's 63 bytes",
    ),
]

NAMES = [  # (table, columns, unique, the name Prisma's migration gives it: cut to 63 bytes, suffix kept)
    ("Post", ("title",), False, "Post_title_idx"),
    ("T" * 50, ("checksums",), False, "T" * 50 + "_checksum_idx"),
    ("T" * 50, ("checksums",), True, "T" * 50 + "_checksum_key"),
    ("T" * 63, (), None, "T" * 58 + "_pkey"),
    ("Té" * 20, ("x" * 30,), False, "Té" * 19 + "T_idx"),  # not cut inside a character
]


@pytest.mark.parametrize(("table", "columns", "unique", "name"), NAMES)
def test_a_long_name_is_cut_as_prisma_cuts_it(table, columns, unique, name):
    derived = derived_name(table, "pkey") if unique is None else index_name(table, columns, unique)
    assert derived == name and len(derived.encode()) <= 63


@pytest.mark.parametrize(("case", "models", "junctions", "enums", "named"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_declaration_error_names_the_model_and_field(case, models, junctions, enums, named):
    with pytest.raises(DeclarationError) as raised:
        App("Toy", models, junctions, enums)
    said = str(raised.value)
    assert named in said and "\n" not in said and said.startswith("Toy declarations: ")


def test_the_command_stops_at_start_up_with_one_line(tmp_path):
    # an app package whose declarations reference a model nobody declared, found before the real one
    (tmp_path / "transforms").mkdir()
    (tmp_path / "transforms" / "__init__.py").write_text(
        textwrap.dedent("""
        from toolkit.declarations.app import App
        from toolkit.declarations.spec import ID, Field, Kind, ModelSpec, Reference
        APP = App("Toy", (ModelSpec("Deals", (ID, Field("ownerId", Kind.OBJECT_ID, references=Reference("Owners")))),),
                  (), {})
    """)
    )
    done = subprocess.run(
        [sys.executable, "-m", "toolkit.cli", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: Toy declarations: Deals.ownerId: references unknown model 'Owners'; "
        "hint: fix the declaration in the app's package"
    ]
    assert "Traceback" not in done.stderr


def test_the_engine_finds_the_app_by_its_entry_point(monkeypatch):
    import transforms
    from toolkit.declarations.app import installed
    from toolkit.runtime.errors import ConfigError

    monkeypatch.delenv("M2PG_APP", raising=False)
    assert installed() is transforms.APP
    assert installed("nextcrm") is transforms.APP
    monkeypatch.setenv("M2PG_APP", "crm2")
    with pytest.raises(ConfigError, match=r"no app 'crm2' is installed \(installed apps: nextcrm\)"):
        installed()
    monkeypatch.setenv("M2PG_APP", "")  # set to nothing: the only app, not "several apps are installed"
    assert installed() is transforms.APP


def test_an_option_given_by_a_variable_set_to_nothing_says_so(monkeypatch):
    from toolkit.runtime.errors import ConfigError
    from toolkit.runtime.preflight import need

    monkeypatch.delenv("M2PG_PG_URI", raising=False)
    with pytest.raises(ConfigError, match=r"^--pg-uri is required; hint"):
        need(None, "--pg-uri")
    monkeypatch.setenv("M2PG_PG_URI", "")
    with pytest.raises(ConfigError, match=r"^--pg-uri is required, and M2PG_PG_URI is set to nothing; hint"):
        need(None, "--pg-uri")
    assert need("postgresql://h/db", "--pg-uri") == "postgresql://h/db"


def test_an_app_that_is_not_installed_is_named_by_module_and_attribute(monkeypatch):
    import transforms
    from toolkit.declarations.app import installed
    from toolkit.runtime.errors import ConfigError

    monkeypatch.setenv("M2PG_APP", "transforms:APP")
    assert installed() is transforms.APP
    for wrong, said in (
        ("transforms:NOPE", "cannot import the app"),
        ("transforms:ENUMS", "is a dict, not an App"),
        ("no_such_module:APP", "cannot import the app"),
    ):
        monkeypatch.setenv("M2PG_APP", wrong)
        with pytest.raises(ConfigError, match=said):
            installed()
