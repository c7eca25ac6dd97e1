"""One way to open PostgreSQL over ADBC: a URI that cannot be read, an unreachable server, a
wrong database or a refused login is one clear line naming the (redacted) URI, never a driver
traceback or a password."""

from __future__ import annotations

from urllib.parse import quote, unquote

import adbc_driver_postgresql.dbapi as pgdbapi

from toolkit.runtime import preflight
from toolkit.runtime.errors import ConfigError, short_cause
from toolkit.runtime.redact import redact, remember

SESSION = {
    "search_path": "public",
    "client_encoding": "UTF8",
    "statement_timeout": "0",
    "idle_in_transaction_session_timeout": "0",
}
"""What every session m2pg opens sets first. The app's tables live in `public`: a database's own
search_path may leave it out, and a login role named like m2pg's own schema (`m2pg`) would put
that schema first and take the unqualified names. A timeout the target sets for the app's
sessions would stop m2pg's longer statements (an index built over a large table, a foreign key
validated, a whole table read by verify) or transactions halfway, as it would a restore's: m2pg's
sessions run without, as pg_restore's do. A lock timeout stays: it keeps m2pg's DDL from queueing
the app's queries behind it. The client encoding is UTF8 whatever the database, the role or
PGCLIENTENCODING set: the drivers hand PostgreSQL UTF-8 text, which a session in LATIN1 took for
LATIN1 and stored converted, garbled for the app's client (whose sessions are UTF8)."""
SESSION_SQL = tuple(f"SET {name} = {value}" for name, value in SESSION.items())


def in_utf8(pg_uri: str) -> str:
    """`pg_uri` with libpq's `client_encoding` keyword UTF8 (replacing one the URI gives): a
    startup parameter, which PGCLIENTENCODING would otherwise set and which PostgreSQL applies
    after `options`, so that it cannot be set there."""
    base, _, query = pg_uri.partition("?")
    kept = [p for p in query.split("&") if p and p.partition("=")[0] != "client_encoding"]
    return f"{base}?{'&'.join([*kept, 'client_encoding=UTF8'])}"


def with_m2pg_settings(pg_uri: str) -> str:
    """`pg_uri` with libpq's `options` setting SESSION from the start of the session: for
    connections m2pg opens through another library (DuckDB's attached PostgreSQL), which runs no
    `SET` of ours. Options the URI gives already are kept, before ours; the client encoding is
    the `client_encoding` keyword (`in_utf8`)."""
    base, _, query = in_utf8(pg_uri).partition("?")
    pieces = [p for p in query.split("&") if p]
    given = [unquote(p.partition("=")[2]) for p in pieces if p.partition("=")[0] == "options"]
    ours = (f"-c {name}={value}" for name, value in SESSION.items() if name != "client_encoding")
    options = " ".join([*given, *ours])
    kept = [p for p in pieces if p.partition("=")[0] != "options"]
    return f"{base}?{'&'.join([*kept, 'options=' + quote(options, safe='')])}"


def connect(pg_uri: str, settings: tuple[str, ...] = ()):
    """A connection to the app's schema with each `SET` statement in `settings` applied to its session."""
    preflight.pg_uri(pg_uri)
    remember(pg_uri)
    try:
        conn = pgdbapi.connect(pg_uri)
    except Exception as error:  # the driver raises several types for a bad URI or server
        raise ConfigError(
            f"cannot connect to PostgreSQL at {redact(pg_uri)}: {short_cause(error)}",
            hint="check --pg-uri (or M2PG_PG_URI)",
        ) from None
    with conn.cursor() as cur:
        for setting in (*SESSION_SQL, *settings):
            cur.execute(setting)
    conn.commit()
    return conn


def server_message(error: pgdbapi.Error) -> str:
    """PostgreSQL's own message and detail, without the driver's wrapping."""
    fields = {key.decode(): value.decode(errors="replace") for key, value in error.details or []}
    said = [fields.get(f"PG_DIAG_MESSAGE_{part}") for part in ("PRIMARY", "DETAIL")]
    return ". ".join(filter(None, said)) or str(error).strip()
