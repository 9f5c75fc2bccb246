"""Index advice for a workload: candidates per fingerprint, verified by the planner, merged per index.

1. Each fingerprint's text goes through `explain.explainable_statement` (one statement, re-deparsed
   by pglast) before anything else; the rest are skipped and counted.
2. Candidates come from its parse tree (`candidates`); what an existing valid btree serves by
   prefix, tables below `min_rows` and managed or system schemas are dropped.
3. With hypopg (`verified`): the generic plan before, then with each candidate as a hypothetical
   index; a candidate counts for the fingerprint when the plan uses it and its cost drops by at
   least `min_cost_reduction` (Dexter's 50 %). The best one per fingerprint wins. hypopg_reset()
   after every candidate and at the end, also on errors.
   Without hypopg (`unverified`): selectivity from pg_stats keeps it honest (a column the average
   value of which matches more than `max_selectivity` of the rows never gets an index).
4. Per index: the fingerprints it serves, ms/day saved (calls/day x mean ms x cost reduction), its
   size, the write overhead (index entries written per day x `write_ms_per_entry`) and the net
   benefit; only a positive net benefit is suggested, ranked by it.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from aimatrix_pipeline.extract import explain
from aimatrix_pipeline.extract.index_advice.candidates import Candidate, candidates_for, served_by, table_uses
from aimatrix_pipeline.sql_files import load_sql

MANAGED_SCHEMAS = frozenset({
    "auth", "storage", "extensions", "realtime", "_realtime", "supabase_functions", "supabase_migrations",
    "pgsodium", "pgsodium_masks", "vault", "graphql", "graphql_public", "net", "cron", "pgbouncer", "_analytics",
    "pg_catalog", "information_schema", "pg_toast", "pgmq", "topology", "tiger", "aimatrix_monitoring"})

VERIFIED, UNVERIFIED, UNAVAILABLE = "verified", "unverified", "unavailable"
ENABLE_VERIFICATION = ("create extension hypopg (Supabase: Database > Extensions > hypopg) so the planner "
                       "verifies each suggestion with a hypothetical index")
ENABLE_PRIVILEGE = ("re-run sql/demo/06_monitoring_role.sql with aimatrix.grant_explain = on (a SECURITY DEFINER "
                    "function that explains one parsed SELECT and reads column statistics; see docs/advisors.md)")


@dataclass
class AdviceSettings:
    top: int = 50
    min_rows: int = 10_000
    min_cost_reduction: float = 0.5
    max_selectivity: float = 0.05
    write_ms_per_entry: float = 0.01
    timeout_ms: int = 2000


@dataclass
class Statement:
    fingerprint: str
    source: str
    query_text: str
    calls: int
    mean_ms: float
    calls_per_day: float
    queryids: list[int] = field(default_factory=list)


@dataclass
class Served:
    fingerprint: str
    source: str
    query: str
    calls_per_day: float
    mean_ms: float
    cost_before: float | None
    cost_after: float | None
    reduction: float
    saving_ms_per_day: float


@dataclass
class Suggestion:
    candidate: Candidate
    verified: bool
    queries: list[Served] = field(default_factory=list)
    size_bytes: int | None = None
    writes_per_day: float | None = None
    write_overhead_ms_per_day: float = 0.0

    @property
    def saving_ms_per_day(self) -> float:
        return sum(q.saving_ms_per_day for q in self.queries)

    @property
    def net_benefit_ms_per_day(self) -> float:
        return self.saving_ms_per_day - self.write_overhead_ms_per_day

    @property
    def index_name(self) -> str:
        return index_name(self.candidate)

    def create_sql(self) -> str:
        return create_index_sql(self.candidate)


@dataclass
class AdviceRun:
    mode: str
    statements: int = 0
    explainable: int = 0
    skipped_unparseable: int = 0
    planned: int = 0
    not_permitted: int = 0
    failed: int = 0
    candidates: int = 0
    hypothetical_indexes: int = 0
    suggestions: list[Suggestion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    explain_seconds: float = 0.0


def _slug(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]", "_", text.lower())).strip("_") or "x"


def index_name(c: Candidate) -> str:
    """`<table>_<columns>_idx` in [a-z0-9_] (names read from the database are hostile: nothing of
    them but letters and digits reaches the name), cut with a hash so it fits 63 bytes."""
    base = f"{_slug(c.table)}_{'_'.join(_slug(x) for x in c.columns)}_idx"
    if len(base) <= 63:
        return base
    digest = hashlib.sha256(repr((c.schema, c.table, c.columns)).encode()).hexdigest()[:8]
    return f"{base[:50].rstrip('_')}_{digest}_idx"


# The characters analytics.unsafe_chars() (sql/warehouse/ddl/20_analytics.sql) never lets into SQL text.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def quote_ident(name: str) -> str:
    """Always quoted, like analytics.qi(): a name holding a control, bidi or invisible character
    becomes a Unicode-escaped identifier (U&"a\\000Ab" names a<newline>b), so no such character
    reaches the remediation SQL while the statement still names the same object."""
    if not _UNSAFE.search(name):
        return '"' + name.replace('"', '""') + '"'
    out = []
    for ch in name:
        if _UNSAFE.match(ch):
            out.append(f"\\{ord(ch):04X}" if ord(ch) <= 0xFFFF else f"\\+{ord(ch):06X}")
        elif ch == '"':
            out.append('""')
        elif ch == "\\":
            out.append("\\\\")
        else:
            out.append(ch)
    return 'U&"' + "".join(out) + '"'


def create_index_sql(c: Candidate) -> str:
    cols = ", ".join(quote_ident(x) for x in c.columns)
    return (f"CREATE INDEX CONCURRENTLY {quote_ident(index_name(c))} ON {quote_ident(c.schema)}."
            f"{quote_ident(c.table)} ({cols});")


# ---- catalog of the monitored database ---------------------------------------------------------

@dataclass
class Catalog:
    tables: dict[tuple[str, str], dict]
    indexes: dict[tuple[str, str], list[tuple[str, ...]]]
    stats: dict[tuple[str, str, str], dict]
    stats_source: str

    def columns_of(self) -> dict[tuple[str, str], set[str]]:
        return {k: set(v["columns"]) for k, v in self.tables.items()}


def _rows(conn: psycopg.Connection, query: str) -> list[dict]:
    with conn.transaction():
        cur = conn.execute(query)  # type: ignore[arg-type]
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def read_catalog(conn: psycopg.Connection) -> Catalog:
    tables = {(r["schemaname"], r["relname"]): r for r in _rows(conn, load_sql("source/index_advice/tables.sql"))}
    indexes: dict[tuple[str, str], list[tuple[str, ...]]] = {}
    for r in _rows(conn, load_sql("source/index_advice/indexes.sql")):
        if r["access_method"] == "btree" and r["usable"] and not r["partial"] and None not in r["columns"]:
            indexes.setdefault((r["schemaname"], r["relname"]), []).append(tuple(r["columns"]))
    stats_rows = _rows(conn, load_sql("source/index_advice/column_stats.sql"))
    source = "pg_stats"
    if not stats_rows and _has_definer(conn, "column_stats"):
        stats_rows, source = _rows(conn, load_sql("source/index_advice/column_stats_definer.sql")), "definer function"
    stats = {(r["schemaname"], r["relname"], r["attname"]): r for r in stats_rows}
    return Catalog(tables, indexes, stats, source if stats else "none")


def _has_definer(conn: psycopg.Connection, function: str) -> bool:
    with conn.transaction():
        row = conn.execute(
            "select bool_or(has_function_privilege(p.oid, 'execute')) from pg_proc p "
            "join pg_namespace n on n.oid = p.pronamespace where n.nspname = %s and p.proname = %s",
            (explain.DEFINER_SCHEMA, function)).fetchone()
    return bool(row and row[0])


def statement_texts(conn: psycopg.Connection, queryids: list[int]) -> dict[int, str]:
    """The full normalised texts of these queryids, from pg_stat_statements: the warehouse keeps a
    preview (whitespace collapsed, cut at 2,000 characters), which may not name the same objects."""
    if not queryids:
        return {}
    with conn.transaction():
        row = conn.execute("select n.nspname::text from pg_extension e join pg_namespace n on n.oid = e.extnamespace "
                           "where e.extname = 'pg_stat_statements'").fetchone()
    if not row:
        return {}
    query = load_sql("source/stats/pg_stat_statements_texts.sql").replace("{schema}", "{}")
    try:
        with conn.transaction():
            rows = conn.execute(sql.SQL(query).format(sql.Identifier(row[0])), {"queryids": queryids}).fetchall()
    except psycopg.errors.InsufficientPrivilege:
        return {}
    return {int(q): t for q, t in rows if isinstance(t, str)}


def hypopg_schema(conn: psycopg.Connection) -> str | None:
    with conn.transaction():
        row = conn.execute("select n.nspname::text from pg_extension e join pg_namespace n on n.oid = e.extnamespace "
                           "where e.extname = 'hypopg'").fetchone()
    return row[0] if row else None


def selectivity(catalog: Catalog, schema: str, table: str, column: str) -> float | None:
    """Share of the rows one equality value matches on average (the most common value's share when
    larger): what the planner would estimate for `column = $1`."""
    s = catalog.stats.get((schema, table, column))
    if not s or s.get("n_distinct") is None:
        return None
    rows = catalog.tables.get((schema, table), {}).get("reltuples") or 0
    nd = s["n_distinct"]
    distinct = nd if nd > 0 else -nd * rows
    if distinct <= 0:
        return None
    non_null = 1.0 - (s.get("null_frac") or 0.0)
    return min(1.0, max(non_null / distinct, s.get("max_mcv_freq") or 0.0))


def _estimated_size(catalog: Catalog, c: Candidate) -> int | None:
    rows = catalog.tables.get((c.schema, c.table), {}).get("reltuples") or 0
    widths = [(catalog.stats.get((c.schema, c.table, x)) or {}).get("avg_width") for x in c.columns]
    if any(w is None for w in widths):
        widths = [w or 8 for w in widths]
    tuple_bytes = 8 + sum(int(w) for w in widths)  # IndexTuple header + keys
    tuple_bytes = int(math.ceil(tuple_bytes / 8.0) * 8) + 4  # MAXALIGN + line pointer
    return int(rows * tuple_bytes / 0.9) + 8192  # leaf fillfactor 90 %, metapage


# ---- the run -----------------------------------------------------------------------------------

def _eligible(catalog: Catalog, c: Candidate, equality: list[str], settings: AdviceSettings) -> bool:
    if c.schema in MANAGED_SCHEMAS or c.schema.startswith("pg_"):
        return False
    table = catalog.tables.get((c.schema, c.table))
    if table is None or (table["reltuples"] or 0) < settings.min_rows:
        return False
    if any(x not in table["columns"] for x in c.columns):
        return False
    return not served_by(c, catalog.indexes.get((c.schema, c.table), []), equality)


def _statement_candidates(catalog: Catalog, text: str, settings: AdviceSettings) -> list[tuple[Candidate, list[str]]]:
    out = []

    for use in table_uses(text, catalog.columns_of()):
        def by_distinct(cols, use=use):
            return sorted(cols, key=lambda x: selectivity(catalog, use.schema, use.table, x) or 1.0)
        for c in candidates_for(use, by_distinct):
            if _eligible(catalog, c, use.equality, settings):
                out.append((c, list(use.equality)))
    return out


class _Hypo:
    """Hypothetical indexes of this session (hypopg), always reset."""

    def __init__(self, conn: psycopg.Connection, schema: str):
        self.conn, self.schema = conn, sql.Identifier(schema)

    def reset(self) -> None:
        with self.conn.transaction():
            self.conn.execute(sql.SQL("select {}.hypopg_reset()").format(self.schema))

    def create(self, c: Candidate) -> tuple[int, str, int | None]:
        ddl = (sql.SQL("CREATE INDEX ON {}.{} ({})").format(
            sql.Identifier(c.schema), sql.Identifier(c.table), sql.SQL(", ").join(map(sql.Identifier, c.columns)))
            .as_string(self.conn))
        with self.conn.transaction():
            oid, name = self.conn.execute(sql.SQL("select indexrelid, indexname from {}.hypopg_create_index(%s)")
                                          .format(self.schema), (ddl,)).fetchone()
            size = self.conn.execute(sql.SQL("select {}.hypopg_relation_size(%s)").format(self.schema),
                                     (oid,)).fetchone()[0]
        return int(oid), str(name), (int(size) if size is not None else None)


def _verify(conn: psycopg.Connection, hypo: _Hypo, st: Statement, text: str,
            cands: list[tuple[Candidate, list[str]]], run: AdviceRun, settings: AdviceSettings,
            sizes: dict[Candidate, int | None]) -> list[tuple[Candidate, float, float]]:
    """(candidate, cost before, cost after) for each candidate the planner uses with at least the
    required cost drop; empty when none qualifies.

    First one plan with every candidate present (as index_advisor does): the candidates that plan
    leaves unused are dropped without a plan of their own, so a statement no index helps costs two
    plans. The used ones are then planned one at a time, for the cost each achieves alone."""
    started = time.monotonic()
    try:
        before = explain.generic_plan(conn, text, timeout_ms=settings.timeout_ms)["Total Cost"]
        names: dict[str, Candidate] = {}
        try:
            for c, _eq in cands:
                _oid, name, size = hypo.create(c)
                run.hypothetical_indexes += 1
                sizes.setdefault(c, size)
                names[name] = c
            together = explain.generic_plan(conn, text, timeout_ms=settings.timeout_ms)
        finally:
            hypo.reset()
        used = [names[n] for n in explain.index_names(together) if n in names]
        if not used or together["Total Cost"] > before * (1 - settings.min_cost_reduction):
            return []
        good = []
        for c in sorted(used):
            try:
                _oid, name, _size = hypo.create(c)
                run.hypothetical_indexes += 1
                plan = explain.generic_plan(conn, text, timeout_ms=settings.timeout_ms)
            finally:
                hypo.reset()
            after = plan["Total Cost"]
            if name in explain.index_names(plan) and before > 0 and after <= before * (1 - settings.min_cost_reduction):
                good.append((c, before, after))
        return good
    finally:
        run.explain_seconds += time.monotonic() - started


def _with_best(conn: psycopg.Connection, hypo: _Hypo, text: str, best: Candidate, best_after: float,
               cands: list[tuple[Candidate, list[str]]], run: AdviceRun,
               settings: AdviceSettings) -> list[tuple[Candidate, float]]:
    """A second round for statements over several tables (a join needs an index on each side):
    with the winner present, each candidate of another table; kept when the planner uses it and
    the cost drops by the threshold again. (candidate, cost after both)."""
    others = [c for c, _eq in cands if (c.schema, c.table) != (best.schema, best.table)]
    out: list[tuple[Candidate, float]] = []
    started = time.monotonic()
    try:
        for c in others:
            if any((c.schema, c.table) == (o.schema, o.table) for o, _a in out):
                continue
            try:
                hypo.create(best)
                _oid, name, _size = hypo.create(c)
                run.hypothetical_indexes += 2
                plan = explain.generic_plan(conn, text, timeout_ms=settings.timeout_ms)
            finally:
                hypo.reset()
            if name in explain.index_names(plan) and plan["Total Cost"] <= best_after * (1 - settings.min_cost_reduction):
                out.append((c, plan["Total Cost"]))
        return out
    finally:
        run.explain_seconds += time.monotonic() - started


def _unverified(catalog: Catalog, cands: list[tuple[Candidate, list[str]]],
                settings: AdviceSettings) -> list[tuple[Candidate, float]]:
    """(candidate, estimated reduction) of the candidates whose equality columns are selective."""
    out = []
    for c, equality in cands:
        eq_cols = [x for x in c.columns if x in equality]
        if not eq_cols or c.columns[0] not in eq_cols:
            continue  # without a planner, only equality-led indexes are judged (ranges need the values)
        sels = [selectivity(catalog, c.schema, c.table, x) for x in eq_cols]
        if any(s is None for s in sels):
            continue
        if sels[0] > settings.max_selectivity:
            continue  # the leading column alone must narrow the scan
        combined = math.prod(sels)
        if combined > settings.max_selectivity:
            continue
        out.append((c, max(0.0, min(0.99, 1.0 - combined))))
    return out


def advise(conn: psycopg.Connection, workload: list[Statement], settings: AdviceSettings,
           write_rates: dict[tuple[str, str], float | None], on_progress=None) -> AdviceRun:
    """Suggestions for `workload` on the database behind `conn` (a read-only session)."""
    started = time.monotonic()
    catalog = read_catalog(conn)
    hypo_schema = hypopg_schema(conn)
    mode = VERIFIED if hypo_schema else UNVERIFIED
    run = AdviceRun(mode=mode, statements=len(workload))
    hypo = _Hypo(conn, hypo_schema) if hypo_schema else None
    texts = statement_texts(conn, [q for st in workload for q in st.queryids])
    chosen: dict[Candidate, Suggestion] = {}
    alternatives: dict[str, dict[Candidate, float]] = {}  # fingerprint -> candidate -> cost after
    sizes: dict[Candidate, int | None] = {}
    try:
        if hypo:
            hypo.reset()
        for i, st in enumerate(workload):
            full = next((texts[q] for q in st.queryids if q in texts), None)
            text = explain.explainable_statement(full) if full else None
            text = text or explain.explainable_statement(st.query_text)
            if text is None:
                run.skipped_unparseable += 1
                continue
            run.explainable += 1
            cands = _statement_candidates(catalog, text, settings)
            run.candidates += len(cands)
            if not cands:
                continue
            picks: list[tuple[Candidate, float | None, float | None, float]] = []
            if run.mode == VERIFIED and hypo:
                run.planned += 1
                try:
                    good = _verify(conn, hypo, st, text, cands, run, settings, sizes)
                except psycopg.errors.InsufficientPrivilege:
                    run.not_permitted += 1
                    continue
                except (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable, psycopg.DataError,
                        psycopg.errors.UndefinedParameter, psycopg.errors.IndeterminateDatatype,
                        psycopg.ProgrammingError) as exc:
                    run.failed += 1
                    run.notes.append(f"{st.fingerprint}: not planned ({type(exc).__name__})")
                    continue
                if good:
                    alternatives[st.fingerprint] = {c: after for c, _b, after in good}
                    best = min(good, key=lambda g: (g[2], len(g[0].columns)))
                    picks.append((best[0], best[1], best[2], 1.0 - best[2] / best[1]))
                    try:
                        for c, after_both in _with_best(conn, hypo, text, best[0], best[2], cands, run, settings):
                            picks.append((c, best[2], after_both, (best[2] - after_both) / best[1]))
                    except (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable) as exc:
                        run.notes.append(f"{st.fingerprint}: second round not planned ({type(exc).__name__})")
            else:
                per_table: dict[tuple[str, str], tuple[Candidate, float]] = {}
                for c, reduction in _unverified(catalog, cands, settings):
                    key = (c.schema, c.table)
                    if key not in per_table or reduction > per_table[key][1]:
                        per_table[key] = (c, reduction)
                picks.extend((c, None, None, r) for c, r in per_table.values())
            for c, before, after, reduction in picks:
                s = chosen.setdefault(c, Suggestion(c, verified=run.mode == VERIFIED))
                s.queries.append(Served(st.fingerprint, st.source, text, st.calls_per_day, st.mean_ms, before, after,
                                        reduction, st.calls_per_day * st.mean_ms * reduction))
            if on_progress:
                on_progress(i + 1, len(workload))
    finally:
        if hypo and not conn.closed:
            try:
                hypo.reset()
            except psycopg.Error:
                pass
    if run.mode == VERIFIED and run.planned and run.not_permitted == run.planned:
        run.notes.append("EXPLAIN is not permitted on the application's tables: " + ENABLE_PRIVILEGE)
        run.mode = UNAVAILABLE
    _fold_prefixes(chosen, alternatives)
    for s in chosen.values():
        s.size_bytes = sizes.get(s.candidate) if s.verified else None
        if s.size_bytes is None:
            s.size_bytes = _estimated_size(catalog, s.candidate)
        rate = write_rates.get((s.candidate.schema, s.candidate.table))
        s.writes_per_day = rate
        s.write_overhead_ms_per_day = (rate or 0.0) * settings.write_ms_per_entry
    run.suggestions = sorted((s for s in chosen.values() if s.net_benefit_ms_per_day > 0),
                             key=lambda s: (-s.net_benefit_ms_per_day, s.candidate))
    if run.mode == UNVERIFIED:
        if not catalog.stats:
            run.mode = UNAVAILABLE
            run.notes.append("no column statistics are readable (pg_stats shows only columns the role may "
                             "read): " + ENABLE_PRIVILEGE)
        run.notes.append("suggestions are unverified: " + ENABLE_VERIFICATION)
    run.seconds = time.monotonic() - started
    return run


def _fold_prefixes(chosen: dict[Candidate, Suggestion], alternatives: dict[str, dict[Candidate, float]]) -> None:
    """One index for the workload: a suggestion whose columns lead a longer one on the same table
    folds into it when the longer index served each of its queries as well (verified: within 10 %
    of the cost after), so (a) and (a, b) become one (a, b)."""
    for short in sorted(chosen, key=lambda c: len(c.columns)):
        longer = [c for c in chosen if c != short and (c.schema, c.table) == (short.schema, short.table)
                  and c.columns[: len(short.columns)] == short.columns]
        for target in sorted(longer, key=lambda c: -len(c.columns)):
            s = chosen[short]
            ok = all(
                (not s.verified) or (
                    target in alternatives.get(q.fingerprint, {})
                    and alternatives[q.fingerprint][target] <= (q.cost_after or 0) * 1.1)
                for q in s.queries)
            if ok:
                chosen[target].queries.extend(s.queries)
                del chosen[short]
                break
