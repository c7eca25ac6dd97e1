"""Passwords never reach the console, a report or a log, whatever characters they hold.

Two layers: `redact` rewrites a URI m2pg shows itself; `scrub` cleans any text (a driver's
message, a traceback, a report) of every password m2pg was given, however the text quotes it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote, unquote

_SCHEME = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<rest>.*)", re.I | re.S)
# a scheme starts where a run of scheme characters starts: long runs (a report's base64 images)
# are then scanned once, not once from each of their characters
_USERINFO = re.compile(
    r"(?<![a-z0-9+.-])(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@\s]*)@", re.I
)
_PARAM = re.compile(r"""(?P<key>password\s*=\s*)(?:'[^']*'|[^&\s"']*)""", re.I)  # not past a quote: JSON holds it
# in a URI alone the value runs to the next parameter: libpq takes quotes in it as they are
_URI_PARAM = re.compile(r"""(?P<key>password\s*=\s*)(?:'[^']*'|[^&\s]*)""", re.I)
_SHORTEST_SECRET = 4  # a shorter password is hidden in URIs only: replacing it everywhere would garble the text
_known: set[str] = set()
URI_VARIABLES = ("M2PG_MONGO_URI", "M2PG_PG_URI")


@dataclass(frozen=True)
class UriParts:
    """A URI cut where a person means it: the userinfo ends at the last `@` before the path."""

    scheme: str
    userinfo: str | None
    rest: str

    @property
    def user(self) -> str | None:
        return None if self.userinfo is None else self.userinfo.split(":", 1)[0]

    @property
    def password(self) -> str | None:
        if self.userinfo is None or ":" not in self.userinfo:
            return None
        return self.userinfo.split(":", 1)[1]


def split_uri(uri: str) -> UriParts | None:
    """The URI's scheme, userinfo and the rest, also when the password holds unescaped `@ : / %`;
    None for text that is not `scheme://...`."""
    found = _SCHEME.fullmatch(uri.strip())
    if not found:
        return None
    rest = found["rest"]
    head = re.split(r"[/?#]", rest, maxsplit=1)[0]
    at = head.rfind("@") if "@" in head else rest.rfind("@")
    if at < 0:
        return UriParts(found["scheme"], None, rest)
    return UriParts(found["scheme"], rest[:at], rest[at + 1 :])


def redact(uri: str | None) -> str:
    """The URI with any password replaced by ***."""
    if not uri:
        return ""
    parts = split_uri(uri)
    if parts is not None and parts.password:
        return f"{parts.scheme}://{parts.user}:***@{_params(parts.rest, _URI_PARAM)}"
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@" if m["password"] else m[0], uri)
    return _params(text, _URI_PARAM if parts is not None else _PARAM)


def without_credentials(uri: str) -> str:
    """The URI with no user name or password at all, for a URI that cannot be read."""
    parts = split_uri(uri)
    if parts is None:
        return "(a text that is not a URI)"
    return f"{parts.scheme}://" + ("***@" if parts.userinfo is not None else "") + _params(parts.rest)


def _params(text: str, pattern: re.Pattern = _PARAM) -> str:
    return pattern.sub(lambda m: f"{m['key']}***", text)


def remember(uri: str | None) -> None:
    """Hide this URI's password from everything `scrub` cleans from now on, in each spelling a
    driver may echo: as given, percent-decoded, percent-encoded."""
    parts = split_uri(uri) if uri else None
    if parts is None:
        return
    query = parts.rest.partition("?")[2]
    given = [
        value for key, _, value in (p.partition("=") for p in query.split("&")) if key.strip().lower() == "password"
    ]
    for password in filter(None, [parts.password, *given]):  # libpq takes `?password=` too
        decoded = unquote(password)
        for secret in (password, decoded, quote(decoded, safe="")):
            if len(secret) >= _SHORTEST_SECRET:
                _known.add(secret)


def remember_given(arguments: Iterable[str], environ=os.environ) -> None:
    """Every password the command line or the environment hands to m2pg."""
    for value in [*arguments, *(environ.get(name, "") for name in URI_VARIABLES)]:
        for word in {value, value.split("=", 1)[-1]}:  # --pg-uri URI as well as --pg-uri=URI
            if "://" in word:
                remember(word)


def scrub(text: str, pg_uri: str | None = None) -> str:
    """`text` without any known password: drivers' errors (DuckDB's ATTACH, libpq, pymongo)
    may quote a URI or the password alone, plain or escaped as JSON."""
    if not text:
        return text
    remember(pg_uri)
    for secret in sorted(_known, key=len, reverse=True):  # first: a URI pattern would cut one holding @
        for spelling in {secret, json.dumps(secret)[1:-1], repr(secret)[1:-1]}:
            text = text.replace(spelling, "***")
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@" if m["password"] else m[0], text)
    return _params(text)


class ScrubbedStream:
    """A text stream that scrubs what is written through it before it reaches the real one
    (looked up at each write, so a stream swapped in later is honoured). A failed write names
    the stream (`name`): `m2pg status > /dev/full` is no full staging folder."""

    def __init__(self, stream, name: str):
        self._stream, self._name = stream, name

    def write(self, text: str) -> int:
        with self._named():
            return self._stream().write(scrub(text))

    def flush(self) -> None:
        with self._named():
            self._stream().flush()

    @contextmanager
    def _named(self):
        try:
            yield
        except OSError as error:
            error.filename = error.filename or self._name
            raise

    def __getattr__(self, name: str):
        return getattr(self._stream(), name)
