"""Which remediation statements `apply` may run, decided by parsing them (pglast), never by regex.

Only four kinds are allowed, because each is safe on a live database and checkable afterwards:

* `CREATE INDEX CONCURRENTLY` with an explicit name (so we can verify the index is valid);
* `DROP INDEX CONCURRENTLY` of exactly one index;
* `VACUUM` (not FULL: that rewrites the table under an ACCESS EXCLUSIVE lock) of named tables;
* `ANALYZE` of named tables.

Anything else — a plain CREATE INDEX (blocks writes), ALTER TABLE, DROP TABLE, a SELECT, several
unrelated statements, only comments — is refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import pglast
from pglast import ast, enums


class Refused(ValueError):
    """The remediation SQL is not something `apply` runs; the message says why."""


@dataclass(frozen=True)
class Action:
    kind: str                  # create_index | drop_index | vacuum | analyze
    sql: str                   # the statement text as written in the recommendation
    schema: str | None         # schema of the index (create/drop) or of the first table
    name: str | None           # index name (create/drop) or the first table name
    table: str | None = None   # table of a created index
    tables: tuple[tuple[str | None, str], ...] = ()  # vacuum/analyze targets


def _statement_text(sql: str, raw: ast.RawStmt) -> str:
    # pglast reports stmt_location/stmt_len in characters of the str it was given (it converts
    # the parser's byte offsets), so they slice the str itself: slicing its UTF-8 bytes would cut
    # statements after a non-ASCII identifier.
    start = raw.stmt_location or 0
    end = start + raw.stmt_len if raw.stmt_len else len(sql)
    return sql[start:end].strip().rstrip(";").strip()


def classify_one(text: str, stmt) -> Action:
    if isinstance(stmt, ast.IndexStmt):
        if not stmt.concurrent:
            raise Refused("CREATE INDEX without CONCURRENTLY would block writes to the table; refusing")
        if not stmt.idxname:
            raise Refused("CREATE INDEX CONCURRENTLY without an index name cannot be verified; name the index")
        rel = stmt.relation
        return Action("create_index", text, rel.schemaname, stmt.idxname, table=rel.relname)
    if isinstance(stmt, ast.DropStmt):
        if stmt.removeType != enums.ObjectType.OBJECT_INDEX:
            raise Refused("only DROP INDEX CONCURRENTLY is allowed; this DROP removes something else")
        if not stmt.concurrent:
            raise Refused("DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock; refusing")
        if len(stmt.objects) != 1:
            raise Refused("DROP INDEX CONCURRENTLY must name exactly one index")
        parts = [n.sval for n in stmt.objects[0]]
        schema, name = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[-1])
        return Action("drop_index", text, schema, name)
    if isinstance(stmt, ast.VacuumStmt):
        options = {d.defname.lower() for d in (stmt.options or ())}
        if "full" in options:
            raise Refused("VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock; refusing")
        if not stmt.rels:
            raise Refused("VACUUM/ANALYZE must name its tables (a database-wide run is not a remediation)")
        tables = tuple((r.relation.schemaname, r.relation.relname) for r in stmt.rels)
        kind = "vacuum" if stmt.is_vacuumcmd else "analyze"
        return Action(kind, text, tables[0][0], tables[0][1], tables=tables)
    raise Refused(
        f"{type(stmt).__name__} is not one of CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, "
        "VACUUM, ANALYZE; refusing to run it"
    )


def classify(sql: str | None) -> list[Action]:
    """Every statement of `sql` as an allowed Action, or Refused for the whole text."""
    if not sql or not sql.strip():
        raise Refused("the recommendation has no remediation SQL")
    try:
        raws = pglast.parse_sql(sql)
    except pglast.parser.ParseError as exc:
        raise Refused(f"the remediation SQL does not parse: {exc}") from None
    if not raws:
        raise Refused("the remediation SQL holds only comments (a manual change is needed)")
    return [classify_one(_statement_text(sql, raw), raw.stmt) for raw in raws]
