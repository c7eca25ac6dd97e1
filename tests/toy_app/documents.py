"""The bookshop's documents, written by hand: a dozen per collection, each bad one planted for
one rule, so a test knows exactly which records must be quarantined and why."""

from datetime import UTC, datetime, timedelta

from bson import ObjectId

START = datetime(2024, 1, 1, tzinfo=UTC)


def oid(prefix: int, n: int) -> ObjectId:
    """An ObjectId made `n` hours after START: its creation time is what NOW defaults read."""
    seconds = int((START + timedelta(hours=n)).timestamp())
    return ObjectId(f"{seconds:08x}{prefix:08x}{n:08x}")


PUBLISHERS = [oid(1, n) for n in range(12)]
AUTHORS = [oid(2, n) for n in range(12)]
BOOKS = [oid(3, n) for n in range(12)]
REVIEWS = [oid(4, n) for n in range(12)]
NOWHERE = oid(9, 0)  # an id no document has


def created(object_id: ObjectId) -> datetime:
    """What a NOW default becomes: the ObjectId's creation time, naive UTC as PostgreSQL returns it."""
    return object_id.generation_time.replace(tzinfo=None)


def publishers() -> list[dict]:
    docs = []
    for n, _id in enumerate(PUBLISHERS[:11]):
        doc = {"_id": _id, "name": f"Publisher {n}"}
        if n % 2 == 0:
            doc["founded"] = 1900 + n
        if n % 3 == 0:
            doc["independent"] = False  # the others take the default, True
        docs.append(doc)
    docs.append({"_id": PUBLISHERS[11], "name": "Wrong Type Press", "founded": "nineteen hundred"})
    return docs


def authors() -> list[dict]:
    docs = []
    for n, _id in enumerate(AUTHORS[:10]):
        doc = {
            "_id": _id,
            "name": f"Author {n}",
            "email": f"author{n}@example.org",
            "bookIDs": [BOOKS[n % 9], BOOKS[(n + 1) % 9]],
        }
        if n % 2 == 0:
            doc["joined"] = datetime(2020, 1, 1 + n, 12, 30, 15, 123000)
        if n % 3 != 0:
            doc["languages"] = ["en", "fr"][: 1 + n % 2]
        if n % 4 == 0:
            doc["active"] = True
        docs.append(doc)
    docs[3]["bookIDs"].append(BOOKS[10])  # a book that is quarantined: no pair
    docs[4]["bookIDs"].append(NOWHERE)  # a book that never existed: no pair
    docs.append({"_id": AUTHORS[10], "name": "Copycat", "email": "author2@example.org", "bookIDs": [BOOKS[0]]})
    docs.append(
        {"_id": AUTHORS[11], "name": "Author 11", "email": "author11@example.org", "languages": [], "active": False}
    )
    return docs


def books() -> list[dict]:
    docs = []
    for n, _id in enumerate(BOOKS[:9]):
        doc = {
            "_id": _id,
            "title": f"Book {n}",
            "publisher": PUBLISHERS[n % 11],
            "details": {"isbn": f"978-{n:04d}", "formats": ["paper", "ebook"][: 1 + n % 2]},
            "authorIDs": [AUTHORS[(n + 5) % 10]],
        }
        if n % 2 == 1:
            doc["pages"] = 200 + n
        if n % 3 == 1:
            doc["genre"] = "POETRY"
        if n % 3 == 2:
            doc["published"] = datetime(2019, 6, 1 + n)
        if n < 4:
            doc["added"] = datetime(2023, 3, 1 + n, 8)
        docs.append(doc)
    docs[1]["editor"] = AUTHORS[7]
    docs[2]["editor"] = NOWHERE  # an optional reference to nothing: loaded as NULL
    docs[3]["editor"] = AUTHORS[10]  # an optional reference to a quarantined author: NULL too
    docs[5]["authorIDs"].append(AUTHORS[10])  # a quarantined author: no pair
    docs[6]["authorIDs"].append(AUTHORS[5])  # the same pair the author's own array names
    docs.append({"_id": BOOKS[9], "title": "Orphan", "publisher": NOWHERE})
    docs.append({"_id": BOOKS[10], "title": "Thriller", "publisher": PUBLISHERS[0], "genre": "THRILLER"})
    docs.append({"_id": BOOKS[11], "title": "Wrong Publisher", "publisher": PUBLISHERS[11]})
    return docs


def reviews() -> list[dict]:
    docs = []
    for n, _id in enumerate(REVIEWS[:9]):
        doc = {
            "_id": _id,
            "book": BOOKS[n],
            "stars": 1 + n % 5,
            "reviewer": AUTHORS[n],
            "liked_by": [AUTHORS[(n + 1) % 10], AUTHORS[(n + 2) % 10]][: n % 3],
        }
        if n % 2 == 0:
            doc["state"] = "PUBLISHED"
        if n % 4 != 3:
            doc["body"] = f"Review {n}"
        docs.append(doc)
    docs[4]["stars"] = 4.0  # a whole double converts
    docs[5]["liked_by"] = [NOWHERE]  # an array with no foreign key keeps the id it names
    docs.append({"_id": REVIEWS[9], "book": BOOKS[10], "stars": 2})
    docs.append({"_id": REVIEWS[10], "book": BOOKS[0]})
    docs.append({"_id": REVIEWS[11], "book": BOOKS[1], "stars": 3.5})
    return docs


def dataset() -> dict[str, list[dict]]:
    """{collection: documents}, the collections named as the source names them."""
    return {"Publishers": publishers(), "writers": authors(), "Books": books(), "Reviews": reviews()}


PLANTED = {  # (collection, ObjectId) -> (field, rule): exactly what the quarantine must hold
    ("Publishers", PUBLISHERS[11]): ("founded", "type"),
    ("writers", AUTHORS[10]): ("email", "unique"),
    ("Books", BOOKS[9]): ("publisher", "reference"),
    ("Books", BOOKS[10]): ("genre", "enum"),
    ("Books", BOOKS[11]): ("publisher", "quarantined_reference"),
    ("Reviews", REVIEWS[9]): ("book", "quarantined_reference"),
    ("Reviews", REVIEWS[10]): ("stars", "required"),
    ("Reviews", REVIEWS[11]): ("stars", "type"),
}
