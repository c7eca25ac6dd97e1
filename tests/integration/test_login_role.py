"""The target's login role may be named like m2pg's own schema: PostgreSQL's default search path
puts a schema named after the role first, and the app's tables must still be the ones written."""

import psycopg
from bson import ObjectId

from processes import m2pg
from toolkit.generate import sample as generate


def test_a_login_role_named_m2pg_loads_into_the_apps_tables(tmp_path, pg_server):
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE ROLE m2pg LOGIN")
        conn.execute("CREATE DATABASE role_m2pg OWNER m2pg")
    uri = pg_server.get_uri("role_m2pg").replace("postgres:@", "m2pg:@")
    users = [{"_id": ObjectId(), "email": f"u{n}@example.com", "name": f"User {n}"} for n in range(3)]
    generate.write_dump(tmp_path / "dump", "nextcrm", {"Users": users})
    done = m2pg("run", "--dump", str(tmp_path / "dump"), "--pg-uri", uri, "--staging", str(tmp_path / "st"))
    assert done.returncode == 0, done.stdout + done.stderr
    with psycopg.connect(uri) as conn:
        assert conn.execute('SELECT count(*) FROM public."Users"').fetchone() == (3,)
        assert conn.execute("SELECT count(*) FROM m2pg.ledger").fetchone()[0] >= 1
