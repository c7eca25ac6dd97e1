"""Passwords never reach the console or a report."""
from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@]*):(?P<password>[^@]*)@", re.I)
_PARAM = re.compile(r"(?P<key>password=)[^&\s]*", re.I)


def redact(uri: str | None) -> str:
    """The URI with any password replaced by ***."""
    if not uri:
        return ""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@" if m["password"] else m[0], uri)
    return _PARAM.sub(lambda m: f"{m['key']}***", text)


def scrub(text: str, pg_uri: str) -> str:
    """`text` without the URI's password: drivers' errors (DuckDB's ATTACH, libpq) may quote it."""
    text = text.replace(pg_uri, redact(pg_uri))
    try:
        password = urlsplit(pg_uri).password
    except ValueError:
        password = None
    for secret in filter(None, {password, password and unquote(password)}):
        text = text.replace(secret, "***")
    return text
