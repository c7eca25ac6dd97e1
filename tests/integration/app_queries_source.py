"""What the source documents say NextCRM's own queries must return (tests/app/queries.mjs), read
from a mongodump and the quarantine alone, never from the target or the transform; and edits that
put the junction tables' hard cases into a generated dump.

A relation stored as an array on either side (or both) is one pair; a pair whose other end is
missing, quarantined or not an ObjectId is not in the target; a missing or null optional field
with a default stays NULL, so SQL's `<>` skips it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import bson
import polars as pl
from bson import ObjectId
from bson.codec_options import CodecOptions, DatetimeConversion

from toolkit.documents.ids import uuid_for

OPTIONS = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_MS)
PARENTS = {
    "account": "crm_Accounts",
    "task": "Tasks",
    "opportunity": "crm_Opportunities",
    "contact": "crm_Contacts",
    "lead": "crm_Leads",
    "user": "Users",
    "board": "Boards",
    "section": "Sections",
}
ONE_TO_MANY = {  # relation: (parent collection, child collection, the child's reference field)
    "account.contacts": ("crm_Accounts", "crm_Contacts", "accountsIDs"),
    "account.opportunities": ("crm_Accounts", "crm_Opportunities", "account"),
    "board.sections": ("Boards", "Sections", "board"),
    "section.tasks": ("Sections", "Tasks", "section"),
    "user.tasks": ("Users", "Tasks", "user"),
}
MANY_TO_MANY = {  # relation: (collection, its array, other collection, the other's array)
    "account.documents": ("crm_Accounts", "documentsIDs", "Documents", "accountsIDs"),
    "account.watchers": ("crm_Accounts", "watchers", "Users", "watching_accountsIDs"),
    "task.documents": ("Tasks", "documentIDs", "Documents", "tasksIDs"),
    "opportunity.contacts": ("crm_Opportunities", "connected_contacts", "crm_Contacts", "opportunitiesIDs"),
    "opportunity.documents": ("crm_Opportunities", "connected_documents", "Documents", "opportunityIDs"),
    "contact.documents": ("crm_Contacts", "documentsIDs", "Documents", "contactsIDs"),
    "lead.documents": ("crm_Leads", "documentsIDs", "Documents", "leadsIDs"),
    "user.watching_boards": ("Users", "watching_boardsIDs", "Boards", "watchers"),
}


def read(folder: Path, collection: str) -> list[dict]:
    with open(folder / f"{collection}.bson", "rb") as f:
        return list(bson.decode_file_iter(f, OPTIONS))


def write(folder: Path, collection: str, documents: list[dict]) -> None:
    (folder / f"{collection}.bson").write_bytes(b"".join(bson.encode(d, codec_options=OPTIONS) for d in documents))


def loaded_documents(folder: Path, staging: Path) -> dict[str, dict[str, dict]]:
    """Each collection's documents that are not quarantined, by ObjectId text (the first of a repeat)."""
    parts = staging.glob("quarantine/*/*.parquet")
    quarantine = [pl.read_parquet(p, columns=["collection", "object_id"]) for p in parts]
    refused = set(pl.concat(quarantine).iter_rows()) if quarantine else set()
    documents: dict[str, dict[str, dict]] = {}
    for path in folder.glob("*.bson"):
        kept = documents.setdefault(path.stem, {})
        for d in read(folder, path.stem):
            key = str(d.get("_id"))
            if isinstance(d.get("_id"), ObjectId) and (path.stem, key) not in refused:
                kept.setdefault(key, d)
    return documents


def expected(folder: Path, staging: Path) -> dict:
    """Relations by parent UUID, parents, loaded counts and filter counts, as the source says."""
    docs = loaded_documents(folder, staging)

    def alive(collection: str, ref: object) -> bool:
        return isinstance(ref, ObjectId) and str(ref) in docs[collection]

    relations: dict[str, dict[str, set[str]]] = {}
    for name, (parent, child, field) in ONE_TO_MANY.items():
        pairs = relations[name] = defaultdict(set)
        for key, d in docs[child].items():
            if alive(parent, d.get(field)):
                pairs[uuid_for(str(d[field]))].add(uuid_for(key))
    for name, (left, left_field, right, right_field) in MANY_TO_MANY.items():
        pairs = relations[name] = defaultdict(set)
        for key, d in docs[left].items():
            for ref in d.get(left_field) or []:
                if alive(right, ref):
                    pairs[uuid_for(key)].add(uuid_for(str(ref)))
        for key, d in docs[right].items():
            for ref in d.get(right_field) or []:
                if alive(left, ref):
                    pairs[uuid_for(str(ref))].add(uuid_for(key))
    shared = relations["user.shared_boards"] = defaultdict(set)  # a uuid[] kept whole, dangling ids too
    for key, board in docs["Boards"].items():
        for ref in board.get("sharedWith") or []:
            shared[uuid_for(str(ref))].add(uuid_for(key))
    statuses = [d.get("status") for d in docs["crm_Accounts"].values()]
    return {
        "relations": {name: {p: sorted(c) for p, c in pairs.items()} for name, pairs in relations.items()},
        "parents": {name: sorted(uuid_for(k) for k in docs[c]) for name, c in PARENTS.items()},
        "counts": {c: len(d) for c, d in docs.items()},
        "filters": {
            "users.ACTIVE": sum((d.get("userStatus") or "PENDING") == "ACTIVE" for d in docs["Users"].values()),
            "tasks.notComplete": sum(d.get("taskStatus") not in (None, "COMPLETE") for d in docs["Tasks"].values()),
            "opportunities.ACTIVE": sum(d.get("status") == "ACTIVE" for d in docs["crm_Opportunities"].values()),
            "accounts.status": {"null" if s is None else s: statuses.count(s) for s in set(statuses)},
        },
    }


def write_expected(folder: Path, staging: Path, out: Path) -> Path:
    out.write_text(json.dumps(expected(folder, staging)))
    return out


def plant_junction_cases(folder: Path) -> None:
    """The first documents of a generated dump (the first by id, so the queries check them) get
    arrays naming quarantined, missing and repeated documents, pairs stored on both sides, and
    a reference to a quarantined account."""
    acc, docs, tasks, contacts, opps, users, boards = (
        read(folder, c)
        for c in ["crm_Accounts", "Documents", "Tasks", "crm_Contacts", "crm_Opportunities", "Users", "Boards"]
    )
    docs[0]["document_system_type"] = "NOT_A_TYPE"  # quarantined: enum
    contacts[0]["last_name"] = 12345  # quarantined: type
    acc[2]["__v"] = "not an int"  # quarantined: type
    acc[1]["documentsIDs"] = [docs[0]["_id"], docs[1]["_id"], docs[1]["_id"], ObjectId(), None]
    docs[1]["accountsIDs"] = [acc[1]["_id"], acc[1]["_id"], acc[3]["_id"], acc[2]["_id"]]
    tasks[0]["documentIDs"] = [docs[0]["_id"], docs[2]["_id"], ObjectId()]
    docs[2]["tasksIDs"] = [tasks[0]["_id"], tasks[1]["_id"]]
    opps[0]["connected_contacts"] = [contacts[0]["_id"], contacts[1]["_id"], contacts[1]["_id"], ObjectId()]
    contacts[1]["opportunitiesIDs"] = [opps[0]["_id"], opps[1]["_id"]]
    contacts[2]["accountsIDs"] = acc[2]["_id"]  # optional reference to a quarantined account: NULL
    users[0]["watching_boardsIDs"] = [boards[0]["_id"], boards[0]["_id"], ObjectId()]
    boards[1]["watchers"] = [users[0]["_id"], users[0]["_id"]]
    boards[2]["sharedWith"] = [users[0]["_id"], ObjectId(), users[0]["_id"]]
    for collection, documents in [
        ("crm_Accounts", acc),
        ("Documents", docs),
        ("Tasks", tasks),
        ("crm_Contacts", contacts),
        ("crm_Opportunities", opps),
        ("Users", users),
        ("Boards", boards),
    ]:
        write(folder, collection, documents)
