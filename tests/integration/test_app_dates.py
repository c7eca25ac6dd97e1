"""The app's date range: both ends load to the millisecond, one millisecond beyond is quarantined
with a reason naming the date, and verify flags such a date however it reached the target."""

import json

import polars as pl
import psycopg
import pytest
from bson import ObjectId
from bson.datetime_ms import DatetimeMS

from processes import m2pg
from toolkit.documents.ids import uuid_for
from toolkit.generate import sample as generate

FIRST, LAST = -62_135_596_800_000, 253_402_300_799_999  # 0001-01-01T00:00:00.000Z, 9999-12-31T23:59:59.999Z
CASES = [  # (lastLoginAt in epoch ms, ISO text in the reason, or None where the user loads)
    (FIRST, None),
    (LAST, None),
    (FIRST + 1, None),
    (LAST - 1, None),
    (FIRST - 1, "0000-12-31T23:59:59.999Z"),
    (LAST + 1, "10000-01-01T00:00:00.000Z"),
    (568_971_820_800_000, "20000-01-01T00:00:00.000Z"),
    (-63_549_360_000_000, "-0044-03-15T00:00:00.000Z"),
    (-(2**63) + 1, "-292275055-05-16T16:47:04.193Z"),
]


def user(n: int, last_login: int) -> dict:
    return {
        "_id": ObjectId(f"{0x5F000000 + n:08x}{n:016x}"),
        "email": f"u{n}@example.com",
        "name": f"User {n}",
        "lastLoginAt": DatetimeMS(last_login),
    }


@pytest.fixture(scope="module")
def migrated(tmp_path_factory, pg_server):
    root = tmp_path_factory.mktemp("dates")
    users = [user(n, ms) for n, (ms, _) in enumerate(CASES)]
    generate.write_dump(root / "dump", "nextcrm", {"Users": users})
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE app_dates")
    uri = pg_server.get_uri("app_dates")
    done = m2pg("run", "--dump", str(root / "dump"), "--pg-uri", uri, "--staging", str(root / "st"))
    assert done.returncode == 3, done.stdout + done.stderr
    return root, uri, users


def test_both_ends_load_to_the_millisecond(migrated):
    _, uri, users = migrated
    with psycopg.connect(uri) as conn:
        loaded = dict(
            conn.execute('SELECT id::text, (extract(epoch from "lastLoginAt") * 1000)::bigint FROM "Users"').fetchall()
        )
    expected = {uuid_for(str(u["_id"])): ms for u, (ms, reason) in zip(users, CASES, strict=False) if reason is None}
    assert loaded == expected


def test_dates_the_app_cannot_read_are_quarantined_with_the_date_and_why(migrated):
    root, _, users = migrated
    found = pl.read_parquet(sorted((root / "st" / "quarantine").glob("*/part-*.parquet")))
    reasons = dict(found.select("object_id", "reason").rows())
    assert set(found["rule"]) == {"timestamp_range"} and set(found["field"]) == {"lastLoginAt"}
    for u, (_, iso) in zip(users, CASES, strict=False):
        if iso is not None:
            assert reasons.pop(str(u["_id"])) == (
                f"lastLoginAt: {iso} is outside 0001-01-01 .. 9999-12-31, the dates the app's Prisma client "
                "reads (it would return Invalid Date)"
            )
    assert reasons == {}
    errors = m2pg("errors", "--staging", str(root / "st"))
    assert "timestamp_range" in errors.stdout and "9999-12-31T23:59:59.999Z" in errors.stdout


def test_verify_flags_a_date_the_app_cannot_read_whoever_wrote_it(migrated, pg_server):
    root, uri, _ = migrated
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE app_dates_broken TEMPLATE app_dates")
    broken = pg_server.get_uri("app_dates_broken")
    with psycopg.connect(broken) as conn:
        conn.execute("""UPDATE "Users" SET "lastLoginAt" = '20000-01-01 00:00:00'
                        WHERE "lastLoginAt" = '9999-12-31 23:59:59.999'""")
    done = m2pg("verify", "--dump", str(root / "dump"), "--pg-uri", broken, "--staging", str(root / "st"))
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((root / "st" / "reports" / "verify.json").read_text())
    types = report["layers"]["types"]["tables"]["Users"]["failures"]
    assert any(
        f.get("field") == "lastLoginAt"
        and "outside the app's range" in f["problem"]
        and "20000-01-01T00:00:00.000Z" in f["problem"]
        for f in types
    ), types
