"""What the analytics and cost assets show in the Dagster UI besides row counts.

For an asset name, `sql/warehouse/previews/<name>.figures.sql` returns one row whose numeric
columns become float metadata (the UI plots them over materializations) and
`<name>.table.sql` returns the rows of a Markdown preview. Both run in the asset's own
transaction, after its write, so they describe exactly what was committed. Either file may be
absent.
"""

from __future__ import annotations

import math

import dagster as dg

from aimatrix_pipeline.sql_files import SQL_DIR, load_sql

FOLDER = "warehouse/previews"


def _cell(value) -> str:
    if value is None:
        return ""
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 160 else text[:157] + "..."


def markdown_table(columns: list[str], rows: list[tuple]) -> str:
    """A Markdown table; rows carrying `remediation_sql` become a numbered list with SQL blocks."""
    if not rows:
        return "_no rows_"
    if "remediation_sql" in columns:
        i = columns.index("remediation_sql")
        out = []
        for n, r in enumerate(rows, 1):
            fields = ", ".join(f"{c}: {_cell(v)}" for c, v in zip(columns, r) if c not in ("remediation_sql", "title"))
            title = _cell(r[columns.index("title")]) if "title" in columns else ""
            out.append(f"{n}. **{title}** ({fields})")
            if r[i]:
                out.append("   ```sql\n   " + str(r[i]).strip().replace("\n", "\n   ") + "\n   ```")
        return "\n".join(out)
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "\n".join("| " + " | ".join(_cell(v) for v in r) + " |" for r in rows)


def _bind(sql: str, params: dict) -> dict:
    return {k: v for k, v in params.items() if f"${k}" in sql}


def preview_metadata(conn, name: str, params: dict) -> dict:
    meta: dict = {}
    if (SQL_DIR / FOLDER / f"{name}.figures.sql").is_file():
        sql = load_sql(f"{FOLDER}/{name}.figures.sql")
        cur = conn.execute(sql, _bind(sql, params))
        cols = [d[0] for d in cur.description]
        row = cur.fetchone()
        for col, value in zip(cols, row or ()):
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                meta[col] = dg.MetadataValue.float(float(value))
    if (SQL_DIR / FOLDER / f"{name}.table.sql").is_file():
        sql = load_sql(f"{FOLDER}/{name}.table.sql")
        cur = conn.execute(sql, _bind(sql, params))
        cols = [d[0] for d in cur.description]
        meta["preview"] = dg.MetadataValue.md(markdown_table(cols, cur.fetchall()))
    return meta
