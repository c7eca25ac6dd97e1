"""The data generators know no application: a toy app with other models gets sample, bad and large
data from its declarations alone, and its own `SampleData` tables decide what they name."""

from __future__ import annotations

import dataclasses

import bson
import pytest
from bson import ObjectId

from toolkit.declarations.app import App
from toolkit.declarations.spec import ID, Feed, Field, Junction, Kind, ModelSpec, Reference, Side
from toolkit.generate import large as generate_large
from toolkit.generate import sample as generate
from toolkit.generate.sample import DROP, Forge, SampleData

SHELF = ModelSpec("Shelf", (ID, Field("label", Kind.TEXT), Field("open", Kind.BOOL)), collection="shelves")
BOOK = ModelSpec(
    "Book",
    (
        ID,
        Field("title", Kind.TEXT),
        Field("isbn", Kind.TEXT, unique=True),
        Field("pages", Kind.INT),
        Field("genre", Kind.ENUM, enum="Genre"),
        Field("shelf", Kind.OBJECT_ID, references=Reference("Shelf")),
        Field("keeper", Kind.OBJECT_ID, optional=True, references=Reference("Shelf")),
        Field("readAt", Kind.DATETIME, optional=True),
        Field("notes", Kind.JSON, optional=True),
        Field("tags", Kind.TEXT_LIST),
        Field("mood", Kind.TEXT, optional=True),
    ),
    collection="books",
)
TOY = App(
    "Library",
    (BOOK, SHELF),
    (
        Junction(
            "BookNeighbours",
            Side("book_id", "Book"),
            Side("shelf_id", "Shelf"),
            (Feed("Book", "nearIDs"), Feed("Shelf", "nearBookIDs")),
        ),
    ),
    {"Genre": ("NOVEL", "ESSAY", "POETRY"), "Mood": ("calm", "wild")},
    database="library",
)


def _forged_references(forge: Forge) -> list[tuple[str, dict, str]]:
    return [("books", forge.valid("books") | {"shelf": forge.fresh()}, "reference")]


TABLES = SampleData(
    counts={"Book": 120, "Shelf": 7},
    text={"Book.title": lambda r: f"Volume {r.randint(1, 9)}"},
    text_enums={"Book.mood": "Mood"},
    patterns=(("isbn", lambda r: f"978-{r.randint(0, 9)}"),),
    json={"notes": lambda r: {"stars": r.randint(1, 5)}},
    int_ranges={"pages": (10, 20)},
    true_share={"open": 1.0},
    days_after_creation={"readAt": (1, 2)},
    edge_cases=lambda r, data: generate.plant(r, data, (("books", "title", ""),)),
    breaks=(("books", "title", DROP, "required"), ("shelves", "open", "yes", "type")),
    broken_references=_forged_references,
    large_counts={"Book": (500, generate_large.SCALED), "Shelf": (3, generate_large.FIXED)},
    linked=frozenset({"Book.keeper"}),
    large_json={"Book.notes": generate_large.labels},
)
TOLD = dataclasses.replace(TOY, sample_data=TABLES)


def _ids(data, collection):
    return {d["_id"] for d in data[collection]}


# --- nothing but the declarations ----------------------------------------------------------


@pytest.fixture(scope="module")
def plain():
    return generate.sample(TOY, 3)


def test_a_plain_app_gets_its_collections_at_the_default_count(plain):
    assert {c: len(docs) for c, docs in plain.items()} == {"books": 300, "shelves": 300}
    assert generate_large.counts(TOY, 2.0) == {"books": 600, "shelves": 600}


def test_a_plain_app_gets_valid_values_of_every_kind(plain):
    shelves = _ids(plain, "shelves")
    books = plain["books"]
    assert all(b["shelf"] in shelves for b in books)
    assert {b["genre"] for b in books} == {"NOVEL", "ESSAY", "POETRY"}
    assert all(0 <= b["pages"] <= 1000 for b in books)
    assert {b["title"] for b in books} <= set(SampleData().words)
    assert len({b["isbn"] for b in books}) == len(books)
    assert all(t in SampleData().tags for b in books for t in b.get("tags") or ())
    assert any(b.get("nearIDs") for b in books) and any(s.get("nearBookIDs") for s in plain["shelves"])


def test_a_plain_app_has_no_bad_records_and_its_demo_is_its_sample(plain):
    assert generate.bad_records(TOY, 3) == []
    assert generate.demo_dataset(TOY, 3) == plain


def test_a_plain_app_gets_a_large_dump_named_after_its_database(tmp_path):
    sizes = generate_large.large(TOY, 0.1, 3, dump_out=tmp_path)
    assert sizes == {"books": 30, "shelves": 30}
    data = {c: bson.decode_all((tmp_path / "library" / f"{c}.bson").read_bytes()) for c in sizes}
    assert {c: len(docs) for c, docs in data.items()} == sizes
    assert {b["shelf"] for b in data["books"]} <= _ids(data, "shelves")
    assert any(b.get("keeper") is None for b in data["books"])
    assert all(type(t) is str for b in data["books"] for t in b.get("notes") or ())


# --- the app's own tables ------------------------------------------------------------------


@pytest.fixture(scope="module")
def told():
    return generate.sample(TOLD, 3)


def test_counts_and_makers_come_from_the_apps_tables(told):
    books = told["books"]
    assert {c: len(docs) for c, docs in told.items()} == {"books": 120, "shelves": 7}
    assert {b["title"] for b in books} - {""} <= {f"Volume {n}" for n in range(1, 10)}
    assert {b["mood"] for b in books if b.get("mood")} == {"calm", "wild"}
    assert all(b["isbn"].startswith("978-") for b in books)
    assert all(10 <= b["pages"] <= 20 for b in books)
    assert all(s["open"] is True for s in told["shelves"] if "open" in s)
    assert all(1 <= (b["readAt"] - b["_id"].generation_time).days <= 2 for b in books if b.get("readAt"))
    notes = [b["notes"] for b in books if b.get("notes")]
    assert notes and all(n.keys() == {"stars"} for n in notes)
    assert sum(b.get("title") == "" for b in books) == 1  # the planted edge case


def test_breaks_and_forged_references_make_the_bad_records(told):
    bad = generate.bad_records(TOLD, 3)
    assert [(c, r) for c, _, r in bad] == [("books", "required"), ("shelves", "type"), ("books", "reference")]
    assert "title" not in bad[0][1] and bad[1][1]["open"] == "yes"
    assert bad[2][1]["shelf"] not in _ids(told, "shelves") and isinstance(bad[2][1]["shelf"], ObjectId)
    demo = generate.demo_dataset(TOLD, 3)
    assert {c: len(docs) for c, docs in demo.items()} == {"books": 122, "shelves": 8}


def test_large_counts_and_linked_references_come_from_the_apps_tables(tmp_path):
    assert generate_large.counts(TOLD, 0.5) == {"books": 250, "shelves": 3}
    generate_large.large(TOLD, 0.5, 3, dump_out=tmp_path, db="elsewhere")
    books = bson.decode_all((tmp_path / "elsewhere" / "books.bson").read_bytes())
    assert all(b.get("keeper") is not None for b in books)
    labels = [t for b in books for t in b.get("notes") or ()]
    assert labels and all(t.keys() == {"name", "color"} for t in labels)
