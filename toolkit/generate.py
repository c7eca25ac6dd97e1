"""A reproducible, realistic NextCRM dataset for the demo and the tests.

Documents are derived from the declarations: each field's kind, enum, reference and
optionality decide its value, and JUNCTIONS decide the arrays of ObjectIds on either side of a
many-to-many relation. The only NextCRM knowledge written here is how many documents a
collection holds and which realistic values a text, number or date field takes.

`sample` is clean data (plus the edge cases a naive migration gets wrong), `bad_records` are
the documents that must be quarantined, with the rule that should catch each, and
`demo_dataset` is both. `write_mongo` and `write_dump` put a dataset into a server or into a
mongodump directory.
"""
from __future__ import annotations

import bisect
import copy
import itertools
import json
import random
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import bson
from bson import Decimal128, Int64, ObjectId
from bson.datetime_ms import DatetimeMS
from pymongo import MongoClient

from toolkit.progress import tracked
from toolkit.spec import LIST_KINDS, Field, Kind, ModelSpec
from transforms import ENUMS, JUNCTIONS, MODELS

Dataset = dict[str, list[dict]]
Ids = dict[str, list[ObjectId]]  # model name -> its ids, ascending (oldest first)

UTC = timezone.utc
START = datetime(2019, 1, 1, tzinfo=UTC)
END = datetime(2025, 6, 30, tzinfo=UTC)
BY_NAME = {m.name: m for m in MODELS}

DEFAULT_COUNT = 300
COUNTS = {  # documents per model; at most 950 so the bad records keep every collection <= 1000
    "Users": 400, "crm_Industry_Type": 100, "crm_campaigns": 120,
    "crm_Opportunities_Sales_Stages": 100, "crm_Opportunities_Type": 100, "Documents_Types": 100,
    "invoice_States": 100, "Employees": 250, "ImageUpload": 150, "MyAccount": 100,
    "modulStatus": 100, "system_Modules_Enabled": 100, "systemServices": 100,
    "gpt_models": 100, "crm_Accounts": 600, "crm_Leads": 700, "crm_Opportunities": 700,
    "crm_Contacts": 900, "crm_Contracts": 500, "Invoices": 600, "Documents": 800,
    "Sections": 900, "Tasks": 950, "crm_Accounts_Tasks": 600, "tasksComments": 950,
    "secondBrain_notions": 150, "openAi_keys": 150,
}

# --- value pools ----------------------------------------------------------------------------

FIRST = ("Jana", "Petr", "Lucie", "Tomáš", "Eva", "Jiří", "Anna", "Martin", "Zoë", "Łukasz",
         "Olena", "Mohammed", "Sofia", "Noah", "Chloé", "Björn", "Aiko", "Dmytro", "Grace", "Ян")
LAST = ("Novák", "Svoboda", "Dvořák", "Černá", "Smith", "Müller", "Kowalski", "Shevchenko",
        "García", "O'Brien", "Nguyễn", "Ålund", "Tanaka", "Procházková", "Johnson", "Weiß")
COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Stark Industries", "Wayne Enterprises",
             "Škoda Digital", "Nordlicht", "Hooli", "Vandelay Industries", "Soylent", "Tyrell",
             "Cyberdyne", "Pied Piper", "Massive Dynamic", "Żabka Logistics", "Öko Systems")
LEGAL_FORMS = ("s.r.o.", "a.s.", "GmbH", "Ltd", "Inc.", "SE", "LLC", "sp. z o.o.")
DOMAINS = ("example.com", "example.cz", "mail.example.org", "firma.example.de", "corp.example")
PLACES = (("Praha", "Hlavní město Praha", "Czech Republic", "CZ"),
          ("Brno", "Jihomoravský kraj", "Czech Republic", "CZ"),
          ("Berlin", "Berlin", "Germany", "DE"), ("München", "Bayern", "Germany", "DE"),
          ("Kyiv", "Kyiv City", "Ukraine", "UA"), ("London", "England", "United Kingdom", "GB"),
          ("New York", "NY", "United States", "US"), ("Kraków", "Małopolskie", "Poland", "PL"))
STREETS = ("Národní", "Václavské náměstí", "Hauptstraße", "Main Street", "Khreshchatyk",
           "Baker Street", "Ulica Floriańska", "Lidická")
WORDS = ("call", "client", "follow", "up", "proposal", "contract", "renewal", "meeting", "demo",
         "budget", "quote", "invoice", "shipping", "support", "onboarding", "review", "pricing",
         "schválení", "smlouva", "Angebot", "Rechnung", "зустріч", "next", "week", "urgent",
         "quarterly", "integration", "feedback", "discount", "deadline", "☕", "🚀")
TAGS = ("vip", "priority", "q1", "q2", "q3", "q4", "renewal", "upsell", "churn-risk", "partner",
        "eu", "us", "enterprise", "smb", "🔥")
MIME_TYPES = ("application/pdf", "image/png", "image/jpeg", "text/plain",
              "application/vnd.openxmlformats-officedocument.wordprocessingml.document")


def _one_of(*values: str) -> Callable[[random.Random], str]:
    return lambda r: r.choice(values)


def _digits(r: random.Random, n: int) -> str:
    return "".join(r.choices("0123456789", k=n))


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum()) or "user"


def _person(r: random.Random) -> str:
    return f"{r.choice(FIRST)} {r.choice(LAST)}"


def _email(r: random.Random) -> str:
    return f"{_ascii(r.choice(FIRST))}.{_ascii(r.choice(LAST))}@{r.choice(DOMAINS)}"


def _company(r: random.Random) -> str:
    return f"{r.choice(COMPANIES)} {r.choice(LEGAL_FORMS)}"


def _sentence(r: random.Random) -> str:
    text = " ".join(r.choices(WORDS, k=r.randint(3, 14)))
    return text[0].upper() + text[1:] + "."


def _url(r: random.Random) -> str:
    return f"https://{r.choice(DOMAINS)}/{r.randbytes(6).hex()}"


def _place(part: int) -> Callable[[random.Random], str]:
    return lambda r: r.choice(PLACES)[part]


def _date_text(r: random.Random) -> str:
    day = START + timedelta(days=r.randrange((END - START).days))
    return day.strftime("%Y-%m-%dT%H:%M:%S.000Z")


TEXT: dict[str, Callable[[random.Random], str]] = {
    # field names qualified by model, where one name means different things
    "Users.name": _person, "Employees.name": _person, "crm_Accounts.name": _company,
    "crm_Opportunities.name": lambda r: f"{r.choice(COMPANIES)} – {r.choice(WORDS)} deal",
    "crm_Industry_Type.name": _one_of("Software", "Manufacturing", "Retail", "Healthcare",
                                      "Finance", "Logistics", "Energy", "Education"),
    "Documents_Types.name": _one_of("Invoice", "Receipt", "Contract", "Offer", "Other"),
    "invoice_States.name": _one_of("New", "Sent", "Paid", "Overdue", "Cancelled"),
    "crm_Opportunities_Sales_Stages.name": _one_of("Prospecting", "Qualification",
                                                   "Proposal", "Negotiation", "Closed Won",
                                                   "Closed Lost"),
    "crm_Opportunities_Type.name": _one_of("New Business", "Existing Business", "Upsell"),
    "crm_campaigns.name": lambda r: f"{r.choice(('Spring', 'Summer', 'Autumn', 'Winter'))} "
                                    f"{r.randint(2019, 2025)} {r.choice(('Webinar', 'Mailing', 'Expo'))}",
    "modulStatus.name": _one_of("crm", "projects", "documents", "invoices", "emails", "reports"),
    "system_Modules_Enabled.name": _one_of("crm", "projects", "documents", "invoice",
                                           "secondBrain", "openai", "employee"),
    "systemServices.name": _one_of("rossum", "openai", "resend", "uploadthing", "notion"),
    "Tasks.title": _sentence, "crm_Accounts_Tasks.title": _sentence, "TodoList.title": _sentence,
    "Boards.title": lambda r: f"{r.choice(COMPANIES)} {r.choice(('roadmap', 'sprint', 'launch'))}",
    "Sections.title": _one_of("Backlog", "To do", "In progress", "Review", "Done"),
    "crm_Contracts.title": lambda r: f"{r.choice(('Service', 'Licence', 'Support'))} agreement",
    "crm_Accounts.status": _one_of("Active", "Inactive"),
    "crm_Leads.status": _one_of(*ENUMS["crm_Lead_Status"]),
    "crm_Leads.type": _one_of(*ENUMS["crm_Lead_Type"]),
    "crm_Accounts.type": _one_of(*ENUMS["crm_Contact_Type"]),
    "crm_Contacts.type": _one_of(*ENUMS["crm_Contact_Type"]),
    "crm_Contracts.type": _one_of("Service", "Licence", "Support", "NDA"),
    "crm_campaigns.status": _one_of("Planned", "Active", "Completed"),
    "Employees.status": _one_of("active", "on leave", "terminated"),
    "Invoices.status": _one_of("new", "sent", "paid", "overdue"),
    "Documents.status": _one_of("ACTIVE", "ARCHIVED"),
    "Documents.key": lambda r: f"documents/{r.randbytes(8).hex()}.pdf",
    "crm_Contacts.position": _one_of("CEO", "CTO", "Sales Manager", "Buyer", "Jednatel"),
    "TodoList.createdAt": _date_text,
    "TodoList.user": lambda r: r.randbytes(12).hex(),
    # plain field names
    "first_name": lambda r: r.choice(FIRST), "firstName": lambda r: r.choice(FIRST),
    "last_name": lambda r: r.choice(LAST), "lastName": lambda r: r.choice(LAST),
    "username": lambda r: f"{_ascii(r.choice(FIRST))}{r.randint(1, 99)}",
    "refered_by": _person, "account_name": _company, "company": _company,
    "company_name": _company, "partner": _company, "member_of": _company,
    "jobTitle": _one_of("Head of Sales", "Procurement", "CFO", "Office Manager", "Developer"),
    "priority": _one_of("low", "normal", "high", "critical"),
    "visibility": _one_of("public", "private"),
    "icon": _one_of("📋", "🚀", "rocket", "briefcase", "🎯"),
    "lead_source": _one_of("Web", "Referral", "Event", "Cold call", "LinkedIn"),
    "campaign": lambda r: f"{r.choice(('Spring', 'Autumn'))} {r.randint(2019, 2025)} Mailing",
    "birthday": lambda r: f"{r.randint(1950, 2002)}-{r.randint(1, 12):02}-{r.randint(1, 28):02}",
    "annual_revenue": lambda r: f"{r.randint(1, 900) * 100_000:,}".replace(",", " "),
    "employees": _one_of("1-10", "11-50", "51-200", "201-1000", "1000+"),
    "model": _one_of("gpt-4o", "gpt-4o-mini", "gpt-4-turbo", "gpt-3.5-turbo"),
    "invoice_type": _one_of("invoice", "credit_note", "proforma"),
    "document_type": _one_of("invoice", "receipt"),
    "invoice_language": _one_of("cs", "en", "de"),
    "invoice_amount": lambda r: f"{r.randint(100, 500_000)}.{_digits(r, 2)}",
    "rossum_status": _one_of("to_review", "confirmed", "exported", "failed_import"),
    "document_name": lambda r: f"{r.choice(WORDS)}-{_digits(r, 4)}.{r.choice(('pdf', 'docx', 'png'))}",
    "currency": _one_of("CZK", "EUR", "USD"), "invoice_currency": _one_of("CZK", "EUR", "USD"),
    "currency_symbol": _one_of("Kč", "€", "$"),
    "servicePort": _one_of("443", "8080", "5432"),
    "document_file_mimeType": _one_of(*MIME_TYPES), "invoice_file_mimeType": _one_of(*MIME_TYPES),
    "connected_documents": lambda r: r.randbytes(12).hex(), "notes": _sentence,
}

PATTERNS: tuple[tuple[str, Callable[[random.Random], str]], ...] = (  # by substring, in order
    ("email", _email), ("social_", lambda r: f"https://social.example/{_ascii(r.choice(LAST))}"),
    ("url", _url), ("website", _url), ("avatar", _url),
    ("prefix", _one_of("+420", "+49", "+380", "+44", "+1")),
    ("phone", lambda r: _digits(r, 9)), ("fax", lambda r: _digits(r, 9)),
    ("mobile", lambda r: _digits(r, 9)),
    ("iban", lambda r: f"CZ{_digits(r, 22)}"), ("swift", _one_of("KOMBCZPP", "GIBACZPX")),
    ("bic", _one_of("KOMBCZPP", "GIBACZPX")), ("vat", lambda r: f"CZ{_digits(r, 8)}"),
    ("tax", lambda r: f"CZ{_digits(r, 8)}"), ("zip", lambda r: _digits(r, 5)),
    ("postal_code", lambda r: _digits(r, 5)), ("country_code", _place(3)),
    ("country", _place(2)), ("city", _place(0)), ("state", _place(1)),
    ("street", lambda r: f"{r.choice(STREETS)} {r.randint(1, 200)}"),
    ("bank_name", _one_of("Komerční banka", "ČSOB", "Deutsche Bank", "Fio banka")),
    ("partner_bank", _one_of("Komerční banka", "ČSOB", "Deutsche Bank", "Fio banka")),
    ("account", lambda r: _digits(r, 10)), ("bank_code", lambda r: _digits(r, 4)),
    ("description", _sentence), ("content", _sentence), ("comment", _sentence),
    ("next_step", _sentence), ("key", lambda r: r.randbytes(16).hex()),
    ("password", lambda r: "$2b$10$" + r.randbytes(22).hex()),
    ("symbol", lambda r: _digits(r, 10)), ("number", lambda r: _digits(r, 8)),
    ("_id", lambda r: r.randbytes(8).hex()), ("id", lambda r: r.randbytes(8).hex()),
)

INT_RANGES = {"__v": (0, 3), "budget": (1_000, 500_000), "expected_revenue": (0, 750_000),
              "favouritePosition": (0, 20), "likes": (0, 40), "order": (1, 12),
              "position": (0, 50), "probability": (0, 100), "salary": (25_000, 180_000),
              "size": (1_000, 25_000_000), "value": (500, 2_000_000)}
TRUE_SHARE = {"is_admin": 0.05, "is_account_admin": 0.1, "enabled": 0.8, "isVisible": 0.8,
              "visibility": 0.9, "status": 0.85}
DAYS_AFTER_CREATION = {  # (min, max) days between a document's creation and a date field
    "updatedAt": (0, 400), "last_updated": (0, 400), "lastEditedAt": (0, 200),
    "last_activity": (0, 300), "lastLoginAt": (0, 700), "dueDateAt": (1, 90),
    "date_due": (14, 30), "close_date": (7, 240), "startDate": (0, 30), "endDate": (180, 1100),
    "renewalReminderDate": (150, 1000), "customerSignedDate": (0, 20),
    "companySignedDate": (0, 20), "date_of_case": (-10, 0), "date_tax": (-10, 0),
}


def _text(r: random.Random, model: str, name: str) -> str:
    make = TEXT.get(f"{model}.{name}") or TEXT.get(name)
    if make is None:
        make = next((m for part, m in PATTERNS if part in name.lower()), None)
    return make(r) if make else r.choice(WORDS)


def _tags(r: random.Random) -> object:
    if r.random() < 0.5:
        return r.sample(TAGS, r.randint(0, 3))
    return [{"id": r.randbytes(4).hex(), "name": t, "color": f"#{r.randbytes(3).hex()}"}
            for t in r.sample(TAGS, r.randint(1, 3))]


def _invoice_items(r: random.Random) -> list[dict]:
    return [{"description": _sentence(r), "quantity": r.randint(1, 20),
             "unit_price": Decimal128(f"{r.randint(100, 999_999) / 100:.2f}"),
             "vat_rate": r.choice((0, 12, 21))} for _ in range(r.randint(1, 4))]


JSON: dict[str, Callable[[random.Random], object]] = {"tags": _tags, "invoice_items": _invoice_items}

# --- documents from declarations -----------------------------------------------------------


def _object_ids(r: random.Random, n: int) -> list[ObjectId]:
    """Ids created at random moments of recent years, oldest first like an insert log."""
    span = int((END - START).total_seconds())
    moments = (START + timedelta(seconds=r.randrange(span)) for _ in range(n))
    return sorted(ObjectId(ObjectId.from_datetime(t).binary[:4] + r.randbytes(8)) for t in moments)


def _pick(r: random.Random, pool: list[ObjectId], before: ObjectId) -> ObjectId:
    """A document of `pool` that already existed when `before` was created, if there is one."""
    older = bisect.bisect_left(pool, before)
    return pool[r.randrange(older or len(pool))]


def _int(r: random.Random, name: str) -> object:
    """An in-range integer, sometimes stored as Int64 or as a lossless double, as drivers do."""
    value = r.randint(*INT_RANGES.get(name, (0, 1000)))
    roll = r.random()
    return Int64(value) if roll < 0.08 else float(value) if roll < 0.15 else value


def _date(r: random.Random, name: str, oid: ObjectId) -> datetime:
    low, high = DAYS_AFTER_CREATION.get(name, (0, 0))
    offset = timedelta(days=r.uniform(low, high), milliseconds=r.randrange(1000))
    moment = oid.generation_time + offset
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)  # BSON keeps ms


def _target(f: Field) -> str | None:
    return f.references.model if f.references else f.points_to


def _value(r: random.Random, model: ModelSpec, f: Field, index: int, oid: ObjectId, ids: Ids):
    """A valid value for `f`: the first documents cycle through every enum value."""
    if f.kind is Kind.OBJECT_ID:
        return _pick(r, ids[_target(f)], oid)
    if f.kind is Kind.UUID_LIST:
        users = [_pick(r, ids[_target(f)], oid) for _ in range(r.randint(0, 4))]
        return users + users[:1] if r.random() < 0.1 else users  # sometimes shared twice
    if f.kind is Kind.ENUM:
        values = ENUMS[f.enum]
        return values[index] if index < len(values) else r.choice(values)
    if f.kind is Kind.INT:
        return _int(r, f.name)
    if f.kind is Kind.BOOL:
        return r.random() < TRUE_SHARE.get(f.name, 0.5)
    if f.kind is Kind.DATETIME:
        return _date(r, f.name, oid)
    if f.kind is Kind.JSON:
        return JSON.get(f.name, _tags)(r)
    if f.kind is Kind.TEXT_LIST:
        one = (lambda: r.choice(TAGS)) if f.name == "tags" else (lambda: _text(r, model.name, f.name))
        return [one() for _ in range(r.randint(0, 3))]
    text = _text(r, model.name, f.name)
    if f.unique:  # unique at any count: the document's index joins the value
        local, at, domain = text.partition("@")
        text = f"{local}.{index}{at}{domain}"
    return text


def _absence(r: random.Random, f: Field) -> str | None:
    """How an optional value is left out: 'null', 'missing' or not at all (None)."""
    roll = r.random()
    if f.required:
        return None
    if f.kind in LIST_KINDS:
        return None if roll < 0.85 else "missing" if roll < 0.97 else "null"
    if f.optional:
        return None if roll < 0.75 else "null" if roll < 0.87 else "missing"
    return None if roll < 0.85 else "missing"  # a default fills it in


def _document(r: random.Random, model: ModelSpec, index: int, oid: ObjectId, ids: Ids) -> dict:
    doc = {}
    for f in model.fields:
        if f.key == "_id":
            doc["_id"] = oid
            continue
        absence = None if f.enum and index < len(ENUMS[f.enum]) else _absence(r, f)
        if absence == "null":
            doc[f.key] = None
        elif absence is None:
            doc[f.key] = _value(r, model, f, index, oid, ids)
    return doc


def _fill_junctions(r: random.Random, data: Dataset, ids: Ids) -> None:
    """Link pairs, then record each pair in one side's array, the other's, or both."""
    for junction in JUNCTIONS:
        arrays = {feed: {} for feed in junction.feeds}
        rights = ids[junction.right.model]
        for left in ids[junction.left.model]:
            for right in r.sample(rights, r.choice((0, 0, 1, 1, 2, 3))):
                feeds = junction.feeds if len(junction.feeds) == 1 else r.choice(
                    (junction.feeds[:1], junction.feeds[1:], junction.feeds))
                for feed in feeds:
                    owner, element = (left, right) if feed.model == junction.left.model else (right, left)
                    arrays[feed].setdefault(owner, []).append(element)
        for feed, by_owner in arrays.items():
            for doc in data[BY_NAME[feed.model].source]:
                if doc["_id"] in by_owner:
                    doc[feed.key] = by_owner[doc["_id"]]
                elif r.random() < 0.5:
                    doc[feed.key] = []


LONG_TEXT = ("Ukázkový dlouhý text – 🚀 " * 5000)[:100_000]
TRICKY_JSON = {
    "a.b": "dotted key", "$set": {"x": 1}, "owner": ObjectId("5f1d7c2e9b1e8a3c4d5e6f70"),
    "due": datetime(2024, 2, 29, 12, 30, tzinfo=UTC), "big": Int64(2**53 + 1),
    "price": Decimal128("1234567890.123456789"), "nested": [{"k.$": None, "ok": True}, []],
}
EDGE_CASES: tuple[tuple[str, str, object], ...] = (  # (collection, key, value) on distinct docs
    ("crm_Accounts", "description", ""), ("Sections", "title", ""),
    ("crm_Contacts", "first_name", ""), ("Users", "name", "Zoë Ångström 👩‍💻"),
    ("crm_Accounts", "name", "Cafe\u0301 Société 🍰"), ("crm_Contacts", "last_name", "כהן"),
    ("crm_Leads", "company", "شركة النور"), ("Tasks", "title", "Review \u05e9\u05dc\u05d5\u05dd 👍🏽 done"),
    ("crm_Leads", "lastName", "NULL"), ("crm_Contacts", "last_name", "\\N"),
    ("crm_Accounts", "vat", "NULL"), ("Tasks", "content", "\\N"),
    ("Documents", "description", LONG_TEXT), ("Tasks", "tags", TRICKY_JSON),
    ("crm_Accounts_Tasks", "tags", {"$currency": "EUR", "when.utc": datetime(1999, 12, 31, tzinfo=UTC)}),
    ("Invoices", "invoice_items", [{"sku.code": "A-1", "$price": Decimal128("-0.00")}]),
    ("Users", "id", "legacy-user-42"), ("Boards", "v", 3),
    ("crm_Accounts", "legacy_salesforce_id", "0015g00000XyZAB"), ("Tasks", "_migrated", True),
    ("Documents", "thumbnail", {"w": 120, "h": 90}),
    ("Boards", "position", 75.0), ("Tasks", "position", -0.0),
    ("crm_Contracts", "value", Int64(2**31 - 1)), ("crm_Opportunities", "budget", Int64(-2**31)),
    ("crm_Contracts", "endDate", datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
    ("crm_Opportunities", "close_date", datetime(1, 1, 1, tzinfo=UTC)),
    ("Users", "lastLoginAt", datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
)


def _edge_cases(r: random.Random, data: Dataset) -> None:
    """Plant the values a naive migration gets wrong, each on its own document."""
    free = {c: r.sample(range(len(docs)), len(docs)) for c, docs in data.items()}
    for collection, key, value in EDGE_CASES:
        data[collection][free[collection].pop()][key] = copy.deepcopy(value)
    watched = next(d for d in data["Boards"] if d.get("watchers"))
    watched["watchers"].append(watched["watchers"][0])  # a pair recorded twice


def _ids(seed: int) -> Ids:
    return {m.name: _object_ids(random.Random(f"{seed}:{m.name}:ids"), COUNTS.get(m.name, DEFAULT_COUNT))
            for m in MODELS}


def sample(seed: int = 7) -> Dataset:
    """Clean NextCRM data, keyed by collection, the same for the same seed."""
    ids = _ids(seed)
    data = {}
    for model in tracked(MODELS, "generate", lambda m: m.source):
        r = random.Random(f"{seed}:{model.name}")
        data[model.source] = [_document(r, model, i, oid, ids) for i, oid in enumerate(ids[model.name])]
    _fill_junctions(random.Random(f"{seed}:junctions"), data, ids)
    _edge_cases(random.Random(f"{seed}:edge"), data)
    return data


# --- records to quarantine -----------------------------------------------------------------

DROP = object()
BREAKS: tuple[tuple[str, str, object, str], ...] = (  # (collection, key, bad value, rule)
    ("Users", "email", DROP, "required"),
    ("crm_Accounts", "name", None, "required"),
    ("openAi_keys", "user", DROP, "required"),
    ("Users", "userStatus", "active", "enum"),
    ("crm_Contracts", "status", "Signed", "enum"),
    ("crm_Contracts", "value", "12000", "type"),
    ("Invoices", "last_updated", "2023-01-05T10:00:00Z", "type"),
    ("modulStatus", "isVisible", "true", "type"),
    ("crm_Accounts", "name", {"en": "Acme", "cs": "Akme"}, "type"),
    ("Tasks", "position", 3.5, "type"),
    ("Employees", "salary", Int64(2**31), "int_range"),
    ("crm_Opportunities", "budget", Int64(5_000_000_000), "int_range"),
    ("crm_Opportunities", "expected_revenue", Int64(-2**31 - 1), "int_range"),
    ("crm_Leads", "description", "Called back\x00 twice", "nul"),
    ("Documents_Types", "_id", "legacy-invoice", "id_type"),
)
BEYOND_DATETIME_BREAKS: tuple[tuple[str, str, object, str], ...] = (  # dates a MongoDB holds, a Python datetime not
    ("Invoices", "date_due", DatetimeMS(568_971_820_800_000), "timestamp_range"),  # 20000-01-01: a typo
    ("crm_Opportunities", "close_date", DatetimeMS(-63_549_360_000_000), "timestamp_range"),  # -0044-03-15
    ("Users", "lastLoginAt", DatetimeMS(-62_135_596_800_001), "timestamp_range"),  # 1 ms before year 1
    ("crm_Contracts", "endDate", DatetimeMS(253_402_300_800_000), "timestamp_range"),  # 1 ms after 9999
)
"""Written only into dumps: the embedded MongoDB-compatible server refuses such dates."""


def _bad_records(data: Dataset, seed: int, beyond_datetime: bool) -> list[tuple[str, dict, str]]:
    """Valid documents, each then broken in exactly one way."""
    r = random.Random(f"{seed}:bad")
    ids = {m.name: [d["_id"] for d in data[m.source]] for m in MODELS}
    known = {oid for pool in ids.values() for oid in pool}
    fresh = iter(oid for oid in _object_ids(r, 50) if oid not in known)

    index = itertools.count(max(len(docs) for docs in data.values()))  # past any enum cycle

    def valid(collection: str) -> dict:
        return _document(r, BY_NAME[collection], next(index), next(fresh), ids)

    records = []
    for collection, key, value, rule in BREAKS + (BEYOND_DATETIME_BREAKS if beyond_datetime else ()):
        doc = valid(collection)
        if value is DROP:
            doc.pop(key, None)
        else:
            doc[key] = copy.deepcopy(value)
        records.append((collection, doc, rule))
    comment = valid("tasksComments") | {"task": next(fresh)}
    board = valid("Boards") | {"user": next(fresh)}
    section = valid("Sections") | {"board": board["_id"]}
    return records + [("tasksComments", comment, "reference"), ("Boards", board, "reference"),
                      ("Sections", section, "quarantined_reference")]


def bad_records(seed: int = 7, beyond_datetime: bool = False) -> list[tuple[str, dict, str]]:
    """(collection, document, rule that must quarantine it), against `sample(seed)`; with
    `beyond_datetime`, also dates outside years 1..9999 (for dumps only)."""
    return _bad_records(sample(seed), seed, beyond_datetime)


def demo_dataset(seed: int = 7, beyond_datetime: bool = False) -> Dataset:
    """`sample(seed)` with `bad_records(seed, beyond_datetime)` slipped in among the good documents."""
    data = sample(seed)
    r = random.Random(f"{seed}:demo")
    for collection, doc, _ in _bad_records(data, seed, beyond_datetime):
        docs = data[collection]
        docs.insert(r.randint(0, len(docs)), doc)
    return data


# --- writers -------------------------------------------------------------------------------

BATCH = 1000


def write_mongo(uri: str, db: str, dataset: Dataset) -> None:
    """Replace each collection of `db` by the dataset's documents, inserted in order."""
    with MongoClient(uri) as client:
        database = client[db]
        for collection, docs in tracked(dataset.items(), "write", lambda item: item[0]):
            database.drop_collection(collection)
            for start in range(0, len(docs), BATCH):
                database[collection].insert_many(docs[start:start + BATCH], ordered=True)


def dump_metadata(collection: str) -> dict:
    """What mongodump writes beside a collection with only the `_id` index."""
    return {"options": {}, "indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"}],
            "collectionName": collection}


def write_dump(directory: str | Path, db: str, dataset: Dataset) -> Path:
    """Write a mongodump layout, `directory/<db>/<collection>.bson` + metadata; return its folder."""
    folder = Path(directory) / db
    folder.mkdir(parents=True, exist_ok=True)
    for collection, docs in dataset.items():
        (folder / f"{collection}.bson").write_bytes(b"".join(bson.encode(d) for d in docs))
        (folder / f"{collection}.metadata.json").write_text(json.dumps(dump_metadata(collection)))
    return folder
