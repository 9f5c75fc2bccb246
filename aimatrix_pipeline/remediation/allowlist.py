"""Which statements a finding may run, and on which object: checked before `apply` runs anything.

`statements.classify` keeps `apply` to four safe statement kinds. That alone is not enough: the
remediation text is built from names read from the monitored database (hostile data), and a
name that once broke out of a `-- ` comment put a DROP INDEX of another object into a
no-primary-key finding. So each finding name allows a fixed sequence of statement kinds, and
each statement must target the finding's own object (object_schema / object_name, and the
table recorded in its evidence), compared on pglast's parse, never on text:

| finding                                        | may run                                          |
|------------------------------------------------|--------------------------------------------------|
| unindexed_foreign_key                          | CREATE INDEX CONCURRENTLY on the table, on the foreign key's columns |
| index_suggestion                               | CREATE INDEX CONCURRENTLY on the table, on the suggested columns |
| vector_missing_index                           | CREATE INDEX CONCURRENTLY on the table           |
| unused_index, duplicate_index, invalid_index   | DROP INDEX CONCURRENTLY of that index            |
| vacuum_overdue                                 | VACUUM or ANALYZE of that table                  |
| vector_ivfflat_to_hnsw, vector_ivfflat_lists   | CREATE INDEX CONCURRENTLY on the index's table, then DROP INDEX CONCURRENTLY of that index |
| anything else (no_primary_key, slow_query, ...) | nothing: the change needs a person             |

Each statement's text (what `execute` will send) is parsed again on its own and must be the very
statement that was checked, so a text cut at the wrong place can never run something else.
"""

from __future__ import annotations

import pglast
from pglast import ast, enums

from aimatrix_pipeline.remediation.statements import Action, Refused, classify_one

CREATE, DROP, VACUUM, ANALYZE = "create_index", "drop_index", "vacuum", "analyze"

# finding name -> the statement kinds it runs, in order (a set: any one of them at that place)
ALLOWED: dict[str, tuple[frozenset[str], ...]] = {
    "unindexed_foreign_key": (frozenset({CREATE}),),
    "index_suggestion": (frozenset({CREATE}),),
    "vector_missing_index": (frozenset({CREATE}),),
    "unused_index": (frozenset({DROP}),),
    "duplicate_index": (frozenset({DROP}),),
    "invalid_index": (frozenset({DROP}),),
    "vacuum_overdue": (frozenset({VACUUM, ANALYZE}),),
    "vector_ivfflat_to_hnsw": (frozenset({CREATE}), frozenset({DROP})),
    "vector_ivfflat_lists": (frozenset({CREATE}), frozenset({DROP})),
}
# findings whose object_name is a table (the others name an index)
TABLE_FINDINGS = {"unindexed_foreign_key", "index_suggestion", "vector_missing_index", "vacuum_overdue"}
# findings whose CREATE INDEX must be on exactly the columns their evidence names
COLUMN_FINDINGS = {"unindexed_foreign_key": "the foreign key's", "index_suggestion": "the suggestion's"}

_KIND_TEXT = {CREATE: "CREATE INDEX CONCURRENTLY", DROP: "DROP INDEX CONCURRENTLY", VACUUM: "VACUUM",
              ANALYZE: "ANALYZE"}


def _name(schema: str | None, name: str | None) -> str:
    return repr(f"{schema}.{name}" if schema else str(name))


def _allowed_text(kinds: tuple[frozenset[str], ...]) -> str:
    return ", then ".join(" or ".join(_KIND_TEXT[k] for k in sorted(step)) for step in kinds)


def _reparse(action: Action):
    """The statement `execute` will send, parsed on its own: exactly one, the same as checked."""
    try:
        raws = pglast.parse_sql(action.sql)
    except pglast.parser.ParseError as exc:
        raise Refused(f"the statement text to run ({action.sql!r}) does not parse on its own: {exc}") from None
    if len(raws) != 1:
        raise Refused(f"the statement text to run ({action.sql!r}) holds {len(raws)} statements, not one")
    stmt = raws[0].stmt
    again = classify_one(action.sql, stmt)
    if (again.kind, again.schema, again.name, again.table, again.tables) != (
            action.kind, action.schema, action.name, action.table, action.tables):
        raise Refused(f"the statement text to run ({action.sql!r}) is not the statement that was checked")
    return stmt


def _index_columns(stmt: ast.IndexStmt) -> list[str | None]:
    return [p.name for p in stmt.indexParams or ()]


def authorize(finding: str, object_schema: str | None, object_name: str | None, metadata: dict | None,
              actions: list[Action]) -> list[Action]:
    """`actions` unchanged when the finding may run them on its own object, else Refused."""
    metadata = metadata or {}
    kinds = ALLOWED.get(finding)
    if kinds is None:
        raise Refused(f"a {finding} finding is fixed by hand: apply runs no statement for it")
    got = ", then ".join(_KIND_TEXT[a.kind] for a in actions)
    if len(actions) != len(kinds) or any(a.kind not in step for a, step in zip(actions, kinds)):
        raise Refused(f"a {finding} finding may run only {_allowed_text(kinds)}; its remediation SQL holds {got}")
    if not object_schema or not object_name:
        raise Refused(f"the {finding} finding names no object (schema and name); refusing")
    table = object_name if finding in TABLE_FINDINGS else metadata.get("table")
    if any(CREATE in step for step in kinds) and (not isinstance(table, str) or not table):
        raise Refused(f"the {finding} finding's evidence lacks the table of index {_name(object_schema, object_name)}; "
                      "re-run the analytics, then apply again")
    own_table = (object_schema, table)
    for action in actions:
        stmt = _reparse(action)
        if action.kind == CREATE:
            target = (stmt.relation.schemaname, stmt.relation.relname)
            if target != own_table:
                raise Refused(f"CREATE INDEX targets table {_name(*target)}, not the finding's table {_name(*own_table)}")
            if stmt.unique:
                raise Refused("CREATE UNIQUE INDEX would reject writes that succeed today; refusing")
            if finding in COLUMN_FINDINGS:
                columns = metadata.get("columns")
                if _index_columns(stmt) != list(columns or ()):
                    raise Refused(f"CREATE INDEX on columns {_index_columns(stmt)} does not match "
                                  f"{COLUMN_FINDINGS[finding]} columns {columns}")
        elif action.kind == DROP:
            target = (action.schema, action.name)
            own_index = (object_schema, object_name)
            if target != own_index:
                raise Refused(f"DROP INDEX targets {_name(*target)}, not the finding's index {_name(*own_index)}")
            if stmt.behavior != enums.DropBehavior.DROP_RESTRICT:
                raise Refused("DROP INDEX ... CASCADE would drop dependent objects too; refusing")
        else:
            if list(action.tables) != [own_table]:
                targets = ", ".join(_name(*t) for t in action.tables)
                raise Refused(f"{action.kind.upper()} targets {targets}, not the finding's table {_name(*own_table)}")
    return actions
