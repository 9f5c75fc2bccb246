"""What every `aimatrix-pipeline` subcommand prints and returns, wherever it lives.

Exit codes: 0 success, 1 the command ran but found a problem (query error, failed check), 2 usage
or configuration error. Domains' `commands.py` modules import these from here, not from the CLI
module, so a domain never depends on the command-line entry point.
"""

from __future__ import annotations

import csv
import json
import sys

from aimatrix_pipeline.terminal import escape

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _print_table(columns: list[str], rows: list[tuple], out) -> None:
    columns = [escape(c) for c in columns]
    cells = [[("NULL" if v is None else escape(v)) for v in row] for row in rows]
    widths = [min(60, max([len(c)] + [len(r[i]) for r in cells])) for i, c in enumerate(columns)]
    out.write(" | ".join(c.ljust(w) for c, w in zip(columns, widths)) + "\n")
    out.write("-+-".join("-" * w for w in widths) + "\n")
    for r in cells:
        out.write(" | ".join(v[:w].ljust(w) for v, w in zip(r, widths)) + "\n")
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


def write_result(columns: list[str], rows: list[tuple], fmt: str, out=None) -> None:
    """Print a result for every command. Values are hostile data (names and texts from monitored
    databases): table and CSV cells have control characters escaped (terminal.escape), JSON
    escapes them itself."""
    out = out or sys.stdout
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow([escape(c) for c in columns])
        writer.writerows([[v if v is None or isinstance(v, (int, float)) else escape(v) for v in r] for r in rows])
    elif fmt == "json":
        json.dump([dict(zip(columns, r)) for r in rows], out, default=str, indent=2)
        out.write("\n")
    else:
        _print_table(columns, rows, out)
