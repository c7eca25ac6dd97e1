"""A target made by an older migration whose enum lacks a value the app declares now (one added
later by `ALTER TYPE ... ADD VALUE`): the schema check compared columns, keys and foreign keys but
not enum values, so `run` and `load` dropped every foreign key, loaded the tables before, and
stopped at the first opportunity 'CLOSED' with "m2pg failed unexpectedly ... please report it as
a bug" (exit 1), the target half loaded. Now they stop first, in one line, naming enum and value."""

import psycopg
import pytest

from processes import m2pg
from toolkit.target import schema
from transforms import APP

ENUM, VALUE = "crm_Opportunity_Status", "CLOSED"


def sql(uri: str, statement: str) -> list[tuple]:
    with psycopg.connect(uri, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def state(uri: str) -> tuple:
    catalog = schema.read_catalog(uri)
    counts = {t: sql(uri, f'SELECT count(*) FROM "{t}"')[0][0] for t in catalog["tables"]}
    return catalog, counts, sql(uri, "SELECT to_regnamespace('m2pg') IS NOT NULL")[0][0]


@pytest.fixture(scope="module")
def staged(dump, tmp_path_factory):
    folder = tmp_path_factory.mktemp("staged")
    assert m2pg("extract", "--dump", str(dump), "--staging", str(folder)).returncode == 0
    assert m2pg("transform", "--staging", str(folder)).returncode == 3
    assert m2pg("validate", "--staging", str(folder)).returncode == 3
    return folder


def test_an_enum_without_a_value_the_app_declares_stops_run_and_load_first(staged, dump, pg_uri, tmp_path):
    older = dict(APP.enums, **{ENUM: tuple(v for v in APP.enums[ENUM] if v != VALUE)})
    schema.create_schema(pg_uri, APP.models, APP.junctions, older)
    before = state(pg_uri)
    for done in (
        m2pg("run", "--dump", str(dump), "--staging", str(tmp_path / "st"), "--pg-uri", pg_uri),
        m2pg("load", "--staging", str(staged), "--pg-uri", pg_uri),
    ):
        said = done.stdout + done.stderr
        assert done.returncode == 2, said
        assert "Traceback" not in said and len(done.stderr.strip().splitlines()) == 1, said
        assert f"enum \"{ENUM}\" lacks the app's value '{VALUE}'" in done.stderr, said
        assert state(pg_uri) == before
    assert not (tmp_path / "st").exists()

    sql(pg_uri, f"ALTER TYPE \"{ENUM}\" ADD VALUE '{VALUE}'")  # the later migration
    done = m2pg("load", "--staging", str(staged), "--pg-uri", pg_uri)
    assert done.returncode == 3, done.stdout + done.stderr
    assert sql(pg_uri, f"SELECT count(*) FROM \"crm_Opportunities\" WHERE status = '{VALUE}'")[0][0] > 0
