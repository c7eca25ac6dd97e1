"""One way to open PostgreSQL over ADBC: an unreachable server, a wrong database or a refused
login is a clear error naming the (redacted) URI, never a driver traceback."""
from __future__ import annotations

import adbc_driver_postgresql.dbapi as pgdbapi

from toolkit.errors import ConfigError
from toolkit.redact import redact, scrub


def connect(pg_uri: str, settings: tuple[str, ...] = ()):
    """A connection with each `SET` statement in `settings` applied to its session."""
    try:
        conn = pgdbapi.connect(pg_uri)
    except Exception as error:  # the driver raises several types for a bad URI or server
        raise ConfigError(f"cannot connect to PostgreSQL at {redact(pg_uri)}: {scrub(str(error), pg_uri).strip()}",
                          hint="check --pg-uri (or M2PG_PG_URI)") from None
    if settings:
        with conn.cursor() as cur:
            for setting in settings:
                cur.execute(setting)
        conn.commit()
    return conn
