"""`m2pg verify --full` checked against itself: in one copy of a migrated database, every column
of every table (from the declarations) is changed in a row of its own, and per table a row is
deleted, a row added and two rows' values of one column swapped; the one verify run must fail
and name each of them (table, row, column) in reports/verify.json and on screen.

The copy is changed with PostgreSQL's triggers off (session_replication_role = replica), so a
changed or deleted id cascades nowhere and each change stays the only one in its row.
"""

import io
import json
from dataclasses import dataclass

import psycopg
import pytest
from bson import ObjectId
from rich.console import Console

from processes import m2pg
from toolkit.declarations.spec import Field, Kind
from toolkit.documents.ids import object_id_of, uuid_for
from toolkit.pipeline import run_all
from toolkit.sources.readers import DumpSource
from transforms import APP, JUNCTIONS, MODELS

BASE, COPY = "bites_migrated", "bites_corrupted"
TABLES = {m.name: m.table for m in MODELS}


def changed(f: Field, column: str) -> str:
    """SQL for a value of `column` that differs from its value and still fits its type."""
    kind = f.kind
    if kind is Kind.TEXT:
        return (
            f"CASE WHEN {column} IS NULL OR {column} = '' THEN 'changed' WHEN left({column}, 1) = 'X' "
            f"THEN 'Y' || substr({column}, 2) ELSE 'X' || substr({column}, 2) END"
        )
    if kind is Kind.INT:
        return f"CASE WHEN {column} IS NULL THEN 1 WHEN {column} < 2147483647 THEN {column} + 1 ELSE {column} - 1 END"
    if kind is Kind.BOOL:
        return f"COALESCE(NOT {column}, true)"
    if kind is Kind.DATETIME:
        return f"COALESCE({column} + interval '1 millisecond', timestamp '2001-02-03 04:05:06.789')"
    if kind is Kind.JSON:
        return f"jsonb_build_array({column})"
    if kind is Kind.ENUM:
        return f'(SELECT e FROM unnest(enum_range(NULL::"{f.enum}")) e WHERE e IS DISTINCT FROM {column} LIMIT 1)'
    if kind is Kind.TEXT_LIST:
        return f"array_append({column}, 'changed')"
    if kind is Kind.UUID_LIST:
        return f"array_append({column}, md5('changed')::uuid)"
    if f.references:  # another row of the table it points to: the foreign key still holds
        target = TABLES[f.references.model]
        return f'(SELECT p.id FROM "{target}" p WHERE p.id IS DISTINCT FROM {column} ORDER BY p.id DESC LIMIT 1)'
    return f"md5('changed' || coalesce({column}::text, ''))::uuid"


def new_id(n: int) -> str:
    """A UUID no source document has (an ObjectId of 1970), sorting before every real one."""
    return uuid_for(str(ObjectId(f"{n + 1:08x}{'e' * 16}")))


@dataclass(frozen=True)
class Named:
    """A failure verify must report in the records layer: table, row (ObjectId or pair), column."""

    table: str
    object_id: str | None = None
    field: str | None = None
    pair: tuple | None = None
    problem: str = "changed"


def reported(failure: dict, table: str) -> Named:
    """A failure of reports/verify.json in the same terms."""
    problem = "changed" if "field" in failure else failure["problem"]
    pair = tuple(sorted(failure["pair"].items())) if "pair" in failure else None
    return Named(table, failure.get("object_id"), failure.get("field"), pair, problem)


MISSING, EXTRA = "missing in PostgreSQL", "in PostgreSQL but not expected from the source"
PAIR_MISSING, PAIR_EXTRA = "pair missing in PostgreSQL", "pair in PostgreSQL that no loaded source document names"


def corrupt_model(conn, model, fresh) -> dict[str, list[Named]]:
    """Field i in row i, then a deleted row, an added row and a swapped pair: what each must name."""
    table, fields = model.table, model.fields
    ids = [row[0] for row in conn.execute(f'SELECT id::text FROM "{table}" ORDER BY id')]
    assert len(ids) >= len(fields) + 4, table
    named: dict[str, list[Named]] = {}
    for f, uuid in zip(fields, ids, strict=False):
        column = f't."{f.name}"'
        before = conn.execute(f'SELECT t."{f.name}"::text FROM "{table}" t WHERE t.id = %s', [uuid]).fetchone()[0]
        value = f"'{next(fresh)}'::uuid" if f.name == "id" else changed(f, column)
        after = conn.execute(
            f'UPDATE "{table}" t SET "{f.name}" = {value} WHERE t.id = %s RETURNING t."{f.name}"::text', [uuid]
        ).fetchone()[0]
        assert after != before, (table, f.name, before)
        if f.name == "id":  # the row is gone and another one is there
            named[f.name] = [
                Named(table, object_id_of(uuid), problem=MISSING),
                Named(table, object_id_of(after), problem=EXTRA),
            ]
        else:
            named[f.name] = [Named(table, object_id_of(uuid), f.name)]
    deleted, copied, rest = ids[len(fields)], ids[len(fields) + 1], ids[len(fields) + 2 :]
    conn.execute(f'DELETE FROM "{table}" WHERE id = %s', [deleted])
    named["deleted row"] = [Named(table, object_id_of(deleted), problem=MISSING)]
    added = next(fresh)
    copy = ", ".join(
        "%s::uuid" if f.name == "id" else f"""'added ' || "{f.name}" """ if f.unique else f'"{f.name}"' for f in fields
    )
    conn.execute(f'INSERT INTO "{table}" SELECT {copy} FROM "{table}" WHERE id = %s', [added, copied])
    named["added row"] = [Named(table, object_id_of(added), problem=EXTRA)]
    for f in reversed(fields):  # the last column that two untouched rows hold different values in
        if f.name == "id" or f.unique:
            continue
        pair = conn.execute(
            f'SELECT a.id::text, b.id::text FROM "{table}" a JOIN "{table}" b ON a.id < b.id '
            f'AND a."{f.name}"::text IS DISTINCT FROM b."{f.name}"::text '
            f"WHERE a.id >= %s AND b.id >= %s ORDER BY a.id, b.id LIMIT 1",
            [rest[0], rest[0]],
        ).fetchone()
        if pair:
            conn.execute(
                f'UPDATE "{table}" t SET "{f.name}" = s."{f.name}" FROM (VALUES (%s::uuid, %s::uuid), '
                f'(%s::uuid, %s::uuid)) v(x, y) JOIN "{table}" s ON s.id = v.y WHERE t.id = v.x',
                [pair[0], pair[1], pair[1], pair[0]],
            )
            named[f"swapped {f.name}"] = [Named(table, object_id_of(u), f.name) for u in pair]
            break
    owned = f'm2pg."owned_{table}"'  # the load's record of its rows, as if it had written these
    conn.execute(f'DELETE FROM {owned}; INSERT INTO {owned} SELECT id, 0 FROM "{table}"')
    return named


def corrupt_junction(conn, j) -> dict[str, list[Named]]:
    """Each column changed in a pair of its own, a pair deleted, one added, two pairs' left ends swapped."""
    table, left, right = j.table, j.left.column, j.right.column
    tables = {left: TABLES[j.left.model], right: TABLES[j.right.model]}
    pairs = conn.execute(f'SELECT "{left}"::text, "{right}"::text FROM "{table}" ORDER BY 1, 2').fetchall()
    present = set(pairs)

    def named(problem: str, *rows: tuple[str, str]) -> list[Named]:
        return [
            Named(table, pair=tuple(sorted({left: object_id_of(a), right: object_id_of(b)}.items())), problem=problem)
            for a, b in rows
        ]

    def unused(pair: tuple[str, str], side: str) -> tuple[str, str]:
        """`pair` with the `side` end replaced by another row of its table, making a new pair."""
        for (uuid,) in conn.execute(f'SELECT id::text FROM "{tables[side]}" ORDER BY id DESC'):
            new = (uuid, pair[1]) if side == left else (pair[0], uuid)
            if new not in present:
                present.add(new)
                return new
        raise AssertionError(f"{table}: no free pair")

    done = {}
    for row, side in ((pairs[0], left), (pairs[1], right)):
        new = unused(row, side)
        conn.execute(
            f'UPDATE "{table}" SET "{side}" = %s WHERE "{left}" = %s AND "{right}" = %s',
            [new[0] if side == left else new[1], *row],
        )
        done[side] = named(PAIR_MISSING, row) + named(PAIR_EXTRA, new)
    conn.execute(f'DELETE FROM "{table}" WHERE "{left}" = %s AND "{right}" = %s', pairs[2])
    done["deleted pair"] = named(PAIR_MISSING, pairs[2])
    added = unused(pairs[3], left)
    conn.execute(f'INSERT INTO "{table}" ("{left}", "{right}") VALUES (%s, %s)', added)
    done["added pair"] = named(PAIR_EXTRA, added)
    (a, x) = pairs[4]
    (b, y) = next(
        p for p in pairs[5:] if p[0] != a and p[1] != x and (a, p[1]) not in present and (p[0], x) not in present
    )
    conn.execute(
        f'UPDATE "{table}" t SET "{left}" = v.n FROM (VALUES (%s::uuid, %s::uuid, %s::uuid), '
        f'(%s::uuid, %s::uuid, %s::uuid)) v(o, r, n) WHERE t."{left}" = v.o AND t."{right}" = v.r',
        [a, x, b, b, y, a],
    )
    done["swapped pair"] = named(PAIR_MISSING, (a, x), (b, y)) + named(PAIR_EXTRA, (b, x), (a, y))
    owned = f'm2pg."owned_{table}"'  # the load's record of its pairs, as if it had written these
    conn.execute(f'DELETE FROM {owned}; INSERT INTO {owned} SELECT "{left}", "{right}", 0 FROM "{table}"')
    return done


@pytest.fixture(scope="module")
def migrated(pg_server, dump, tmp_path_factory):
    """The demo dump migrated once by the real pipeline."""
    staging = tmp_path_factory.mktemp("bites")
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {BASE}")
    code = run_all(APP, DumpSource(dump), pg_server.get_uri(BASE), staging, 20_000, False, Console(file=io.StringIO()))
    assert code == 3  # the demo's bad records are quarantined
    return staging


@pytest.fixture(scope="module")
def corrupted(pg_server, migrated) -> dict[tuple[str, str], list[Named]]:
    """(table, what was changed) -> the failures verify must report, all made in one copy."""
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {COPY} TEMPLATE {BASE}")
    fresh = (new_id(n) for n in range(10_000))
    with psycopg.connect(pg_server.get_uri(COPY)) as conn:
        conn.execute("SET session_replication_role = replica")
        changes = {(m.table, what): names for m in MODELS for what, names in corrupt_model(conn, m, fresh).items()}
        changes |= {(j.table, what): names for j in JUNCTIONS for what, names in corrupt_junction(conn, j).items()}
    return changes


@pytest.fixture(scope="module")
def verified(pg_server, dump, migrated, corrupted) -> tuple[set[Named], str]:
    """What one `m2pg verify --full` of the corrupted copy names, and what it prints."""
    done = m2pg(
        "verify", "--full", "--dump", str(dump), "--staging", str(migrated), "--pg-uri", pg_server.get_uri(COPY)
    )
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((migrated / "reports" / "verify.json").read_text())
    assert report["status"] == "fail"
    records = report["layers"]["records"]["tables"]
    return {reported(f, t) for t, result in records.items() for f in result["failures"]}, done.stdout


CASES = [(m.table, f.name) for m in MODELS for f in m.fields] + [
    (j.table, side) for j in JUNCTIONS for side in (j.left.column, j.right.column)
]


@pytest.mark.parametrize(("table", "column"), CASES, ids=[f"{t}.{c}" for t, c in CASES])
def test_full_verify_names_each_changed_value(table, column, corrupted, verified):
    named, text = verified
    for failure in corrupted[table, column]:
        assert failure in named, failure
        if failure.field:
            assert f"records {table} ObjectId {failure.object_id}, field {failure.field}:" in text


@pytest.mark.parametrize("table", [m.table for m in MODELS] + [j.table for j in JUNCTIONS])
def test_full_verify_names_deleted_added_and_swapped_rows(table, corrupted, verified):
    named, _ = verified
    cases = {
        what: names
        for (t, what), names in corrupted.items()
        if t == table and what.startswith(("deleted", "added", "swapped"))
    }
    kinds = {what.split()[0] for what in cases}
    assert kinds == (
        {"deleted", "added"} if table == "ImageUpload" else {"deleted", "added", "swapped"}
    )  # ImageUpload: only an id
    for what, failures in cases.items():
        for failure in failures:
            assert failure in named, (what, failure)


def test_full_verify_names_nothing_that_was_not_changed(corrupted, verified):
    named, _ = verified
    assert named == {failure for failures in corrupted.values() for failure in failures}
