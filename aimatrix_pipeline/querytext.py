"""Query fingerprints and literal-free previews, from PostgreSQL's own parser (libpg_query).

Used wherever query text enters the warehouse (pg_stat_statements, app logs, activity), so the
same statement gets the same fingerprint everywhere and no literal (an e-mail, a token) is stored.
Text the parser rejects still gets a stable fingerprint and a preview with quoted strings and
numbers masked by a conservative scanner, so nothing is lost and nothing leaks.
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

from pglast import parser as pg_parser

PREVIEW_CHARS = 2000
_STRING = re.compile(r"'(?:[^']|'')*'?|\$([A-Za-z_]*)\$.*?\$\1\$", re.S)
_NUMBER = re.compile(r"(?<![\w$])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?\b", re.I)
_SPACE = re.compile(r"\s+")


class QueryText(NamedTuple):
    fingerprint: str
    preview: str
    parse_ok: bool


def _mask(text: str) -> str:
    text = _STRING.sub("?", text)
    text = _NUMBER.sub("?", text)
    return _SPACE.sub(" ", text).strip()


def analyse(text: str | None, preview_chars: int = PREVIEW_CHARS) -> QueryText:
    """Fingerprint and literal-free preview of one query text."""
    if text is None:
        return QueryText("null", "", False)
    try:
        fingerprint = pg_parser.fingerprint(text)
        preview = _SPACE.sub(" ", pg_parser.normalize(text)).strip()
        return QueryText(fingerprint, preview[:preview_chars], True)
    except Exception:  # noqa: BLE001 - ParseError and libpg_query's internal errors alike
        masked = _mask(text)
        digest = hashlib.md5(masked.lower().encode("utf-8", "replace")).hexdigest()[:16]
        return QueryText(f"x{digest}", masked[:preview_chars], False)


def preview(text: str | None, preview_chars: int = PREVIEW_CHARS) -> str:
    return analyse(text, preview_chars).preview
