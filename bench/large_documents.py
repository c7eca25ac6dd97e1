"""Documents of megabytes: the sample profile with accounts whose description alone holds
megabytes, a few near MongoDB's 16 MB limit, after the small ones. Every command's memory
should be set by its part and batch sizes, not by the size of the documents it meets.

The large accounts are copies of the sample's first ones with fresh ObjectIds that sort after
every generated one; their descriptions are seeded words, not one repeated character, so that
no layer compresses them to nothing.
"""

from __future__ import annotations

import random
from pathlib import Path

import bson
from bson import ObjectId

LARGE = ((300, 3), (30, 15))  # (accounts, megabytes of description each)
COLLECTION = "crm_Accounts"
FIRST_NEW_ID = 0x7000_0000  # seconds of the first new ObjectId: 2029, after every generated one
WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt".split()


def plant(dump: Path, seed: int = 3, db: str = "nextcrm") -> dict:
    """Append the large accounts to `dump/<db>/crm_Accounts.bson`; say what was planted."""
    path = dump / db / f"{COLLECTION}.bson"
    with path.open("rb") as fh:
        originals = list(bson.decode_file_iter(fh))
    rng = random.Random(seed)
    planted = 0
    with path.open("ab") as out:
        for count, megabytes in LARGE:
            for _ in range(count):
                account = dict(originals[planted % len(originals)])
                account["_id"] = ObjectId(f"{FIRST_NEW_ID + planted:08x}{planted:016x}")
                account["description"] = _text(rng, megabytes << 20)
                out.write(bson.encode(account))
                planted += 1
    return {
        "documents": len(originals) + planted,
        "large": [{"documents": count, "megabytes": megabytes} for count, megabytes in LARGE],
        "collection_bytes": path.stat().st_size,
    }


def _text(rng: random.Random, size: int) -> str:
    """`size` characters of seeded words: a sentence of 64 kB drawn once, then rearranged."""
    sentence = " ".join(rng.choice(WORDS) for _ in range(12_000))[: 64 << 10]
    pieces = [sentence[rng.randrange(1 << 15) :] for _ in range(size // len(sentence) + 2)]
    return "".join(pieces)[:size]
