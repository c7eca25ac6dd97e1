"""The limits a value must respect to load and to be read back: one constant each, shared by
the rules, validate, verify and the DDL, so a rule's range and the target's can never differ."""

from __future__ import annotations

from collections.abc import Sequence

INT32 = (-(2**31), 2**31 - 1)
"""PostgreSQL `integer`, both ends included."""

APP_DATETIME_MS = (-62_135_596_800_000, 253_402_300_799_999)
"""0001-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z as epoch milliseconds, both ends included:
the instants a JavaScript Date (and so the app's Prisma client) reads from a `timestamp(3)`;
PostgreSQL stores more, but the client turns the rest into `Invalid Date`."""

TIMESTAMP_PRECISION = 3
"""Digits of fractional seconds of every DateTime column, as Prisma's migration creates them:
milliseconds, all a BSON date holds, so no value is rounded."""

IDENTIFIER_BYTES = 63
"""The longest name PostgreSQL keeps (NAMEDATALEN - 1); it cuts a longer one, suffix and all."""


def kept_name(name: str, room: int = IDENTIFIER_BYTES) -> str:
    """What PostgreSQL keeps of a name: its first `room` bytes, not cutting a character."""
    return name.encode()[:room].decode(errors="ignore")


def derived_name(base: str, suffix: str) -> str:
    """A key's or index's name as Prisma's migration derives it: `base` cut so that it fits with
    `_suffix` in `IDENTIFIER_BYTES`, so a long table's index keeps its `_idx` and its `_key`."""
    return kept_name(base, IDENTIFIER_BYTES - len(suffix) - 1) + "_" + suffix


def index_name(table: str, columns: Sequence[str], unique: bool = False) -> str:
    """An index's name as Prisma's migration derives it (`<table>_<columns>_idx`, `_key` if unique)."""
    return derived_name("_".join((table, *columns)), "key" if unique else "idx")


BTREE_ENTRY = 2_704
"""The most bytes a PostgreSQL btree index entry holds (8 KB pages), its header included.
PostgreSQL may compress a longer text until it fits, but text that does not compress (random
tokens, hashes) then fails the index build, and with it the load."""

BTREE_BYTES = 2_692
"""The longest text an index of that column alone is sure to hold: the entry's 8-byte header and
the text's 4-byte length take the rest of `BTREE_ENTRY`."""


def longest_indexed_text(others: list[tuple[int, int] | None], at: int) -> int:
    """The longest text (bytes) an index entry holds at position `at` of its columns, the others
    fixed-width values (bytes, alignment) as wide as they get, each present or NULL (a NULL takes
    no room, but any NULL adds a 4-byte bitmap to the header); None in `others` at `at` and for
    a column of unbounded width, which is left out. PostgreSQL's layout: values in column order,
    each at its alignment, a text with a 1-byte length when under 127 bytes, else 4 bytes
    aligned to 4; the whole rounded up to 8."""

    def up(n: int, to: int) -> int:
        return -(-n // to) * to

    present = [i for i, width in enumerate(others) if width is not None and i != at]

    def entry(text: int) -> int:
        worst = 0
        for mask in range(1 << len(present)):  # each subset of the other values NULL
            offset = 16 if mask else 8
            for i in range(len(others)):
                if i == at:
                    offset = offset + text + 1 if text < 127 else up(offset, 4) + text + 4
                elif i in present and not mask >> present.index(i) & 1:
                    width, align = others[i]  # type: ignore[misc]
                    offset = up(offset, align) + width
            worst = max(worst, up(offset, 8))
        return worst

    return next(n for n in range(BTREE_BYTES, -1, -1) if entry(n) <= BTREE_ENTRY)
