"""Which btree indexes a statement could use, read from its parse tree (pglast), never from text.

For every table a statement reads, the columns it compares with `=`, `IN`, `= ANY`, the range
comparisons (`<`, `>`, `BETWEEN`), the join keys and the ORDER BY / GROUP BY columns. Only
conjuncts count (a predicate under OR or NOT cannot drive an index scan alone). From them come
single-column candidates and multi-column ones in the order a btree serves best: equality columns
first, then one range or the sort columns (Dexter's and PgHero's rule).

Column references are resolved against aliases and, when unqualified, against the catalog's
column lists (a name only one of the statement's tables has). Anything unresolved is dropped:
a wrong guess would only produce an index nobody uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pglast
from pglast import ast, enums

MAX_COLUMNS = 3
_EQ_OPS = {"="}
_RANGE_OPS = {"<", ">", "<=", ">=", "~>~", "~<~"}


@dataclass(frozen=True, order=True)
class Candidate:
    schema: str
    table: str
    columns: tuple[str, ...]

    def label(self) -> str:
        return f"{self.schema}.{self.table}({', '.join(self.columns)})"


@dataclass
class TableUse:
    """What one statement asks of one table."""

    schema: str
    table: str
    equality: list[str] = field(default_factory=list)   # =, IN, = ANY, join keys
    joins: list[str] = field(default_factory=list)       # join keys only (a subset of equality)
    ranges: list[str] = field(default_factory=list)
    sorts: list[str] = field(default_factory=list)       # ORDER BY / GROUP BY, in order

    @staticmethod
    def _add(where: list[str], column: str) -> None:
        if column not in where:
            where.append(column)


@dataclass
class _Scope:
    relations: dict[str, tuple[str | None, str]]   # alias or name -> (schema, table)


def _range_vars(node) -> Iterable[ast.RangeVar]:
    """RangeVars of a FROM list, through joins (not into subqueries: they are their own scope)."""
    if isinstance(node, ast.RangeVar):
        yield node
    elif isinstance(node, ast.JoinExpr):
        yield from _range_vars(node.larg)
        yield from _range_vars(node.rarg)


def _join_quals(node) -> Iterable:
    if isinstance(node, ast.JoinExpr):
        if node.quals is not None:
            yield node.quals
        yield from _join_quals(node.larg)
        yield from _join_quals(node.rarg)


def _conjuncts(expr) -> Iterable:
    if expr is None:
        return
    if isinstance(expr, ast.BoolExpr):
        if expr.boolop == enums.BoolExprType.AND_EXPR:
            for arg in expr.args or ():
                yield from _conjuncts(arg)
        return  # OR / NOT: no single index scan serves them
    yield expr


def _op_name(expr: ast.A_Expr) -> str | None:
    names = expr.name or ()
    last = names[-1] if names else None
    return getattr(last, "sval", None)


def _column(node) -> tuple[str | None, str] | None:
    """(qualifier, column) of a plain column reference (casts looked through)."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if not isinstance(node, ast.ColumnRef):
        return None
    parts = [getattr(f, "sval", None) for f in node.fields or ()]
    if not parts or any(p is None for p in parts):
        return None  # `*` or something odd
    if len(parts) == 1:
        return None, parts[0]
    return parts[-2], parts[-1]


def _refers_to_columns(node) -> bool:
    """The other side of a comparison mentions a column (then it is not a constant for this scan)."""
    if node is None:
        return False
    if isinstance(node, ast.ColumnRef):
        return True
    if isinstance(node, tuple):
        return any(_refers_to_columns(v) for v in node)
    if isinstance(node, ast.Node):
        for name in node:
            value = getattr(node, name, None)
            if isinstance(value, ast.Node) and _refers_to_columns(value):
                return True
            if isinstance(value, tuple) and any(isinstance(v, ast.Node) and _refers_to_columns(v) for v in value):
                return True
    return False


class _Collector:
    def __init__(self, columns_of: dict[tuple[str, str], set[str]], default_schema: str):
        self.columns_of = columns_of
        self.default_schema = default_schema
        self.uses: dict[tuple[str, str], TableUse] = {}

    def _table(self, rv: ast.RangeVar) -> tuple[str, str]:
        return rv.schemaname or self._schema_for(rv.relname), rv.relname

    def _schema_for(self, relname: str) -> str:
        found = [s for (s, t) in self.columns_of if t == relname]
        return found[0] if len(found) == 1 else self.default_schema

    def _resolve(self, scope: _Scope, ref: tuple[str | None, str]) -> tuple[str, str, str] | None:
        qualifier, column = ref
        if qualifier is not None:
            rel = scope.relations.get(qualifier)
            if rel is None:
                return None
            schema = rel[0] or self._schema_for(rel[1])
            return schema, rel[1], column
        owners = {(s or self._schema_for(t), t) for s, t in scope.relations.values()}
        if len(owners) == 1:
            schema, table = next(iter(owners))
            known = self.columns_of.get((schema, table))
            return (schema, table, column) if known is None or column in known else None
        having = [o for o in owners if column in self.columns_of.get(o, set())]
        if len(having) == 1:
            return having[0][0], having[0][1], column
        return None

    def _use(self, schema: str, table: str) -> TableUse:
        return self.uses.setdefault((schema, table), TableUse(schema, table))

    def _predicate(self, scope: _Scope, expr) -> None:
        if isinstance(expr, ast.NullTest) or not isinstance(expr, ast.A_Expr):
            return
        kind = expr.kind
        op = _op_name(expr)
        left, right = _column(expr.lexpr), _column(expr.rexpr) if isinstance(expr.rexpr, ast.Node) else None
        if kind == enums.A_Expr_Kind.AEXPR_OP and op in _EQ_OPS and left and right:
            for ref in (left, right):  # a join key: either side may be the inner one
                hit = self._resolve(scope, ref)
                if hit:
                    use = self._use(hit[0], hit[1])
                    use._add(use.equality, hit[2])
                    use._add(use.joins, hit[2])
            return
        # column op value, or value op column (then mirror the operator)
        if left is None and right is not None and kind == enums.A_Expr_Kind.AEXPR_OP:
            left, other = right, expr.lexpr
            op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op or "", op)
        else:
            other = expr.rexpr
        if left is None:
            return
        if isinstance(other, ast.Node) and _refers_to_columns(other):
            return
        if isinstance(other, tuple) and any(isinstance(v, ast.Node) and _refers_to_columns(v) for v in other):
            return
        hit = self._resolve(scope, left)
        if not hit:
            return
        use = self._use(hit[0], hit[1])
        if (kind == enums.A_Expr_Kind.AEXPR_OP and op in _EQ_OPS) or kind == enums.A_Expr_Kind.AEXPR_IN and op == "=" \
                or kind == enums.A_Expr_Kind.AEXPR_OP_ANY and op == "=":
            use._add(use.equality, hit[2])
        elif (kind == enums.A_Expr_Kind.AEXPR_OP and op in _RANGE_OPS) or kind in (
                enums.A_Expr_Kind.AEXPR_BETWEEN, enums.A_Expr_Kind.AEXPR_BETWEEN_SYM):
            use._add(use.ranges, hit[2])

    def _sort_columns(self, scope: _Scope, items) -> None:
        resolved = []
        for item in items or ():
            node = item.node if isinstance(item, ast.SortBy) else item
            ref = _column(node)
            hit = self._resolve(scope, ref) if ref else None
            if hit is None:
                return  # an expression or another table: the sort cannot come from one index
            resolved.append(hit)
        if not resolved or len({(s, t) for s, t, _ in resolved}) != 1:
            return
        use = self._use(resolved[0][0], resolved[0][1])
        for _s, _t, column in resolved:
            use._add(use.sorts, column)

    def select(self, stmt: ast.SelectStmt) -> None:
        if stmt.op != enums.SetOperation.SETOP_NONE:
            for branch in (stmt.larg, stmt.rarg):
                if branch is not None:
                    self.select(branch)
            return
        for cte in (stmt.withClause.ctes if stmt.withClause else ()) or ():
            self.statement(cte.ctequery)
        scope = _Scope({})
        for item in stmt.fromClause or ():
            for rv in _range_vars(item):
                self._register(scope, rv)
            self._subqueries(item)
        for qual in [q for item in stmt.fromClause or () for q in _join_quals(item)]:
            for expr in _conjuncts(qual):
                self._predicate(scope, expr)
        for expr in _conjuncts(stmt.whereClause):
            self._predicate(scope, expr)
            self._sublinks(expr)
        self._sort_columns(scope, stmt.sortClause)
        self._sort_columns(scope, stmt.groupClause)

    def _register(self, scope: _Scope, rv: ast.RangeVar) -> None:
        table = self._table(rv)
        scope.relations[rv.alias.aliasname if rv.alias else rv.relname] = (rv.schemaname, rv.relname)
        self._use(*table)

    def _subqueries(self, node) -> None:
        if isinstance(node, ast.RangeSubselect) and isinstance(node.subquery, ast.SelectStmt):
            self.select(node.subquery)
        elif isinstance(node, ast.JoinExpr):
            self._subqueries(node.larg)
            self._subqueries(node.rarg)

    def _sublinks(self, expr) -> None:
        if isinstance(expr, ast.SubLink) and isinstance(expr.subselect, ast.SelectStmt):
            self.select(expr.subselect)

    def statement(self, stmt) -> None:
        if isinstance(stmt, ast.SelectStmt):
            self.select(stmt)
        elif isinstance(stmt, (ast.UpdateStmt, ast.DeleteStmt)):
            scope = _Scope({})
            self._register(scope, stmt.relation)
            for item in (stmt.fromClause if isinstance(stmt, ast.UpdateStmt) else stmt.usingClause) or ():
                for rv in _range_vars(item):
                    self._register(scope, rv)
            for expr in _conjuncts(stmt.whereClause):
                self._predicate(scope, expr)
        elif isinstance(stmt, ast.InsertStmt) and isinstance(stmt.selectStmt, ast.SelectStmt):
            self.select(stmt.selectStmt)


def table_uses(statement: str, columns_of: dict[tuple[str, str], set[str]],
               default_schema: str = "public") -> list[TableUse]:
    """What `statement` (one parseable statement) asks of each table it reads."""
    try:
        raws = pglast.parse_sql(statement)
    except (pglast.parser.ParseError, RecursionError):
        return []
    if len(raws) != 1:
        return []
    collector = _Collector(columns_of, default_schema)
    collector.statement(raws[0].stmt)
    return [u for u in collector.uses.values() if u.equality or u.ranges or u.sorts]


def candidates_for(use: TableUse, order_equality=None) -> list[Candidate]:
    """Single-column candidates for every column asked about, then multi-column ones: the
    equality columns (ordered by `order_equality`, e.g. most distinct first), then one range
    column or the sort columns; at most MAX_COLUMNS columns."""
    eq = list(use.equality)
    if order_equality is not None:
        eq = order_equality(eq)
    out: list[tuple[str, ...]] = []

    def add(cols: Iterable[str]) -> None:
        cols = tuple(dict.fromkeys(cols))[:MAX_COLUMNS]
        if cols and cols not in out:
            out.append(cols)

    for column in [*eq, *use.ranges, *use.sorts[:1]]:
        add([column])
    if len(eq) > 1:
        add(eq)
    for r in use.ranges[:1]:
        add([*eq[: MAX_COLUMNS - 1], r])
    if use.sorts and not (set(use.sorts) & set(eq)):
        add([*eq[: MAX_COLUMNS - len(use.sorts[:MAX_COLUMNS - 1])], *use.sorts])
    return [Candidate(use.schema, use.table, cols) for cols in out]


def served_by(candidate: Candidate, existing: Iterable[tuple[str, ...]], equality: Iterable[str] = ()) -> bool:
    """An existing valid plain btree whose leading columns are the candidate's (in any order when
    they are all equality columns) already serves it."""
    cols = candidate.columns
    eq = set(equality)
    for index_columns in existing:
        lead = tuple(index_columns[: len(cols)])
        if lead == cols or (set(cols) <= eq and set(lead) == set(cols)):
            return True
    return False
