"""Passwords never reach a checkpoint, a table, a log or a logger: redaction of DSNs and configs.

A DSN may carry its password as a URL (`postgresql://user:pw@host/db`) or as a keyword
(`host=h password=pw`); a config may also hold it under a key such as `password` or
`PGPASSWORD`. Everything persisted or logged goes through `redact_config` / `redact_text`.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?=@)", re.I)
_KEYWORD_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<pw>'[^']*'|\S+)", re.I)
_SECRET_KEY = re.compile(r"passw(or)?d|secret|token|api_?key", re.I)


def redact_text(text: str) -> str:
    """`text` with every DSN password (URL or `password=` form) replaced by ***."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    return _KEYWORD_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


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
