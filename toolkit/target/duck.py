"""A DuckDB connection that reads the live PostgreSQL database, offline.

The postgres scanner is LOADed from the file the `duckdb-extension-postgres-scanner` wheel
installs, so nothing is downloaded, and the database is attached read-only as `pg`.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import duckdb

from toolkit.runtime import preflight
from toolkit.runtime.errors import ConfigError
from toolkit.runtime.redact import redact, scrub
from toolkit.target.postgres import in_utf8, with_m2pg_settings

DISTRIBUTION = "duckdb-extension-postgres-scanner"
EXTENSION = "postgres_scanner.duckdb_extension"


def extension_path() -> Path:
    """The wheel's extension file built for the installed DuckDB (extensions/v<version>/)."""
    try:
        files = importlib.metadata.distribution(DISTRIBUTION).files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    built_for = [f for f in files if f.name == EXTENSION and f"v{duckdb.__version__}" in f.parts]
    if not built_for:
        raise ConfigError(
            f"no {EXTENSION} for DuckDB {duckdb.__version__} is installed",
            hint=f"pip install {DISTRIBUTION}=={duckdb.__version__}",
        )
    return Path(built_for[0].locate())


def connect(pg_uri: str, alias: str = "pg") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with PostgreSQL attached read-only as `alias`, its sessions without the
    target's timeouts (as m2pg's own). The URI is checked first as for every connection: one
    whose password holds an unescaped `@` made DuckDB print the rest of the password as a host."""
    preflight.pg_uri(pg_uri)
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.load_extension(str(extension_path()))
    try:
        try:
            con.execute(f"ATTACH {_literal(with_m2pg_settings(pg_uri))} AS {alias} (TYPE postgres, READ_ONLY)")
        except duckdb.Error as error:
            if "options" not in str(error) and "startup parameter" not in str(error):
                raise
            # a connection pooler that takes no startup options: the target's timeouts then stay
            con.execute(f"ATTACH {_literal(in_utf8(pg_uri))} AS {alias} (TYPE postgres, READ_ONLY)")
    except duckdb.Error as error:
        con.close()
        reason = scrub(str(error), pg_uri).strip()
        raise ConfigError(
            f"cannot attach PostgreSQL at {redact(pg_uri)}: {reason}", hint="check --pg-uri (or M2PG_PG_URI)"
        ) from None
    return con


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
