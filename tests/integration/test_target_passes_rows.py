"""The rows m2pg writes must reach the app's tables as staged. A trigger of the target's own that
rewrote a column let `run` say "the target equals the source" (and every later run "nothing to
write"); one that refused a table's rows, or row-level security in force for the role (COPY is
refused then: "please report it as a bug"), stopped the load halfway, with rows written and every
foreign key dropped. So did an enum of an older migration lacking a value the app declares, and a
column whose type is a domain with a check. A rule `DO INSTEAD NOTHING` on UPDATE let a catch-up
say it made rows as the source holds them, having written nothing. Each now stops run and load
first, in one line, with nothing written; their dry runs end in the same line (they planned as if
the load would work)."""

import psycopg
import pytest

from processes import m2pg
from toolkit.target import schema
from transforms import APP

ENUM, VALUE = "crm_Opportunity_Status", "CLOSED"
REWRITE = (
    "CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.title := upper(NEW.title); "
    "RETURN NEW; END $$",
    'CREATE TRIGGER shout BEFORE INSERT OR UPDATE ON "Tasks" FOR EACH ROW EXECUTE FUNCTION shout()',
)
REFUSE = (
    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no boards'; END $$",
    'CREATE TRIGGER refuse BEFORE INSERT ON "Boards" FOR EACH ROW EXECUTE FUNCTION refuse()',
)
RULE = ('CREATE RULE keep AS ON UPDATE TO "Tasks" DO INSTEAD NOTHING',)  # a catch-up said it wrote what it did not
DOMAIN = (  # a newer migration's type: its check refused a batch halfway, the foreign keys dropped
    "CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 5)",
    'ALTER TABLE "Tasks" ALTER COLUMN priority TYPE short_text',
)
SECURED = (
    'ALTER TABLE "crm_Accounts" ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE "crm_Accounts" FORCE ROW LEVEL SECURITY',
)


def sql(uri: str, *statements: str) -> list[tuple]:
    with psycopg.connect(uri, autocommit=True) as conn:
        for statement in statements:
            cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def state(uri: str) -> tuple:
    """The live catalog, every public table's row count, and whether m2pg's schema exists."""
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


@pytest.fixture
def owner_uri(pg_server, pg_uri) -> str:
    """The test's database, its app tables created and owned by a role that is not a superuser
    (row-level security never applies to a superuser)."""
    name = pg_uri.split("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'app_owner'").fetchall():
            conn.execute("CREATE ROLE app_owner LOGIN")
        conn.execute(f"ALTER DATABASE {name} OWNER TO app_owner")
    sql(pg_uri, "ALTER SCHEMA public OWNER TO app_owner")
    uri = pg_uri.replace("postgres:@", "app_owner:@", 1)
    schema.create_schema(uri, APP.models, APP.junctions, APP.enums)
    return uri


def refused_untouched(uri: str, staged, dump, tmp_path, *names: str) -> None:
    """`run` and `load` into `uri`, and their dry runs, stop in one line naming each of `names`,
    exit 2, the target as it was."""
    before = state(uri)
    run = ("run", "--dump", str(dump), "--staging", str(tmp_path / "st"), "--pg-uri", uri)
    load = ("load", "--staging", str(staged), "--pg-uri", uri)
    for done in (m2pg(*run), m2pg(*run, "--dry-run"), m2pg(*load), m2pg(*load, "--dry-run")):
        said = done.stdout + done.stderr
        assert done.returncode == 2, said
        assert "Traceback" not in said and len(done.stderr.strip().splitlines()) == 1, said
        assert all(name in done.stderr for name in names), said
        assert state(uri) == before
    assert not (tmp_path / "st").exists()


@pytest.mark.parametrize(
    ("setup", "named"),
    [
        (REWRITE, "the app's tables carry 1 row trigger of the target's own (\"Tasks\".shout)"),
        (REFUSE, "the app's tables carry 1 row trigger of the target's own (\"Boards\".refuse)"),
        (SECURED, 'row-level security is in force for this role on "crm_Accounts"'),
        (RULE, "the app's tables carry 1 rule of the target's own (\"Tasks\".keep)"),
        (DOMAIN, 'column "Tasks"."priority" has type short_text, declared text'),
    ],
    ids=["rewriting trigger", "refusing trigger", "row-level security", "rule", "domain with a check"],
)
def test_a_target_that_would_alter_or_refuse_the_rows_stops_run_and_load(
    staged, dump, owner_uri, tmp_path, setup, named
):
    sql(owner_uri, *setup)
    refused_untouched(owner_uri, staged, dump, tmp_path, named, "nothing was written")


def test_a_disabled_trigger_lets_the_load_through(staged, owner_uri):
    sql(owner_uri, *REWRITE, 'ALTER TABLE "Tasks" DISABLE TRIGGER shout')
    done = m2pg("load", "--staging", str(staged), "--pg-uri", owner_uri)
    assert done.returncode == 3, done.stdout + done.stderr
    assert sql(owner_uri, 'SELECT count(*) FROM "Tasks" WHERE title <> upper(title)')[0][0] > 0


def test_an_enum_without_a_value_the_app_declares_stops_run_and_load_first(staged, dump, pg_uri, tmp_path):
    older = dict(APP.enums, **{ENUM: tuple(v for v in APP.enums[ENUM] if v != VALUE)})
    schema.create_schema(pg_uri, APP.models, APP.junctions, older)
    refused_untouched(pg_uri, staged, dump, tmp_path, f"enum \"{ENUM}\" lacks the app's value '{VALUE}'")

    sql(pg_uri, f"ALTER TYPE \"{ENUM}\" ADD VALUE '{VALUE}'")  # the later migration
    done = m2pg("load", "--staging", str(staged), "--pg-uri", pg_uri)
    assert done.returncode == 3, done.stdout + done.stderr
    assert sql(pg_uri, f"SELECT count(*) FROM \"crm_Opportunities\" WHERE status = '{VALUE}'")[0][0] > 0


REDEFINED = 'CREATE INDEX "Tasks_priority_idx" ON public."Tasks" USING btree (priority, "createdAt" DESC)'


def indexes_of(uri: str, table: str) -> dict[str, str]:
    return dict(sql(uri, f"SELECT indexname, indexdef FROM pg_indexes WHERE tablename = '{table}'"))


@pytest.mark.parametrize("killed", [False, True], ids=["load", "load killed mid-way and run again"])
def test_a_bulk_load_builds_the_targets_own_indexes_again_as_they_were(staged, pg_uri, killed):
    """A later migration of the app's may redefine an index under its name, or not have one yet:
    a bulk load dropped the indexes and built them again as m2pg declares them, and made the
    missing one, so the target no longer held its own schema (and the app's next migration,
    creating that index, would fail on it)."""
    schema.create_schema(pg_uri, APP.models, APP.junctions, APP.enums)
    sql(pg_uri, 'DROP INDEX "Tasks_priority_idx"', REDEFINED, 'DROP INDEX "Tasks_user_idx"')
    before = indexes_of(pg_uri, "Tasks")
    load = ("load", "--staging", str(staged), "--pg-uri", pg_uri)
    if killed:  # in the middle of the rows, the indexes dropped and kept aside
        assert m2pg(*load, kill_at="load-batch:3").returncode == -9
        assert sql(pg_uri, "SELECT count(*) FROM m2pg.set_aside_indexes")[0][0] > 0
    assert m2pg(*load).returncode == 3
    assert indexes_of(pg_uri, "Tasks") == before
    assert sql(pg_uri, "SELECT count(*) FROM m2pg.set_aside_indexes") == [(0,)]
