"""A small bookshop app, declared only to show that the engine knows no application: four
models covering every kind, a collection and a table renamed, a required and an optional
reference, defaults, a unique field and a junction fed from both sides."""

from toolkit.declarations.app import App
from toolkit.declarations.spec import ID, NOW, Feed, Field, Junction, Kind, ModelSpec, Reference, Side

PUBLISHERS = ModelSpec(
    "Publishers",
    fields=(
        ID,
        Field("name", Kind.TEXT),
        Field("founded", Kind.INT, optional=True),
        Field("independent", Kind.BOOL, default=True),
    ),
)

AUTHORS = ModelSpec(
    "Authors",
    collection="writers",  # the MongoDB collection is named apart from the model
    fields=(
        ID,
        Field("name", Kind.TEXT),
        Field("email", Kind.TEXT, unique=True),
        Field("joined", Kind.DATETIME, default=NOW),
        Field("languages", Kind.TEXT_LIST),
        Field("active", Kind.BOOL, default=False),
    ),
    indexes=(("joined",),),
)

BOOKS = ModelSpec(
    "Books",
    table_name="book",  # the PostgreSQL table is named apart from the model
    fields=(
        ID,
        Field("title", Kind.TEXT),
        Field("pages", Kind.INT, default=100),
        Field("genre", Kind.ENUM, enum="Genre", default="FICTION"),
        Field("details", Kind.JSON, optional=True),
        Field("published", Kind.DATETIME, optional=True),
        Field("publisher", Kind.OBJECT_ID, references=Reference("Publishers", on_delete="RESTRICT")),
        Field("editor", Kind.OBJECT_ID, optional=True, references=Reference("Authors")),
        Field("added", Kind.DATETIME, default=NOW),
    ),
    indexes=(("publisher",), ("editor",), ("genre",)),
)

REVIEWS = ModelSpec(
    "Reviews",
    fields=(
        ID,
        Field("book", Kind.OBJECT_ID, references=Reference("Books", on_delete="CASCADE")),
        Field("stars", Kind.INT),
        Field("state", Kind.ENUM, enum="ReviewState", default="DRAFT"),
        Field("reviewer", Kind.OBJECT_ID, optional=True, points_to="Authors"),
        Field("liked_by", Kind.UUID_LIST, points_to="Authors"),
        Field("text", Kind.TEXT, optional=True, source="body"),  # the MongoDB key differs from the column
    ),
    indexes=(("book",),),
)

BOOK_AUTHORS = Junction(
    "BookAuthors",
    Side("book_id", "Books"),
    Side("author_id", "Authors"),
    (Feed("Books", "authorIDs"), Feed("Authors", "bookIDs")),
)

ENUMS = {
    "Genre": ("FICTION", "POETRY", "HISTORY"),
    "ReviewState": ("DRAFT", "PUBLISHED"),
}

# Listed children first on purpose: the App must put every parent before its children itself.
APP = App("Bookshop", (REVIEWS, BOOKS, AUTHORS, PUBLISHERS), (BOOK_AUTHORS,), ENUMS, database="bookshop")
