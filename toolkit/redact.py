"""Passwords never reach the console or a report."""
from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@]*):(?P<password>[^@]*)@", re.I)
_PARAM = re.compile(r"(?P<key>password=)[^&\s]*", re.I)


def redact(uri: str | None) -> str:
    """The URI with any password replaced by ***."""
    if not uri:
        return ""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@" if m["password"] else m[0], uri)
    return _PARAM.sub(lambda m: f"{m['key']}***", text)
