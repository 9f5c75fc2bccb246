"""Realistic traffic against the demo database, so the monitor has something to watch.

Why it exists: pg_stat_statements, pg_stat_user_tables/indexes and the app-log tables only say
something interesting when an application is using the database. `Workload` plays that
application: a shop API (fast index lookups, a slow report with a real >1 s runtime, a query on an
unindexed foreign key, sequential scans of a table without a primary key), semantic search through
pgvector (ORDER BY embedding <=> $1 LIMIT 5 uses the HNSW index; ORDER BY 1 - (embedding <=> $1)
DESC does not), GoTrue sign-ins and token refreshes, storage uploads, embedding calls that sometimes
fail, error reports, and the app's own log rows (with literals inlined, as an ORM logs them, and an
occasional malformed row).

It never filters by app.orders.note, so app.orders_note_idx stays unused (a deliberate defect).
Writes use an owner/superuser DSN, like an application's service role; monitoring uses its own
read-only role. Deterministic choices for a fixed seed; bounded by iterations or seconds;
stoppable from another thread with `stop()`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

log = logging.getLogger(__name__)

APPLICATION_NAME = "shop-api"
EMBEDDING_DIM = 384
EMBEDDING_MODELS = ("text-embedding-3-small", "gte-small")
EMBEDDING_ERRORS = ("rate_limit_exceeded: 429 Too Many Requests", "timeout after 30000 ms")
INSTANCE_ID = "00000000-0000-0000-0000-000000000000"
BUCKETS = (("avatars", ".png", "image/png", 250_000), ("documents", ".pdf", "application/pdf", 4_000_000))

# Statements the "application" sends. Parameters go to the server (psycopg binds them), so
# pg_stat_statements sees one entry per statement shape.
Q_CUSTOMER_BY_ID = "select id, email, country from app.customers where id = %s"
Q_ORDERS_OF_CUSTOMER = (
    "select id, status, total_cents from app.orders where customer_id = %s order by created_at desc limit 20"
)
Q_PRODUCT_BY_SKU = "select id, name, price_cents from app.products where sku = %s"
Q_ORDER_ITEMS = (
    "select oi.line_no, p.name, oi.quantity from app.order_items oi "
    "join app.products p on p.id = oi.product_id where oi.order_id = %s order by oi.line_no"
)
Q_PAGE_VIEW_INSERT = "insert into app.page_views (customer_id, path) values (%s, %s)"
Q_PAGE_VIEW_COUNT = "select count(*) from app.page_views where customer_id = %s"  # seq scan: no PK/index
Q_PRODUCT_SALES = (  # filters the unindexed FK order_items.product_id
    "select p.name, sum(oi.quantity) from app.order_items oi join app.products p on p.id = oi.product_id "
    "where oi.product_id = %s group by p.name"
)
Q_ORDER_STATUS = "update app.orders set status = %s where id = %s"
Q_NEW_ORDER = (
    "insert into app.orders (customer_id, status, total_cents) values (%s, 'pending', 0) returning id"
)
Q_NEW_ORDER_ITEM = (
    "insert into app.order_items (order_id, line_no, product_id, quantity) values (%s, %s, %s, %s)"
)
Q_ORDER_TOTAL = (
    "update app.orders o set total_cents = (select coalesce(sum(oi.quantity * p.price_cents), 0) "
    "from app.order_items oi join app.products p on p.id = oi.product_id where oi.order_id = o.id) "
    "where o.id = %s"
)
Q_SLOW_REPORT = (  # a dashboard report that really takes > 1 s (pg_sleep inside the statement)
    "select c.country, count(*) as orders, sum(o.total_cents) as revenue "
    "from app.orders o join app.customers c on c.id = o.customer_id cross join (select pg_sleep(%s)) as slow "
    "where o.created_at > now() - %s::interval group by c.country order by revenue desc"
)
Q_VECTOR_INDEXED = (
    "select id, title from public.documents order by embedding <=> %s::extensions.vector limit 5"
)
Q_VECTOR_UNINDEXED = (
    "select id, title, 1 - (embedding <=> %s::extensions.vector) as similarity from public.documents "
    "order by 1 - (embedding <=> %s::extensions.vector) desc limit 5"
)
Q_FAQ_INDEXED = "select id, content from public.faq_chunks order by embedding <-> %s::extensions.vector limit 5"
Q_DOCUMENT_INSERT = (
    "insert into public.documents (title, body, embedding) values (%s, %s, %s::extensions.vector) returning id"
)
Q_SIGN_IN = "update auth.users set last_sign_in_at = now(), updated_at = now() where id = %s"
Q_SESSION_INSERT = (
    "insert into auth.sessions (id, user_id, created_at, updated_at, aal, refreshed_at, user_agent, ip) "
    "values (%s, %s, now(), now(), 'aal1', now()::timestamp, %s, %s::inet)"
)
Q_SESSION_REFRESH = "update auth.sessions set refreshed_at = now()::timestamp, updated_at = now() where id = %s"
Q_AUDIT = (
    "insert into auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) "
    "values (%s, %s, %s::json, now(), %s)"
)
Q_UPLOAD = (
    "insert into storage.objects (bucket_id, name, owner, owner_id, metadata, version) "
    "values (%s, %s, %s, %s, %s::jsonb, %s)"
)
Q_APP_LOG = (
    "insert into public.query_performance_logs "
    "(query_hash, query_text, execution_time_ms, rows_returned, rows_examined, index_usage, user_id, created_at) "
    "values (%s, %s, %s, %s, %s, %s::jsonb, %s, %s)"
)
Q_VECTOR_LOG = (
    "insert into public.vector_query_logs (query_type, table_name, similarity_threshold, vector_dimension, "
    "query_time_ms, result_count, index_used) values (%s, %s, %s, %s, %s, %s, %s)"
)
Q_EMBEDDING_LOG = (
    "insert into public.embedding_generation_logs (model, token_count, generation_time_ms, error) "
    "values (%s, %s, %s, %s)"
)
Q_ERROR_EVENT = (
    "insert into public.error_events (name, message, stack, severity, context, user_agent, url) "
    "values (%s, %s, %s, %s, %s::jsonb, %s, %s)"
)


def query_hash(text: str) -> str:
    """The application's log hash: sha256 of the whitespace-normalised text (differs per literal)."""
    return hashlib.sha256(re.sub(r"\s+", " ", text).encode()).hexdigest()


@dataclass
class WorkloadStats:
    """What one run did, by kind of traffic (what tests and the demo's progress lines read)."""

    iterations: int = 0
    counts: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def __getitem__(self, key: str) -> int:
        return self.counts[key]


class Workload:
    """One simulated application client. `run(iterations=N)` or `run_for(seconds)`; `stop()` from
    any thread ends the loop after the statement in flight (at most ~slow_seconds later)."""

    def __init__(
        self,
        dsn: str,
        *,
        seed: int = 1,
        slow_every: int = 8,
        slow_seconds: float = 1.2,
        malformed_every: int = 15,
        pause_s: float = 0.0,
        stop_event: threading.Event | None = None,
    ) -> None:
        if slow_every < 1 or malformed_every < 1:
            raise ValueError("slow_every and malformed_every must be >= 1")
        self.dsn = dsn
        self.seed = seed
        self.rng = random.Random(seed)
        self.slow_every = slow_every
        self.slow_seconds = slow_seconds
        self.malformed_every = malformed_every
        self.pause_s = pause_s
        self.stop_event = stop_event or threading.Event()
        self.stats = WorkloadStats()
        self._iteration = 0
        self._ctx: dict = {}

    # -- control --------------------------------------------------------------------------------
    def stop(self) -> None:
        self.stop_event.set()

    @property
    def stopped(self) -> bool:
        return self.stop_event.is_set()

    def run(self, iterations: int) -> WorkloadStats:
        """Exactly `iterations` iterations (fewer if stopped)."""
        return self._loop(max_iterations=iterations, deadline=None)

    def run_for(self, seconds: float | None) -> WorkloadStats:
        """Until `seconds` have passed (None: until `stop()`); reconnects if the server restarts."""
        deadline = None if seconds is None else time.monotonic() + seconds
        return self._loop(max_iterations=None, deadline=deadline)

    def _loop(self, max_iterations: int | None, deadline: float | None) -> WorkloadStats:
        done = 0
        backoff = 0.5
        while not self.stopped:
            if max_iterations is not None and done >= max_iterations:
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            try:
                with self._connect() as conn:
                    self._load_context(conn)
                    backoff = 0.5
                    while not self.stopped:
                        if max_iterations is not None and done >= max_iterations:
                            break
                        if deadline is not None and time.monotonic() >= deadline:
                            break
                        self.iteration(conn)
                        done += 1
                        if self.pause_s:
                            self.stop_event.wait(self.pause_s)
            except psycopg.OperationalError as exc:
                if self.stopped:
                    break
                if max_iterations is not None:
                    raise
                log.warning("workload: connection lost (%s); reconnecting in %.1fs", exc, backoff)
                self.stats.errors.append(str(exc))
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        return self.stats

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(
            self.dsn,
            autocommit=True,
            application_name=APPLICATION_NAME,
            options="-c search_path=public,extensions",
        )

    def _load_context(self, conn: psycopg.Connection) -> None:
        """Ids the application 'knows': it never guesses ids that do not exist."""
        def one(query: str) -> int:
            return conn.execute(query).fetchone()[0] or 0

        users = conn.execute(
            "select id, email from auth.users where not is_anonymous and email is not null order by id limit 500"
        ).fetchall()
        sessions = conn.execute("select id from auth.sessions order by id limit 500").fetchall()
        has_vectors = conn.execute("select to_regclass('public.documents') is not null").fetchone()[0]
        self._ctx = {
            "customers": one("select max(id) from app.customers"),
            "products": one("select max(id) from app.products"),
            "orders": one("select max(id) from app.orders"),
            "users": users,
            "sessions": [r[0] for r in sessions],
            "vectors": bool(has_vectors),
        }
        if not self._ctx["customers"] or not self._ctx["products"] or not users:
            raise RuntimeError("the demo database is not seeded (no customers, products or users)")

    # -- one iteration ---------------------------------------------------------------------------
    def iteration(self, conn: psycopg.Connection) -> None:
        """One slice of traffic; a failing statement is counted and the next one runs."""
        i = self._iteration
        self._iteration += 1
        steps = [self._shop_browse, self._auth]
        if i % 2 == 0:
            steps.append(self._upload)
        if i % 3 == 0:
            steps.append(self._checkout)
        if i % self.slow_every == 0:
            steps.append(self._slow_report)
        if self._ctx.get("vectors"):
            steps += [self._vector_search, self._embedding_call]
        if self.rng.random() < 0.15:
            steps.append(self._error_event)
        if i % self.malformed_every == 1:
            steps.append(self._malformed_log)
        for step in steps:
            if self.stopped:
                break
            try:
                step(conn)
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                self.stats.counts["statement_errors"] += 1
                self.stats.errors.append(f"{step.__name__}: {exc}")
                log.debug("workload statement failed: %s", exc)
        self.stats.iterations += 1

    # -- helpers ---------------------------------------------------------------------------------
    def _timed(self, conn, query: str, params=()) -> tuple[list, float]:
        t0 = time.perf_counter()
        cur = conn.execute(query, params)
        rows = cur.fetchall() if cur.description else []
        return rows, (time.perf_counter() - t0) * 1000.0

    def _app_log(self, conn, text: str, ms: float, rows: int, index_usage: dict, *, malformed: bool = False) -> None:
        """The app's own query log, as a typical application slow-query logger writes it (`malformed`:
        a buggy writer that forgot created_at)."""
        created_at = None if malformed else datetime.now(UTC)
        user_id = self.rng.choice(self._ctx["users"])[0]
        conn.execute(
            Q_APP_LOG,
            (query_hash(text), text, round(ms, 3), rows, rows * self.rng.randint(1, 50),
             json.dumps(index_usage), user_id, created_at),
        )
        self.stats.counts["app_log_rows"] += 1

    def _vector(self) -> str:
        return "[" + ",".join(f"{self.rng.random() - 0.5:.4f}" for _ in range(EMBEDDING_DIM)) + "]"

    def _uuid(self) -> uuid.UUID:
        # Ids are truly random, not from the seeded generator: a restarted demo replays the same
        # choices against the same database and must not collide with the rows it wrote before.
        return uuid.uuid4()

    # -- traffic kinds ---------------------------------------------------------------------------
    def _shop_browse(self, conn) -> None:
        rng, ctx = self.rng, self._ctx
        customer = rng.randint(1, ctx["customers"])
        rows, ms = self._timed(conn, Q_CUSTOMER_BY_ID, (customer,))
        if rng.random() < 0.3 and rows:
            text = f"SELECT id, email, country FROM app.customers WHERE email = '{rows[0][1]}'"
            self._app_log(conn, text, ms, len(rows), {"indexes": [], "seq_scan": True})
        rows, ms = self._timed(conn, Q_ORDERS_OF_CUSTOMER, (customer,))
        if rng.random() < 0.3:
            text = (f"SELECT id, status, total_cents FROM app.orders WHERE customer_id = {customer} "
                    "ORDER BY created_at DESC LIMIT 20")
            self._app_log(conn, text, ms, len(rows), {"indexes": ["orders_customer_created_idx"]})
        sku = f"SKU-{rng.randint(1, ctx['products']):06d}"
        self._timed(conn, Q_PRODUCT_BY_SKU, (sku,))
        self._timed(conn, Q_ORDER_ITEMS, (rng.randint(1, ctx["orders"]),))
        path = rng.choice(["/", "/products", "/cart", "/search", "/account"])
        conn.execute(Q_PAGE_VIEW_INSERT, (customer, path))
        rows, ms = self._timed(conn, Q_PAGE_VIEW_COUNT, (customer,))
        if rng.random() < 0.5:
            text = f"SELECT count(*) FROM app.page_views WHERE customer_id = {customer}"
            self._app_log(conn, text, ms, 1, {"indexes": [], "seq_scan": True})
        product = rng.randint(1, ctx["products"])
        rows, ms = self._timed(conn, Q_PRODUCT_SALES, (product,))
        if rng.random() < 0.5:
            text = ("SELECT p.name, sum(oi.quantity) FROM app.order_items oi JOIN app.products p "
                    f"ON p.id = oi.product_id WHERE oi.product_id = {product} GROUP BY p.name")
            self._app_log(conn, text, ms, len(rows), {"indexes": ["products_pkey"], "seq_scan": True})
        self.stats.counts["fast_queries"] += 7

    def _checkout(self, conn) -> None:
        rng, ctx = self.rng, self._ctx
        with conn.transaction():
            order_id = conn.execute(Q_NEW_ORDER, (rng.randint(1, ctx["customers"]),)).fetchone()[0]
            for line in range(1, rng.randint(1, 4) + 1):
                conn.execute(Q_NEW_ORDER_ITEM, (order_id, line, rng.randint(1, ctx["products"]), rng.randint(1, 3)))
            conn.execute(Q_ORDER_TOTAL, (order_id,))
        ctx["orders"] = max(ctx["orders"], order_id)
        status = rng.choice(["paid", "shipped", "delivered"])
        target = rng.randint(1, ctx["orders"])
        _rows, ms = self._timed(conn, Q_ORDER_STATUS, (status, target))
        self._app_log(conn, f"UPDATE app.orders SET status = '{status}' WHERE id = {target}", ms, 1,
                      {"indexes": ["orders_pkey"]})
        self.stats.counts["orders_created"] += 1

    def _slow_report(self, conn) -> None:
        days = self.rng.choice([7, 30, 90])
        rows, ms = self._timed(conn, Q_SLOW_REPORT, (self.slow_seconds, f"{days} days"))
        text = ("SELECT c.country, count(*), sum(o.total_cents) FROM app.orders o JOIN app.customers c "
                f"ON c.id = o.customer_id WHERE o.created_at > now() - interval '{days} days' GROUP BY c.country")
        self._app_log(conn, text, ms, len(rows), {"indexes": [], "seq_scan": True})
        self.stats.counts["slow_queries"] += 1

    def _vector_search(self, conn) -> None:
        rng = self.rng
        vec = self._vector()
        rows, ms = self._timed(conn, Q_VECTOR_INDEXED, (vec,))
        conn.execute(Q_VECTOR_LOG, ("similarity_search", "documents", 0.78, EMBEDDING_DIM, round(ms, 3), len(rows), True))
        self.stats.counts["vector_indexed"] += 1
        if rng.random() < 0.5:
            rows, ms = self._timed(conn, Q_VECTOR_UNINDEXED, (vec, vec))
            conn.execute(Q_VECTOR_LOG, ("hybrid_search", "documents", 0.78, EMBEDDING_DIM, round(ms, 3), len(rows), False))
            self.stats.counts["vector_unindexed"] += 1
        if rng.random() < 0.3:
            rows, ms = self._timed(conn, Q_FAQ_INDEXED, (vec,))
            conn.execute(Q_VECTOR_LOG, ("faq_lookup", "faq_chunks", 0.7, EMBEDDING_DIM, round(ms, 3), len(rows), True))
            self.stats.counts["vector_indexed"] += 1

    def _embedding_call(self, conn) -> None:
        """Embed a new document through a (simulated) model API; about 1 call in 12 fails."""
        rng = self.rng
        model = rng.choice(EMBEDDING_MODELS)
        tokens = rng.randint(20, 600)
        gen_ms = round(tokens * rng.uniform(0.2, 0.8), 3)
        error = rng.choice(EMBEDDING_ERRORS) if rng.random() < 0.08 else None
        if error is None:
            title = f"User upload {self._uuid().hex[:8]}"
            conn.execute(Q_DOCUMENT_INSERT, (title, "uploaded text " * rng.randint(1, 20), self._vector()))
        conn.execute(Q_EMBEDDING_LOG, (model, tokens, gen_ms, error))
        self.stats.counts["embedding_calls"] += 1
        if error:
            self.stats.counts["embedding_errors"] += 1

    def _auth(self, conn) -> None:
        """A GoTrue sign-in (login audit row, new session) or a token refresh (token_refreshed)."""
        rng, ctx = self.rng, self._ctx
        user_id, email = rng.choice(ctx["users"])
        ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        if rng.random() < 0.4 or not ctx["sessions"]:
            session_id = self._uuid()
            with conn.transaction():
                conn.execute(Q_SIGN_IN, (user_id,))
                conn.execute(Q_SESSION_INSERT, (session_id, user_id, "supabase-js/2.45.0", ip))
                payload = {"action": "login", "actor_id": str(user_id), "actor_username": email,
                           "actor_via_sso": False, "log_type": "account", "traits": {"provider": "email"}}
                conn.execute(Q_AUDIT, (INSTANCE_ID, self._uuid(), json.dumps(payload), ip))
            ctx["sessions"].append(session_id)
            self.stats.counts["logins"] += 1
        else:
            session_id = rng.choice(ctx["sessions"])
            with conn.transaction():
                conn.execute(Q_SESSION_REFRESH, (session_id,))
                payload = {"action": "token_refreshed", "actor_id": str(user_id), "actor_username": email,
                           "actor_via_sso": False, "log_type": "token"}
                conn.execute(Q_AUDIT, (INSTANCE_ID, self._uuid(), json.dumps(payload), ip))
            self.stats.counts["token_refreshes"] += 1

    def _upload(self, conn) -> None:
        """storage-api's row for an uploaded file; metadata->size is what storage billing sums."""
        rng = self.rng
        user_id, _ = rng.choice(self._ctx["users"])
        bucket, ext, mime, typical = rng.choice(BUCKETS)
        size = max(1, int(typical * rng.lognormvariate(0, 1)))
        meta = {"eTag": f'"{self._uuid().hex}"', "size": size, "mimetype": mime, "cacheControl": "max-age=3600",
                "contentLength": size, "httpStatusCode": 200}
        name = f"user-{user_id}/{bucket}-{self._uuid().hex[:12]}{ext}"
        conn.execute(Q_UPLOAD, (bucket, name, user_id, str(user_id), json.dumps(meta), str(self._uuid())))
        self.stats.counts["uploads"] += 1

    def _error_event(self, conn) -> None:
        rng = self.rng
        name, message = rng.choice([
            ("TypeError", "Cannot read properties of undefined (reading 'id')"),
            ("PostgrestError", "canceling statement due to statement timeout"),
            ("FetchError", "fetch failed: ECONNRESET"),
        ])
        route = rng.choice(["checkout", "search", "orders"])
        conn.execute(Q_ERROR_EVENT, (
            name, message, f"{name}: {message}\n    at handler (/app/api/{route}.ts:42:13)",
            rng.choice(["error", "error", "warning", "fatal"]),
            json.dumps({"route": f"/api/{route}", "request_id": self._uuid().hex}),
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", f"https://shop.example.com/{route}",
        ))
        self.stats.counts["error_events"] += 1

    def _malformed_log(self, conn) -> None:
        """A buggy log writer: a row without created_at, or with a negative duration."""
        customer = self.rng.randint(1, self._ctx["customers"])
        text = f"SELECT * FROM app.customers WHERE id = {customer}"
        if (self._iteration // self.malformed_every) % 2 == 0:
            self._app_log(conn, text, 3.1, 1, {"indexes": ["customers_pkey"]}, malformed=True)
        else:
            self._app_log(conn, text, -4.2, 1, {"indexes": ["customers_pkey"]})
        self.stats.counts["malformed_log_rows"] += 1
