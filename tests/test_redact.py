"""Passwords are hidden however a URI spells them, and a URI a driver would misread is refused
before it reaches the driver."""

import json
from urllib.parse import quote

import pytest

from toolkit.runtime import redact
from toolkit.runtime.errors import ConfigError
from toolkit.runtime.preflight import mongo_uri, pg_uri

SHOWN = [  # (URI as given, as m2pg shows it)
    ("mongodb://u:s3cret@h:27017/db", "mongodb://u:***@h:27017/db"),
    ("postgresql://postgres:Secret@Password123@127.0.0.1/x", "postgresql://postgres:***@127.0.0.1/x"),
    ("mongodb://u:p@ss:w%rd@h/?authSource=admin", "mongodb://u:***@h/?authSource=admin"),
    ("mongodb://u:pw/with/slash@h/db", "mongodb://u:***@h/db"),
    ("mongodb://h:1/db", "mongodb://h:1/db"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("host=h password='pa ss' dbname=x", "host=h password=*** dbname=x"),
    ("postgresql:///db?host=/s&password=Se'cret\"Rest&user=u", "postgresql:///db?host=/s&password=***&user=u"),
]


@pytest.mark.parametrize("uri, shown", SHOWN)
def test_redact_hides_the_password_whatever_it_holds(uri, shown):
    assert redact.redact(uri) == shown


@pytest.mark.parametrize("password", ["Wolf@Moon:Star%Sun", 'quote"and\\slash', "plain-secret"])
def test_scrub_hides_a_remembered_password_in_any_spelling(password):
    redact.remember(f"postgresql://u:{password}@h/db")
    text = f"{password} | {quote(password, safe='')} | {json.dumps(password)} | postgresql://u:{password}@h/db"
    scrubbed = redact.scrub(text)
    assert password not in scrubbed and quote(password, safe="") not in scrubbed
    assert json.dumps(password)[1:-1] not in scrubbed


URIS = [  # (check, URI, refused because)
    (mongo_uri, "mongodb://u:Wolf@Moon@h/", "percent-encoded"),
    (mongo_uri, "mongodb://u:a:b@h/", "percent-encoded"),
    (mongo_uri, "mongodb://u:100%@h/", "percent-encoded"),
    (mongo_uri, "postgresql://u:p@h/", "not a MongoDB URI"),
    (mongo_uri, "localhost:27017", "not a MongoDB URI"),
    (pg_uri, "postgresql://u:Wolf@Moon@h/db", "percent-encoded"),
    (pg_uri, "mongodb://h/db", "not a PostgreSQL URI"),
]


@pytest.mark.parametrize("check, uri, because", URIS)
def test_a_uri_a_driver_would_misread_is_refused_without_its_credentials(check, uri, because):
    with pytest.raises(ConfigError, match=because) as raised:
        check(uri)
    assert "Wolf" not in str(raised.value) and "Moon" not in str(raised.value) and ":p@" not in str(raised.value)


@pytest.mark.parametrize(
    "check, uri",
    [
        (mongo_uri, "mongodb://u:Wolf%40Moon@h/"),
        (mongo_uri, "mongodb+srv://h/"),
        (pg_uri, "postgres://u:a%3Ab@h:5/db?sslmode=require"),
        (pg_uri, "postgresql://postgres:@/db?host=/tmp/sock"),
    ],
)
def test_a_well_formed_uri_passes(check, uri):
    check(uri)


@pytest.mark.parametrize(
    "arguments, environ, password",
    [
        (["--pg-uri", "postgresql://u:FirstPw1@h/db?sslmode=require"], {}, "FirstPw1"),
        (["--mongo-uri=mongodb://u:SecondPw2@h/?authSource=admin"], {}, "SecondPw2"),
        ([], {"M2PG_PG_URI": "postgresql://u:ThirdPw3@h/db"}, "ThirdPw3"),
    ],
)
def test_every_password_given_to_the_command_is_remembered(arguments, environ, password):
    redact.remember_given(arguments, environ)
    assert redact.scrub(f"driver said: {password}") == "driver said: ***"


def test_a_password_parameter_in_a_json_report_is_hidden_and_the_json_stays_json():
    """The hidden value ran on to the next whitespace: the closing quote and comma went with it,
    and verify.json, reconcile.json and load.json could no longer be read."""
    report = json.dumps({"target": "postgresql://app@/nextcrm?host=/run&password=TopSecret", "tables": 39})
    hidden = {"target": "postgresql://app@/nextcrm?host=/run&password=***", "tables": 39}
    assert json.loads(redact.scrub(report)) == hidden


def test_duckdbs_attach_checks_the_uri_first():
    """reconcile and verify attach the target through DuckDB, which took the rest of a password
    holding an unescaped `@` for the host and printed it."""
    from toolkit.target import duck

    with pytest.raises(ConfigError) as refused:
        duck.connect("postgresql://bob:p@ssw0rd-TopSecret@127.0.0.1:5432/nextcrm")
    assert "must be percent-encoded" in str(refused.value) and "TopSecret" not in str(refused.value)


def test_a_password_parameter_holding_a_quote_is_hidden_in_json_and_in_text():
    """libpq takes `?password=Se'cret"Rest` as it is, and it logged in; the hidden value stopped at
    the quote, and "'cret\"Rest" was printed by status and written to load.json and reconcile.json."""
    uri = "postgresql:///db?host=/s&user=u&password=Se'cret\"Rest"
    redact.remember(uri)
    report = redact.scrub(json.dumps({"target": uri, "tables": 39}))
    assert "cret" not in report and "Rest" not in report and json.loads(report)["tables"] == 39
    assert "cret" not in redact.scrub(f"target {uri}: no batch loaded yet")
