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

import pyarrow as pa
import pyarrow.compute as pc
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


# Literal masking of app-log query texts before hashing them into a shape: texts that differ only
# in literals (the usual case for an application's log) share one shape, so the parser runs once
# per shape, not once per row. One regex pass: quoted strings and bare numbers become 0, which
# keeps the text parseable (pglast then normalises it to $n placeholders for the preview). Word
# boundaries are ASCII ones, so digits inside identifiers (events_2024, t1) are kept.
LITERAL_PATTERN = r"'(?:[^']|'')*'|(?-u:\b)[0-9]+(?:\.[0-9]+)?(?-u:\b)"


def mask_literals(texts: pa.Array | pa.ChunkedArray, max_bytes: int) -> pa.Array:
    """`texts` (UTF-8 bytes) with literals masked, as strings; NULL where a text is NULL, longer
    than `max_bytes` or not valid UTF-8 (those rows are quarantined, never shaped).

    Runs vectorised in Rust (polars' regex engine, about twice as fast as RE2 here) and without
    the GIL, so the extract masks one batch while DuckDB inserts the previous one.
    """
    import polars as pl  # only the app-log extract needs it: kept out of every other import

    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type):
        texts = texts.cast(pa.binary() if pa.types.is_string(texts.type) else pa.large_binary())
    oversized = pc.fill_null(pc.greater(pc.binary_length(texts), max_bytes), False)
    if pc.any(oversized).as_py():
        texts = pc.if_else(oversized, pa.scalar(None, texts.type), texts)
    try:
        strings = texts.cast(pa.large_string())
    except pa.ArrowInvalid:  # some text is not UTF-8: only that text is left out
        strings = pa.array([_utf8_or_none(v) for v in texts.to_pylist()], pa.large_string())
    return pl.Series(strings).str.replace_all(LITERAL_PATTERN, "0").to_arrow().cast(pa.large_string())


def first_occurrences(values: pa.Array) -> pa.Array:
    """True for the first occurrence of each value (NULL counts as a value): lets the warehouse
    look for new shapes among a batch's few distinct texts instead of all its rows."""
    import polars as pl

    return pl.Series(values).is_first_distinct().to_arrow()


def _utf8_or_none(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def preview(text: str | None, preview_chars: int = PREVIEW_CHARS) -> str:
    return analyse(text, preview_chars).preview
