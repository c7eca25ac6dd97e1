"""The limits a value must respect to load and to be read back: one constant each, shared by
the rules, validate, verify and the DDL, so a rule's range and the target's can never differ."""

from __future__ import annotations

INT32 = (-(2**31), 2**31 - 1)
"""PostgreSQL `integer`, both ends included."""

APP_DATETIME_MS = (-62_135_596_800_000, 253_402_300_799_999)
"""0001-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z as epoch milliseconds, both ends included:
the instants a JavaScript Date (and so the app's Prisma client) reads from a `timestamp(3)`;
PostgreSQL stores more, but the client turns the rest into `Invalid Date`."""

TIMESTAMP_PRECISION = 3
"""Digits of fractional seconds of every DateTime column, as Prisma's migration creates them:
milliseconds, all a BSON date holds, so no value is rounded."""

BTREE_BYTES = 2_692
"""The longest text a PostgreSQL btree index entry is sure to hold: an entry holds at most 2,704
bytes (8 KB pages), its 8-byte header and the text's 4-byte length included. PostgreSQL may
compress a longer text until it fits, but text that does not compress (random tokens, hashes)
then fails the index build, and with it the load."""
