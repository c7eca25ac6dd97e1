"""Catch-ups of random sources converge. Documents are drawn from the app's declarations alone,
mostly valid, some with a value a rule refuses (a wrong BSON type, a label no enum has, an
integer or date out of range, a NUL, a missing required field, an id no document has, a unique
value another document holds); then rounds of random edits change, delete and add documents,
so that records get spoiled, fixed, orphaned and adopted in every combination chance makes.
After each round a catch-up leaves the target and the quarantine as a fresh migration of that
source into an empty database leaves them, table by table and row by row."""

import json
import random
from datetime import datetime
from pathlib import Path

import bson
import polars as pl
import psycopg
from bson import DatetimeMS, Int64, ObjectId

from processes import m2pg
from toolkit.declarations.spec import Field, Kind, ModelSpec
from transforms import APP

SEED = 20_261_204
DOCUMENTS = 12  # of each collection in the first source
ADDED = 4  # ids each collection gains in a round
ROUNDS = 2
REFUSED, MISSING = 0.04, 0.04  # shares of the fields given a refused value, and left out
CHANGED, DELETED = 0.3, 0.1  # shares of a round's documents drawn afresh, and deleted
EDITED = 0.5  # share of the collections a round edits
PART_SIZE = "5"  # documents a part: an edited collection has parts no edit touches
IDS = DOCUMENTS + ADDED * ROUNDS  # ids of a collection ever used: references may name one not yet there
DB = "nextcrm"


def object_id(model: int, n: int) -> ObjectId:
    return ObjectId(f"{0x6B000000 + model:08x}{SEED:08x}{n:08x}")


IDS_OF = {m.name: [object_id(i, n) for n in range(IDS)] for i, m in enumerate(APP.models)}
FEEDS = {(fd.model, fd.key): j.side_of(fd.model)[1].model for j in APP.junctions for fd in j.feeds}
"""(model, key of an array that fills a junction table) -> the model the array names."""


def valid(f: Field, pick: random.Random) -> object:
    """A value the rules take, but for references, which may name a document that is not there."""
    target = f.references.model if f.references else f.points_to
    if f.kind is Kind.OBJECT_ID:
        return pick.choice(IDS_OF[target]) if target else ObjectId(f"{pick.getrandbits(96):024x}")
    if f.kind is Kind.UUID_LIST:
        return [pick.choice(IDS_OF[target]) for _ in range(pick.randint(0, 3))] if target else []
    if f.kind is Kind.ENUM:
        return pick.choice(APP.enums[f.enum_name])
    if f.kind is Kind.TEXT:  # a unique field's values repeat now and then
        return (
            f"{f.name} {pick.randrange(2 * DOCUMENTS)}" if f.unique else pick.choice(["plain", "ünï 𝄞", "", "x" * 300])
        )
    return pick.choice(
        {
            Kind.INT: [0, -3, 2**31 - 1, Int64(-(2**31)), 2.0],
            Kind.BOOL: [True, False],
            Kind.DATETIME: [datetime(2024, 5, 6, 7, 8, 9, 123000), datetime(1, 1, 1), datetime(9999, 12, 31)],
            Kind.JSON: [{"a": [1, "two"]}, "text", 3, [], {"at": datetime(2020, 1, 1)}],
            Kind.TEXT_LIST: [[], ["a", "b"], ["é"]],
        }[f.kind]
    )


def refused(f: Field, pick: random.Random) -> object:
    """A value some rule refuses in a field of this kind (a Json field takes any value)."""
    return pick.choice(
        {
            Kind.OBJECT_ID: ["not an ObjectId", 7],
            Kind.UUID_LIST: ["not a list", [7]],
            Kind.ENUM: ["NO_SUCH_LABEL", 7],
            Kind.TEXT: [7, "NUL \x00 inside"],
            Kind.INT: [Int64(2**40), 3.5, "seven"],
            Kind.BOOL: ["yes", 1],
            Kind.DATETIME: [DatetimeMS(253_402_300_800_000), "2024-01-01"],
            Kind.JSON: [{"any": "value"}],
            Kind.TEXT_LIST: ["not a list", [7]],
        }[f.kind]
    )


def document(number: int, model: ModelSpec, n: int, version: int) -> dict:
    """Document `n` of a model as drawn in round `version`; its _id never changes."""
    pick = random.Random(f"{SEED}/{model.name}/{n}/{version}")
    doc: dict = {"_id": object_id(number, n) if n % 17 else f"legacy-{n}"}  # a few ids a rule refuses
    fields = [f for f in model.fields if f.key != "_id"] + [
        Field(key, Kind.UUID_LIST, points_to=names) for (owner, key), names in FEEDS.items() if owner == model.name
    ]
    for f in fields:
        draw = pick.random()
        if draw >= MISSING:
            doc[f.key] = refused(f, pick) if draw < MISSING + REFUSED else valid(f, pick)
    return doc


def edited(model: ModelSpec, round_: int) -> bool:
    """Whether the round edits the collection at all: one it leaves alone keeps its bytes, so its
    parts are redone only where a collection it references changed."""
    return random.Random(f"{SEED}/{model.name}/edited in {round_}").random() < EDITED


def source(round_: int) -> dict[str, bytes]:
    """Each collection's .bson file as the source holds it after `round_` rounds of edits."""
    files = {}
    for number, model in enumerate(APP.models):
        documents = []
        for n in range(DOCUMENTS + ADDED * round_):
            born = 0 if n < DOCUMENTS else 1 + (n - DOCUMENTS) // ADDED
            if born and not edited(model, born):
                continue
            version, alive = born, True
            for later in range(born + 1, round_ + 1):
                if not edited(model, later):
                    continue
                fate = random.Random(f"{SEED}/{model.name}/{n}/fate {later}").random()
                alive = alive and fate >= DELETED
                version = later if alive and fate < DELETED + CHANGED else version
            if alive:
                documents.append(bson.encode(document(number, model, n, version)))
        files[model.source] = b"".join(documents)
    return files


def write_dump(folder: Path, files: dict[str, bytes]) -> Path:
    (folder / DB).mkdir(parents=True)
    for collection, data in files.items():
        (folder / DB / f"{collection}.bson").write_bytes(data)
    return folder


def new_database(pg_server, name: str) -> str:
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg_server.get_uri(name)


def tables(uri: str) -> dict[str, tuple[int, str]]:
    """Each of the app's tables: its row count and a digest of its rows in order."""
    with psycopg.connect(uri) as conn:
        names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        digest = "count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
        return {name: conn.execute(f'SELECT {digest} FROM "{name}" t').fetchone() for name in sorted(names)}


def quarantine(staging: Path) -> list[tuple]:
    parts = sorted((staging / "quarantine").glob("*/part-*.parquet"))
    columns = ["collection", "object_id", "source_id", "field", "rule"]
    return pl.concat([pl.read_parquet(p, columns=columns) for p in parts]).sort(columns).rows() if parts else []


def transform_counts(staging: Path) -> dict:
    """The transform report as a fresh run makes it: what each collection kept, refused, nulled
    and counted, without the timings and the parts skipped or redone."""
    report = json.loads((staging / "reports" / "transform.json").read_text())
    for entry in [report, *report["collections"]]:
        for key in ("seconds", "parts_skipped", "parts_done"):
            entry.pop(key, None)
    return report


def run(dump: Path, uri: str, staging: Path) -> dict:
    """`m2pg run`, which ends as a run with quarantined records ends; its load report."""
    done = m2pg("run", "--dump", str(dump), "--pg-uri", uri, "--staging", str(staging), "--part-size", PART_SIZE)
    assert done.returncode == 3 and "Traceback" not in done.stderr, done.stdout[-3000:] + done.stderr
    assert "the target equals the source" in done.stdout, done.stdout[-3000:]
    return json.loads((staging / "reports" / "load.json").read_text())


def test_catch_ups_after_random_edits_equal_fresh_migrations(pg_server, tmp_path):
    target, staging = new_database(pg_server, "random_target"), tmp_path / "staging"
    run(write_dump(tmp_path / "round-0", source(0)), target, staging)
    for round_ in range(1, ROUNDS + 1):
        dump = write_dump(tmp_path / f"round-{round_}", source(round_))
        caught_up = run(dump, target, staging)
        fresh_staging = tmp_path / f"fresh-{round_}"
        run(dump, new_database(pg_server, f"random_fresh_{round_}"), fresh_staging)
        assert tables(target) == tables(pg_server.get_uri(f"random_fresh_{round_}")), f"round {round_}"
        assert quarantine(staging) == quarantine(fresh_staging), f"round {round_}"
        assert transform_counts(staging) == transform_counts(fresh_staging), f"round {round_}"
        wrote = {k: caught_up[k] for k in ("inserted", "updated", "deleted", "deleted_refused", "unchanged")}
        assert all(wrote.values()), f"round {round_} reaches every kind of write: {wrote}"
        parts = json.loads((staging / "reports" / "transform.json").read_text())
        assert parts["parts_skipped"] and parts["parts_done"], f"round {round_} skips some parts, redoes others"
