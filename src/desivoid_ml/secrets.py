"""Passwords never reach a checkpoint, a table, a log or a logger: redaction of DSNs and configs.

One masking function, `redact_text`, covers every form a password takes here: a URL
(`postgresql://user:pw@host/db`), a libpq keyword (`password=pw`, `sslpassword=pw`, quoted
values with backslash escapes: `password='ab\\'cd ef'`), an environment assignment
(`PGPASSWORD=pw`) and Hydra overrides (`db.password=pw`). A config may also hold one under a key
such as `password` or `PGPASSWORD` (`redact_config`). Error text from a failed connect can quote
pieces of a malformed DSN without any keyword: `redact_error` masks those too.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MASK = "***"
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?=@)", re.I)
# a keyword ending in password (password, sslpassword, PGPASSWORD, db.password) then = and a
# value: single- or double-quoted with backslash escapes (libpq's rule), quoted one layer deeper
# (\'...\' inside a quoted Hydra override), else up to whitespace; unterminated: to the end
_NESTED = r"\\'(?:\\\\\\'|\\\\|\\[^']|[^\\])*(?:\\'|$)"
_VALUE = _NESTED + r"|'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|(?:[^\s\\]|\\.)+"
_KEYWORD_PASSWORD = re.compile(
    r"(?P<head>(?<![\w-])[\w.-]*passw(?:or)?d\s*=\s*)(?P<pw>" + _VALUE + ")", re.I
)
_SECRET_KEY = re.compile(r"passw(or)?d|secret|token|api_?key", re.I)
_QUOTED = re.compile(r'"([^"]*)"')
_NEXT_KEYWORD = re.compile(r"\s+[a-z_]+\s*=", re.I)
_PIECE_MIN = 3  # shorter fragments of a password are too common to mask in error text


def redact_text(text: str) -> str:
    """`text` with every password (URL, keyword, quoted or environment form) replaced by ***."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    return _KEYWORD_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


def passwords_in(text: str) -> list[str]:
    """The password values `redact_text` would mask in `text`, as written there."""
    return [m.group("pw") for m in _URL_PASSWORD.finditer(text)] + [
        m.group("pw") for m in _KEYWORD_PASSWORD.finditer(text)
    ]


def redact_error(message: str, dsn: str) -> str:
    """An error about `dsn` with its password masked, also where the message quotes only a
    fragment of it: a malformed DSN (`password=ab cd`) makes libpq say
    `missing "=" after "cd" in connection info string`. `redact_error(dsn, dsn)` shows such
    a DSN with the whole malformed value masked."""
    regions = _password_regions(dsn)
    pieces = {r for r in regions if len(r) >= _PIECE_MIN} | {p for r in regions for p in _pieces(r)}
    for piece in sorted(pieces, key=len, reverse=True):
        message = message.replace(piece, MASK)
    message = redact_text(message)
    return _QUOTED.sub(
        lambda m: f'"{MASK}"' if m.group(1).strip() and _inside(m.group(1), regions) else m[0],
        message,
    )


def _password_regions(dsn: str) -> list[str]:
    """Each password of `dsn` with whatever follows it up to the next `keyword=`: where a
    malformed value may have spilled."""
    regions = [m.group("pw") for m in _URL_PASSWORD.finditer(dsn)]
    for match in _KEYWORD_PASSWORD.finditer(dsn):
        rest = dsn[match.start("pw") :]
        end = _NEXT_KEYWORD.search(rest)
        regions.append(rest[: end.start()] if end else rest)
    return regions


def _inside(fragment: str, regions: list[str]) -> bool:
    return any(fragment.strip() in region for region in regions)


def _pieces(password: str) -> list[str]:
    """The password, unquoted and unescaped, and each word and quote-free run of it: a parser
    that rejects it may quote any of them."""
    bare = password.strip("'\"")
    unescaped = re.sub(r"\\(.)", r"\1", bare)
    runs = re.split(r"[\s'\"\\]+", bare) + re.split(r"[\s'\"\\]+", unescaped)
    return [p for p in {password, bare, unescaped, *runs} if len(p) >= _PIECE_MIN]


def redact_config(value: Any) -> Any:
    """A copy of a plain config (dicts, lists, scalars) with secrets masked: values under
    password-like keys, and passwords inside any string."""
    if isinstance(value, dict):
        return {
            key: MASK if _is_secret(key, item) else redact_config(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_config(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def _is_secret(key: Any, value: Any) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key)) and isinstance(value, str)


class RedactingFilter(logging.Filter):
    """A logging filter (for handlers) that masks passwords in the message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact_text(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


@contextmanager
def masked_argv() -> Iterator[None]:
    """sys.argv masked while the block runs (a logger that records the command line starts),
    the real one again afterwards: Lightning's DDP launcher re-runs sys.argv for other ranks."""
    real = sys.argv
    sys.argv = [redact_text(arg) for arg in real]
    try:
        yield
    finally:
        sys.argv = real
