"""Scrubbing secrets out of driver and HTTP error messages before they reach a `SourceError`, which
goes on to stderr, the database and Slack. Imports the stdlib only.

`scrub` replaces with ``***``:

- the password of any URL (``scheme://user:***@host``);
- the value of every query-string parameter (``?token=***&page=***``), in a URL or on its own;
- the value of connection-string keys that hold secrets (``password=***``, ``sslpassword=***``,
  ``token=***``, ``api_key=***`` ...), quoted or not;
- each of the given `secrets` wherever it appears, as is or URL-encoded, when it is at least
  `MIN_SECRET` characters long (a shorter one would blank out ordinary words; the patterns above
  still catch it where it sits in a URL or a ``key=value``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

__all__ = ["MIN_SECRET", "scrub", "url_secrets"]

MIN_SECRET = 4
MASK = "***"

_USERINFO = re.compile(r"(?P<keep>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s/?#@:]*:)[^\s/?#@]*@")
_QUERY = re.compile(r"(?P<keep>[?&;][^\s=&#;?'\"<>]+=)[^\s&#;'\"<>]*")
_KEYS = re.compile(
    r"(?P<keep>\b(?:password|passwd|pwd|sslpassword|secret|token|access_token|api[_-]?key)"
    r"\s*[=:]\s*)(?:'[^']*'|\"[^\"]*\"|[^\s&;,'\"]+)",
    re.IGNORECASE,
)


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with passwords, query-string values, secret ``key=value``s and `secrets` masked."""
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret, safe="")}:
            text = text.replace(form, MASK)
    text = _USERINFO.sub(rf"\g<keep>{MASK}@", text)
    text = _KEYS.sub(rf"\g<keep>{MASK}", text)
    return _QUERY.sub(rf"\g<keep>{MASK}", text)


def url_secrets(url: str) -> list[str]:
    """The parts of `url` that are secret: its password and its query-string values."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return [url]
    values = [value for _key, value in parse_qsl(parts.query, keep_blank_values=False)]
    return [*([password] if password else []), *values]
