"""A client encoding other than UTF8 set for m2pg's sessions by the database (ALTER DATABASE ...
SET client_encoding), the role, or the operator's PGCLIENTENCODING: the load handed PostgreSQL
UTF-8 text, which such a session took for LATIN1 and stored converted, so "🚀" became "ð\\x9f\\x9a\\x80"
for the app's client; `run` said the target equals the source, and `verify --full`, reading it back
through the same encoding, passed. m2pg's sessions are UTF8 whatever the target or environment set."""

import psycopg
import pytest

from processes import m2pg

TABLES = ("Tasks", "crm_Accounts", "Users")


def rows(uri: str) -> dict[str, list[str]]:
    """Every row of TABLES as JSON text, read in UTF8 whatever the database sets."""
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("SET client_encoding = 'UTF8'")
        return {
            t: [r[0] for r in conn.execute(f'SELECT row_to_json(t)::text FROM "{t}" t ORDER BY id').fetchall()]
            for t in TABLES
        }


@pytest.mark.parametrize("where", ["database", "PGCLIENTENCODING"])
def test_a_client_encoding_set_for_the_sessions_does_not_garble_the_text(
    pg_server, pg_uri, dump, tmp_path, monkeypatch, where
):
    plain = pg_uri
    done = m2pg("run", "--dump", str(dump), "--staging", str(tmp_path / "plain"), "--pg-uri", plain)
    assert done.returncode == 3, done.stderr
    expected = rows(plain)
    assert any(any(ord(c) > 255 for c in row) for row in expected["Tasks"])  # text LATIN1 cannot hold

    name = f"latin1_client_{where.lower()}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
        if where == "database":
            conn.execute(f"ALTER DATABASE {name} SET client_encoding = 'LATIN1'")
    if where == "PGCLIENTENCODING":
        monkeypatch.setenv("PGCLIENTENCODING", "LATIN1")
    odd = pg_server.get_uri(name)
    staging = tmp_path / "odd"
    done = m2pg("run", "--dump", str(dump), "--staging", str(staging), "--pg-uri", odd)
    assert done.returncode == 3, done.stderr
    assert rows(odd) == expected
    for full in ((), ("--full",)):
        checked = m2pg("verify", *full, "--dump", str(dump), "--staging", str(staging), "--pg-uri", odd)
        assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr
