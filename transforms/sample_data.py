"""NextCRM's tables for the data generators (`toolkit.generate.sample`, `toolkit.generate.large`): how
many documents each model holds, the realistic values of its fields, the values a naive migration
gets wrong and the records that must be quarantined, as one `SAMPLE_DATA`."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
from bson import Decimal128, Int64, ObjectId
from bson.datetime_ms import DatetimeMS

from toolkit.declarations.spec import Field
from toolkit.documents import index as bt
from toolkit.generate.large import FIXED, POOL, SCALED, Bytes, Chunk, array, documents, fixed, labels, pool
from toolkit.generate.sample import DROP, END, START, BadRecord, Break, Dataset, Forge, SampleData, plant

# --- sample: how many documents, which values ----------------------------------------------

COUNTS = {  # documents per model in `sample` (Boards, TodoList: 300); at most 950 so the bad records
    # keep every collection <= 1000
    "Users": 400,
    "crm_Industry_Type": 100,
    "crm_campaigns": 120,
    "crm_Opportunities_Sales_Stages": 100,
    "crm_Opportunities_Type": 100,
    "Documents_Types": 100,
    "invoice_States": 100,
    "Employees": 250,
    "ImageUpload": 150,
    "MyAccount": 100,
    "modulStatus": 100,
    "system_Modules_Enabled": 100,
    "systemServices": 100,
    "gpt_models": 100,
    "crm_Accounts": 600,
    "crm_Leads": 700,
    "crm_Opportunities": 700,
    "crm_Contacts": 900,
    "crm_Contracts": 500,
    "Invoices": 600,
    "Documents": 800,
    "Sections": 900,
    "Tasks": 950,
    "crm_Accounts_Tasks": 600,
    "tasksComments": 950,
    "secondBrain_notions": 150,
    "openAi_keys": 150,
}


FIRST = (
    "Jana",
    "Petr",
    "Lucie",
    "Tomáš",
    "Eva",
    "Jiří",
    "Anna",
    "Martin",
    "Zoë",
    "Łukasz",
    "Olena",
    "Mohammed",
    "Sofia",
    "Noah",
    "Chloé",
    "Björn",
    "Aiko",
    "Dmytro",
    "Grace",
    "Ян",
)
LAST = (
    "Novák",
    "Svoboda",
    "Dvořák",
    "Černá",
    "Smith",
    "Müller",
    "Kowalski",
    "Shevchenko",
    "García",
    "O'Brien",
    "Nguyễn",
    "Ålund",
    "Tanaka",
    "Procházková",
    "Johnson",
    "Weiß",
)
COMPANIES = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark Industries",
    "Wayne Enterprises",
    "Škoda Digital",
    "Nordlicht",
    "Hooli",
    "Vandelay Industries",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Pied Piper",
    "Massive Dynamic",
    "Żabka Logistics",
    "Öko Systems",
)
LEGAL_FORMS = ("s.r.o.", "a.s.", "GmbH", "Ltd", "Inc.", "SE", "LLC", "sp. z o.o.")
DOMAINS = ("example.com", "example.cz", "mail.example.org", "firma.example.de", "corp.example")
PLACES = (
    ("Praha", "Hlavní město Praha", "Czech Republic", "CZ"),
    ("Brno", "Jihomoravský kraj", "Czech Republic", "CZ"),
    ("Berlin", "Berlin", "Germany", "DE"),
    ("München", "Bayern", "Germany", "DE"),
    ("Kyiv", "Kyiv City", "Ukraine", "UA"),
    ("London", "England", "United Kingdom", "GB"),
    ("New York", "NY", "United States", "US"),
    ("Kraków", "Małopolskie", "Poland", "PL"),
)
STREETS = (
    "Národní",
    "Václavské náměstí",
    "Hauptstraße",
    "Main Street",
    "Khreshchatyk",
    "Baker Street",
    "Ulica Floriańska",
    "Lidická",
)
WORDS = (
    "call",
    "client",
    "follow",
    "up",
    "proposal",
    "contract",
    "renewal",
    "meeting",
    "demo",
    "budget",
    "quote",
    "invoice",
    "shipping",
    "support",
    "onboarding",
    "review",
    "pricing",
    "schválení",
    "smlouva",
    "Angebot",
    "Rechnung",
    "зустріч",
    "next",
    "week",
    "urgent",
    "quarterly",
    "integration",
    "feedback",
    "discount",
    "deadline",
    "☕",
    "🚀",
)
TAGS = (
    "vip",
    "priority",
    "q1",
    "q2",
    "q3",
    "q4",
    "renewal",
    "upsell",
    "churn-risk",
    "partner",
    "eu",
    "us",
    "enterprise",
    "smb",
    "🔥",
)
MIME_TYPES = (
    "application/pdf",
    "image/png",
    "image/jpeg",
    "text/plain",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
)


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
    "Users.name": _person,
    "Employees.name": _person,
    "crm_Accounts.name": _company,
    "crm_Opportunities.name": lambda r: f"{r.choice(COMPANIES)} – {r.choice(WORDS)} deal",
    "crm_Industry_Type.name": _one_of(
        "Software", "Manufacturing", "Retail", "Healthcare", "Finance", "Logistics", "Energy", "Education"
    ),
    "Documents_Types.name": _one_of("Invoice", "Receipt", "Contract", "Offer", "Other"),
    "invoice_States.name": _one_of("New", "Sent", "Paid", "Overdue", "Cancelled"),
    "crm_Opportunities_Sales_Stages.name": _one_of(
        "Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost"
    ),
    "crm_Opportunities_Type.name": _one_of("New Business", "Existing Business", "Upsell"),
    "crm_campaigns.name": lambda r: (
        f"{r.choice(('Spring', 'Summer', 'Autumn', 'Winter'))} "
        f"{r.randint(2019, 2025)} {r.choice(('Webinar', 'Mailing', 'Expo'))}"
    ),
    "modulStatus.name": _one_of("crm", "projects", "documents", "invoices", "emails", "reports"),
    "system_Modules_Enabled.name": _one_of(
        "crm", "projects", "documents", "invoice", "secondBrain", "openai", "employee"
    ),
    "systemServices.name": _one_of("rossum", "openai", "resend", "uploadthing", "notion"),
    "Tasks.title": _sentence,
    "crm_Accounts_Tasks.title": _sentence,
    "TodoList.title": _sentence,
    "Boards.title": lambda r: f"{r.choice(COMPANIES)} {r.choice(('roadmap', 'sprint', 'launch'))}",
    "Sections.title": _one_of("Backlog", "To do", "In progress", "Review", "Done"),
    "crm_Contracts.title": lambda r: f"{r.choice(('Service', 'Licence', 'Support'))} agreement",
    "crm_Accounts.status": _one_of("Active", "Inactive"),
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
    "first_name": lambda r: r.choice(FIRST),
    "firstName": lambda r: r.choice(FIRST),
    "last_name": lambda r: r.choice(LAST),
    "lastName": lambda r: r.choice(LAST),
    "username": lambda r: f"{_ascii(r.choice(FIRST))}{r.randint(1, 99)}",
    "refered_by": _person,
    "account_name": _company,
    "company": _company,
    "company_name": _company,
    "partner": _company,
    "member_of": _company,
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
    "currency": _one_of("CZK", "EUR", "USD"),
    "invoice_currency": _one_of("CZK", "EUR", "USD"),
    "currency_symbol": _one_of("Kč", "€", "$"),
    "servicePort": _one_of("443", "8080", "5432"),
    "document_file_mimeType": _one_of(*MIME_TYPES),
    "invoice_file_mimeType": _one_of(*MIME_TYPES),
    "connected_documents": lambda r: r.randbytes(12).hex(),
    "notes": _sentence,
}

TEXT_ENUMS = {  # text fields that hold an enum's values without being declared as the enum
    "crm_Leads.status": "crm_Lead_Status",
    "crm_Leads.type": "crm_Lead_Type",
    "crm_Accounts.type": "crm_Contact_Type",
    "crm_Contacts.type": "crm_Contact_Type",
}

PATTERNS: tuple[tuple[str, Callable[[random.Random], str]], ...] = (  # by substring, in order
    ("email", _email),
    ("social_", lambda r: f"https://social.example/{_ascii(r.choice(LAST))}"),
    ("url", _url),
    ("website", _url),
    ("avatar", _url),
    ("prefix", _one_of("+420", "+49", "+380", "+44", "+1")),
    ("phone", lambda r: _digits(r, 9)),
    ("fax", lambda r: _digits(r, 9)),
    ("mobile", lambda r: _digits(r, 9)),
    ("iban", lambda r: f"CZ{_digits(r, 22)}"),
    ("swift", _one_of("KOMBCZPP", "GIBACZPX")),
    ("bic", _one_of("KOMBCZPP", "GIBACZPX")),
    ("vat", lambda r: f"CZ{_digits(r, 8)}"),
    ("tax", lambda r: f"CZ{_digits(r, 8)}"),
    ("zip", lambda r: _digits(r, 5)),
    ("postal_code", lambda r: _digits(r, 5)),
    ("country_code", _place(3)),
    ("country", _place(2)),
    ("city", _place(0)),
    ("state", _place(1)),
    ("street", lambda r: f"{r.choice(STREETS)} {r.randint(1, 200)}"),
    ("bank_name", _one_of("Komerční banka", "ČSOB", "Deutsche Bank", "Fio banka")),
    ("partner_bank", _one_of("Komerční banka", "ČSOB", "Deutsche Bank", "Fio banka")),
    ("account", lambda r: _digits(r, 10)),
    ("bank_code", lambda r: _digits(r, 4)),
    ("description", _sentence),
    ("content", _sentence),
    ("comment", _sentence),
    ("next_step", _sentence),
    ("key", lambda r: r.randbytes(16).hex()),
    ("password", lambda r: "$2b$10$" + r.randbytes(22).hex()),
    ("symbol", lambda r: _digits(r, 10)),
    ("number", lambda r: _digits(r, 8)),
    ("_id", lambda r: r.randbytes(8).hex()),
    ("id", lambda r: r.randbytes(8).hex()),
)

INT_RANGES = {
    "__v": (0, 3),
    "budget": (1_000, 500_000),
    "expected_revenue": (0, 750_000),
    "favouritePosition": (0, 20),
    "likes": (0, 40),
    "order": (1, 12),
    "position": (0, 50),
    "probability": (0, 100),
    "salary": (25_000, 180_000),
    "size": (1_000, 25_000_000),
    "value": (500, 2_000_000),
}
TRUE_SHARE = {
    "is_admin": 0.05,
    "is_account_admin": 0.1,
    "enabled": 0.8,
    "isVisible": 0.8,
    "visibility": 0.9,
    "status": 0.85,
}
DAYS_AFTER_CREATION = {  # (min, max) days between a document's creation and a date field
    "updatedAt": (0, 400),
    "last_updated": (0, 400),
    "lastEditedAt": (0, 200),
    "last_activity": (0, 300),
    "lastLoginAt": (0, 700),
    "dueDateAt": (1, 90),
    "date_due": (14, 30),
    "close_date": (7, 240),
    "startDate": (0, 30),
    "endDate": (180, 1100),
    "renewalReminderDate": (150, 1000),
    "customerSignedDate": (0, 20),
    "companySignedDate": (0, 20),
    "date_of_case": (-10, 0),
    "date_tax": (-10, 0),
}


def _invoice_items(r: random.Random) -> list[dict]:
    return [
        {
            "description": _sentence(r),
            "quantity": r.randint(1, 20),
            "unit_price": Decimal128(f"{r.randint(100, 999_999) / 100:.2f}"),
            "vat_rate": r.choice((0, 12, 21)),
        }
        for _ in range(r.randint(1, 4))
    ]


# --- edge cases and records to quarantine -------------------------------------------------

LONG_TEXT = ("Ukázkový dlouhý text – 🚀 " * 5000)[:100_000]
TRICKY_JSON = {
    "a.b": "dotted key",
    "$set": {"x": 1},
    "owner": ObjectId("5f1d7c2e9b1e8a3c4d5e6f70"),
    "due": datetime(2024, 2, 29, 12, 30, tzinfo=UTC),
    "big": Int64(2**53 + 1),
    "price": Decimal128("1234567890.123456789"),
    "nested": [{"k.$": None, "ok": True}, []],
}
EDGE_CASES: tuple[tuple[str, str, object], ...] = (  # (collection, key, value) on distinct docs
    ("crm_Accounts", "description", ""),
    ("Sections", "title", ""),
    ("crm_Contacts", "first_name", ""),
    ("Users", "name", "Zoë Ångström 👩‍💻"),
    ("crm_Accounts", "name", "Cafe\u0301 Société 🍰"),
    ("crm_Contacts", "last_name", "כהן"),
    ("crm_Leads", "company", "شركة النور"),
    ("Tasks", "title", "Review \u05e9\u05dc\u05d5\u05dd 👍🏽 done"),
    ("crm_Leads", "lastName", "NULL"),
    ("crm_Contacts", "last_name", "\\N"),
    ("crm_Accounts", "vat", "NULL"),
    ("Tasks", "content", "\\N"),
    ("Documents", "description", LONG_TEXT),
    ("Tasks", "tags", TRICKY_JSON),
    ("crm_Accounts_Tasks", "tags", {"$currency": "EUR", "when.utc": datetime(1999, 12, 31, tzinfo=UTC)}),
    ("Invoices", "invoice_items", [{"sku.code": "A-1", "$price": Decimal128("-0.00")}]),
    ("Users", "id", "legacy-user-42"),
    ("Boards", "v", 3),
    ("crm_Accounts", "legacy_salesforce_id", "0015g00000XyZAB"),
    ("Tasks", "_migrated", True),
    ("Documents", "thumbnail", {"w": 120, "h": 90}),
    ("Boards", "position", 75.0),
    ("Tasks", "position", -0.0),
    ("crm_Contracts", "value", Int64(2**31 - 1)),
    ("crm_Opportunities", "budget", Int64(-(2**31))),
    ("crm_Contracts", "endDate", datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
    ("crm_Opportunities", "close_date", datetime(1, 1, 1, tzinfo=UTC)),
    ("Users", "lastLoginAt", datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
)


def _edge_cases(r: random.Random, data: Dataset) -> None:
    """Plant the values a naive migration gets wrong, each on its own document."""
    plant(r, data, EDGE_CASES)
    watched = next(d for d in data["Boards"] if d.get("watchers"))
    watched["watchers"].append(watched["watchers"][0])  # a pair recorded twice


BREAKS: tuple[Break, ...] = (  # (collection, key, bad value, rule)
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
    ("crm_Opportunities", "expected_revenue", Int64(-(2**31) - 1), "int_range"),
    ("crm_Leads", "description", "Called back\x00 twice", "nul"),
    ("Documents_Types", "_id", "legacy-invoice", "id_type"),
)
BEYOND_DATETIME_BREAKS: tuple[Break, ...] = (  # dates a MongoDB holds, a Python datetime not: the
    # embedded MongoDB-compatible server refuses them, so only dumps get them
    ("Invoices", "date_due", DatetimeMS(568_971_820_800_000), "timestamp_range"),  # 20000-01-01: a typo
    ("crm_Opportunities", "close_date", DatetimeMS(-63_549_360_000_000), "timestamp_range"),  # -0044-03-15
    ("Users", "lastLoginAt", DatetimeMS(-62_135_596_800_001), "timestamp_range"),  # 1 ms before year 1
    ("crm_Contracts", "endDate", DatetimeMS(253_402_300_800_000), "timestamp_range"),  # 1 ms after 9999
)


def _broken_references(forge: Forge) -> list[BadRecord]:
    """A comment on a task and a board of a user that do not exist, and a section of that board."""
    comment = forge.valid("tasksComments") | {"task": forge.fresh()}
    board = forge.valid("Boards") | {"user": forge.fresh()}
    section = forge.valid("Sections") | {"board": board["_id"]}
    return [
        ("tasksComments", comment, "reference"),
        ("Boards", board, "reference"),
        ("Sections", section, "quarantined_reference"),
    ]


# --- large: the same app at benchmark volumes ------------------------------------------------

LARGE_COUNTS: dict[str, tuple[int, bool]] = {  # `large` at scale 1 (about 90k); FIXED ones ignore it
    "Users": (1_000, SCALED),
    "crm_Industry_Type": (40, FIXED),
    "crm_campaigns": (50, SCALED),
    "crm_Opportunities_Sales_Stages": (24, FIXED),
    "crm_Opportunities_Type": (20, FIXED),
    "Documents_Types": (30, FIXED),
    "invoice_States": (20, FIXED),
    "Employees": (100, SCALED),
    "ImageUpload": (100, SCALED),
    "MyAccount": (1, FIXED),
    "modulStatus": (12, FIXED),
    "TodoList": (300, SCALED),
    "system_Modules_Enabled": (10, FIXED),
    "systemServices": (8, FIXED),
    "gpt_models": (6, FIXED),
    "crm_Accounts": (10_000, SCALED),
    "crm_Leads": (5_000, SCALED),
    "crm_Opportunities": (15_000, SCALED),
    "crm_Contacts": (25_000, SCALED),
    "crm_Contracts": (500, SCALED),
    "Boards": (100, SCALED),
    "Invoices": (800, SCALED),
    "Documents": (10_000, SCALED),
    "Sections": (300, SCALED),
    "Tasks": (20_000, SCALED),
    "crm_Accounts_Tasks": (800, SCALED),
    "tasksComments": (1_500, SCALED),
    "secondBrain_notions": (50, SCALED),
    "openAi_keys": (50, SCALED),
}
LINKED = frozenset(
    {  # optional references that every document of a working CRM fills in
        "crm_Contacts.accountsIDs",
        "crm_Leads.accountsIDs",
        "crm_Opportunities.account",
        "crm_Opportunities.sales_stage",
        "crm_Contracts.account",
        "crm_Accounts_Tasks.account",
        "Invoices.assigned_account_id",
        "Tasks.section",
        "Tasks.user",
    }
)


def _invoice_item_columns(chunk: Chunk, f: Field) -> tuple[int, Bytes]:
    """`_invoice_items` as `large` makes them, a column at a time."""
    sentences = chunk.world.texts("json", "description", POOL, _sentence)
    rates = pool([rate.to_bytes(4, "little") for rate in (0, 12, 21)])

    def item() -> Bytes:
        price = np.round(chunk.rng.uniform(1, 10_000, chunk.n), 2)
        return documents(
            [
                ("description", bt.STRING, chunk.picks(sentences), None),
                ("quantity", bt.INT32, fixed(chunk.rng.integers(1, 21, chunk.n).astype("<i4")), None),
                ("unit_price", bt.DOUBLE, fixed(price.astype("<f8")), None),
                ("vat_rate", bt.INT32, chunk.picks(rates), None),
            ],
            chunk.n,
        )

    return bt.ARRAY, array([(bt.DOCUMENT, item()) for _ in range(4)], chunk.lengths(1, 4))


SAMPLE_DATA = SampleData(
    counts=COUNTS,
    default_count=300,
    text=TEXT,
    text_enums=TEXT_ENUMS,
    patterns=PATTERNS,
    words=WORDS,
    tags=TAGS,
    json={"invoice_items": _invoice_items},
    int_ranges=INT_RANGES,
    true_share=TRUE_SHARE,
    days_after_creation=DAYS_AFTER_CREATION,
    edge_cases=_edge_cases,
    breaks=BREAKS,
    beyond_datetime_breaks=BEYOND_DATETIME_BREAKS,
    broken_references=_broken_references,
    large_counts=LARGE_COUNTS,
    linked=LINKED,
    large_json={"crm_Accounts_Tasks.tags": labels, "invoice_items": _invoice_item_columns},
)
