"""Incremental, bulk extraction of the application's log tables into `raw.*`.

How it moves data, and why:

* **Bulk, streamed.** Rows leave Postgres through the ADBC driver (binary COPY into Arrow record
  batches) on a producer thread; a second thread masks the literals of query texts (polars'
  Rust regex engine) and DuckDB inserts on the caller's thread, batch by batch, through a bounded
  queue. All three run native code without the GIL, so decoding, masking and loading overlap on
  two cores, and memory stays bounded by `queue_batches x batch size` whatever the table size.
* **Incremental.** Only rows past the high-water mark are transferred (the seed's tables index
  `created_at`). Late commits, rows stamped inside the overlap window before the mark that
  committed after the last run, are found by comparing the window's ids (a few bytes a row) with
  what the warehouse holds, and only those rows are read. A loaded row is never read twice, so
  nothing doubles and a busy table costs no re-transfer.
* **Atomic.** All batches, the quarantine rows and the new high-water mark are written in one
  DuckDB transaction. If the source goes away mid-transfer, the transaction rolls back: the
  warehouse and the mark are as before, and the next run reads the same window again.
* **Nothing lost.** Rows that fail their checks (NULL timestamp, negative time, oversized or
  non-UTF-8 text) go to `raw.quarantine` with the reason and the full row. Rows with a NULL
  `created_at` can never pass a high-water mark, so each run also sweeps them (by index) into
  quarantine, replacing earlier quarantine rows for the same id.
"""

from __future__ import annotations

import queue
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from aimatrix_pipeline import querytext
from aimatrix_pipeline.extract.source_errors import explain
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import Project
from aimatrix_pipeline.sql_files import load_sql


@dataclass(frozen=True)
class LogTableSpec:
    name: str            # source table name and raw.<name>
    payload_column: str  # the free-text column kept as bytes in quarantine
    description: str
    shape_column: str | None = None  # query text masked into a shape (`_masked`) on the way in


LOG_TABLES: dict[str, LogTableSpec] = {
    s.name: s
    for s in (
        LogTableSpec(
            "query_performance_logs", "query_text",
            "The application's query log (the design document's query_performance_logs), loaded "
            "incrementally. Query text is not stored: text_hash joins raw.query_texts, which holds "
            "the libpg_query fingerprint and a literal-free preview.",
            shape_column="query_text",
        ),
        LogTableSpec(
            "vector_query_logs", "query_type",
            "The application's vector-search log: query type, dimension, similarity threshold, "
            "latency, result count and whether the ANN index was used.",
        ),
        LogTableSpec(
            "embedding_generation_logs", "error",
            "The application's embedding calls: model, tokens, latency and errors.",
        ),
        LogTableSpec(
            "error_events", "message",
            "The application's error events (name, message, stack, severity, context).",
        ),
    )
}


@dataclass
class LoadResult:
    table: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    new_texts: int = 0
    previous_high_water_mark: datetime | None = None
    high_water_mark: datetime | None = None
    batches: int = 0
    initial_load: bool = False


class _Done:
    pass


_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$")


def _used(query: str, params: dict) -> dict:
    """The named parameters `query` references (DuckDB rejects unused ones)."""
    return {k: v for k, v in params.items() if f"${k}" in query}


def _row_json(schema: pa.Schema, payload_column: str) -> str:
    parts = []
    for f in schema:
        if f.name == payload_column or f.name.startswith("_"):  # _masked: derived, not source data
            continue
        ref = f'b."{f.name}"'
        if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type):
            ref = f"try(decode({ref}))"
        parts.append(f"'{f.name}', {ref}")
    return f"json_object({', '.join(parts)})"


def _source_query(spec: LogTableSpec, schema_name: str, predicate: str) -> str:
    table = sql.Identifier(schema_name, spec.name).as_string(None)
    return load_sql(f"source/app_logs/{spec.name}.sql").format(table=table, filter=predicate)


def _state(conn, project: str, table: str) -> tuple[datetime | None, int]:
    row = conn.execute(
        "select high_water_mark, rows_loaded_total from raw.extract_state "
        "where project = ? and source_table = ?",
        [project, table],
    ).fetchall()
    row = row[0] if row else None
    return (row[0], row[1] or 0) if row else (None, 0)


def _stream(adbc_conn, query: str, out: queue.Queue, stop: threading.Event,
            transform: Callable[[pa.RecordBatch], pa.RecordBatch] | None) -> None:
    """Producer: run `query` and push Arrow batches (or the exception) into `out`.

    With a `transform`, each batch is handed to a second thread and `out` receives futures, in
    order: decoding the next batch, masking this one and inserting the previous one into DuckDB
    then overlap (all three release the GIL).
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract-transform") if transform else None
    try:
        cur = adbc_conn.cursor()
        try:
            cur.execute(query)
            reader = cur.fetch_record_batch()
            for batch in reader:
                item = pool.submit(transform, batch) if pool else batch
                while not stop.is_set():
                    try:
                        out.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        finally:
            try:
                cur.close()
            except Exception:  # noqa: BLE001 - cursor of a dead connection
                pass
        out.put(_Done())
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises
        out.put(exc)
    finally:
        if pool:  # queued futures still run unless the consumer has stopped listening
            pool.shutdown(wait=False, cancel_futures=stop.is_set())


def _masking(spec: LogTableSpec, max_text_bytes: int) -> Callable[[pa.RecordBatch], pa.RecordBatch] | None:
    """The batch transform of `spec`: appends `_masked`, the shape text of `spec.shape_column`,
    and `_first`, true on the first row of each distinct shape text in the batch."""
    if not spec.shape_column:
        return None

    def transform(batch: pa.RecordBatch) -> pa.RecordBatch:
        masked = querytext.mask_literals(batch.column(spec.shape_column), max_text_bytes)
        first = querytext.first_occurrences(masked)
        return pa.RecordBatch.from_arrays([*batch.columns, masked, first],
                                          names=[*batch.schema.names, "_masked", "_first"])

    return transform


class _BatchLoader:
    """Consumer side: checks, quarantines and inserts one Arrow batch inside the open transaction."""

    def __init__(self, conn, spec: LogTableSpec, project: str, extracted_at: datetime, max_text_bytes: int):
        self.conn = conn
        self.spec = spec
        self.project = project
        self.params = {"project": project, "extracted_at": extracted_at}
        self.max_text_bytes = max_text_bytes
        # The limit is an int from config, inlined because a view cannot hold parameters.
        self.reason_sql = load_sql(f"warehouse/raw/{spec.name}.reason.sql").replace(
            "$max_text_bytes", str(int(max_text_bytes))
        )
        self.insert_sql = load_sql(f"warehouse/raw/{spec.name}.insert.sql")
        self.texts_sql = load_sql(f"warehouse/raw/{spec.name}.texts.sql") if spec.shape_column else None
        self.max_created_at: datetime | None = None
        self._queued: set[str] = set()
        self._shapes: list[Future] = []
        self._shape_pool: ThreadPoolExecutor | None = None

    def load(self, batch: pa.Table, result: LoadResult) -> None:
        conn = self.conn
        # The batch reaches DuckDB through a replacement scan of this local name, not through
        # conn.register(): a registered Arrow table stays referenced until the transaction ends,
        # which would keep every batch of a run in memory. `_batch` must be a local of each
        # method that runs SQL over `_checked` (replacement scans look in the caller's frame).
        _batch = batch  # noqa: F841 - read by DuckDB
        try:
            # A view, not a copy: each statement below scans the Arrow batch in place. A clean
            # batch (the usual case) is scanned once for the insert and once for new shapes.
            conn.execute(
                f"create or replace temp view _checked as select *, ({self.reason_sql}) as _reason from _batch"
            ).fetchall()
            # DuckDB answers INSERT and DELETE with the number of rows they touched
            inserted = int(conn.execute(self.insert_sql, _used(self.insert_sql, self.params)).fetchall()[0][0])
            bad = batch.num_rows - inserted
            if bad:
                self._quarantine(batch)
                good_max = conn.execute("select max(created_at) from _checked where _reason is null").fetchall()[0][0]
            else:
                good_max = pc.max(batch.column("created_at")).as_py()
            if self.texts_sql:
                result.new_texts += self._fingerprint_new_texts(batch)
            result.rows_loaded += inserted
            result.rows_quarantined += bad
            result.rows_read += batch.num_rows
            result.batches += 1
            if good_max is not None and (self.max_created_at is None or good_max > self.max_created_at):
                self.max_created_at = good_max
        finally:
            try:
                conn.execute("drop view if exists _checked").fetchall()
            except Exception:  # noqa: BLE001 - aborted transaction: keep the original error
                pass

    def _quarantine(self, _batch: pa.Table) -> None:
        schema = _batch.schema
        params = {"project": self.project, "source_table": self.spec.name}
        self.conn.execute(load_sql("warehouse/raw/quarantine.delete.sql"), params).fetchall()
        insert_sql = load_sql("warehouse/raw/quarantine.insert.sql").format(
            row_json=_row_json(schema, self.spec.payload_column),
            payload_column=self.spec.payload_column,
        )
        self.conn.execute(insert_sql, {**params, "extracted_at": self.params["extracted_at"]}).fetchall()

    def _fingerprint_new_texts(self, _batch: pa.Table) -> int:
        """Queue this batch's unseen shapes for pglast on a background thread (libpg_query runs
        without the GIL), so parsing overlaps the transfer instead of stalling it; `finish`
        writes the results inside the same transaction."""
        rows = self.conn.execute(self.texts_sql, {"project": self.project}).fetchall()
        fresh = [(text_hash, text) for text_hash, text in rows if text_hash not in self._queued]
        if not fresh:
            return 0
        self._queued.update(text_hash for text_hash, _ in fresh)
        if self._shape_pool is None:
            self._shape_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract-shapes")
        self._shapes.append(self._shape_pool.submit(_analyse_shapes, fresh))
        return len(fresh)

    def finish(self) -> None:
        """Write the fingerprints of every shape queued by this run into raw.query_texts."""
        try:
            for future in self._shapes:
                _new_texts = future.result()  # noqa: F841 - read by DuckDB (replacement scan)
                self.conn.execute(
                    "insert into raw.query_texts select ?, text_hash, fingerprint, query_preview, parse_ok, ? "
                    "from _new_texts",
                    [self.project, self.params["extracted_at"]],
                ).fetchall()
        finally:
            self.close()

    def close(self) -> None:
        if self._shape_pool is not None:
            self._shape_pool.shutdown(wait=True, cancel_futures=True)
            self._shape_pool = None
        self._shapes = []


def _analyse_shapes(shapes: list[tuple[str, str]]) -> pa.Table:
    hashes, fps, previews, oks = [], [], [], []
    for text_hash, text in shapes:
        analysed = querytext.analyse(text)
        hashes.append(text_hash)
        fps.append(analysed.fingerprint)
        previews.append(analysed.preview)
        oks.append(analysed.parse_ok)
    return pa.table({"text_hash": hashes, "fingerprint": fps, "query_preview": previews, "parse_ok": oks})


def extract_app_log(
    table: str,
    source: SourcePostgresResource,
    warehouse: WarehouseResource,
    project: Project,
    *,
    overlap: timedelta = timedelta(minutes=10),
    max_text_bytes: int = 100_000,
    batch_rows: int = 60_000,  # measured: larger inserts leave DuckDB a longer commit
    queue_batches: int = 4,
    log_schema: str = "public",
    on_batch: Callable[[LoadResult], None] | None = None,
    duckdb_memory_limit: str = "384MB",
) -> LoadResult:
    """Load new rows of one log table for `project`; see the module docstring for guarantees."""
    spec = LOG_TABLES[table]
    extracted_at = datetime.now(timezone.utc)
    result = LoadResult(table)
    what = f"raw.{table}"

    if not _MEMORY.match(duckdb_memory_limit):
        raise ValueError(f"duckdb_memory_limit must look like '384MB' or '1GB', got {duckdb_memory_limit!r}")
    # The source connection (ADBC reads the type catalog on connect) opens while the warehouse does.
    connecting = _EnterInBackground(source.connect_adbc(project.db_url_env))
    try:
        with warehouse.transaction() as conn:
            # Bounded memory whatever the table size: DuckDB spills what the open transaction
            # appended instead of keeping it resident (the limit is a validated literal).
            conn.execute(f"set memory_limit = '{duckdb_memory_limit}'").fetchall()
            previous, total = _state(conn, project.name, table)
            result.previous_high_water_mark = previous
            result.initial_load = previous is None
            if previous is None:
                # Initial load = full reload of this project's rows: clear them first.
                conn.execute(f"delete from raw.{table} where project = ?", [project.name]).fetchall()

            loader = _BatchLoader(conn, spec, project.name, extracted_at, max_text_bytes)
            try:
                adbc_conn = connecting.get()
                # One read (PG combines the index scans): fewer round trips on small incremental runs.
                predicate = " or ".join(
                    f"({p})" for p in _predicates(adbc_conn, conn, spec, log_schema, project, previous, overlap, what))
                _run_query(adbc_conn, _source_query(spec, log_schema, predicate), loader, result, batch_rows,
                           queue_batches, on_batch, what, project, _masking(spec, max_text_bytes))
                loader.finish()
            finally:
                loader.close()
            _save_state(conn, project, table, previous, total, loader, result, extracted_at)
    finally:
        connecting.close()
    return result


def _save_state(conn, project: Project, table: str, previous: datetime | None, total: int,
                loader: _BatchLoader, result: LoadResult, extracted_at: datetime) -> None:
    new_mark = loader.max_created_at
    if previous is not None and (new_mark is None or new_mark < previous):
        new_mark = previous
    result.high_water_mark = new_mark
    conn.execute(
        "delete from raw.extract_state where project = ? and source_table = ?", [project.name, table]
    ).fetchall()
    conn.execute(
        "insert into raw.extract_state values (?, ?, ?, ?, ?)",
        [project.name, table, new_mark, total + result.rows_loaded, extracted_at],
    ).fetchall()


class _EnterInBackground:
    """Enters a context manager on a thread and hands over its value; `close` exits it."""

    def __init__(self, cm):
        self._cm, self._value, self._error = cm, None, None
        self._thread = threading.Thread(target=self._enter, daemon=True)
        self._thread.start()

    def _enter(self) -> None:
        try:
            self._value = self._cm.__enter__()
        except BaseException as exc:  # noqa: BLE001 - re-raised by get()
            self._error = exc

    def get(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value

    def close(self) -> None:
        self._thread.join()
        if self._error is None:
            self._cm.__exit__(None, None, None)


def _ts(value: datetime) -> str:
    """A timestamptz literal for a datetime this module computed (never text from a user)."""
    return f"{sql.Literal(value.isoformat()).as_string(None)}::timestamptz"


def _predicates(adbc_conn, conn, spec: LogTableSpec, log_schema: str, project: Project,
                previous: datetime | None, overlap: timedelta, what: str) -> list[str]:
    """The source reads of one run, as predicates on the log table.

    * First run: every row with a timestamp.
    * Later runs: rows past the high-water mark, plus the late commits: rows stamped inside the
      overlap window that the warehouse has neither loaded nor quarantined. The window is checked
      by id only (a few bytes a row), so a busy table costs no re-transfer of rows already loaded,
      and no loaded row is ever read twice.
    * Every run: rows with a NULL timestamp, which no mark can pass (quarantined, by index).
    """
    table = sql.Identifier(log_schema, spec.name).as_string(None)
    if previous is None:
        predicates = ["created_at is not null"]
    else:
        since = previous - overlap
        predicates = [f"created_at > {_ts(previous)}"]
        window_sql = load_sql("source/app_logs/window_ids.sql").format(
            table=table, since=_ts(since), until=_ts(previous))
        try:
            cur = adbc_conn.cursor()
            try:
                cur.execute(window_sql)
                _window = cur.fetch_arrow_table()  # noqa: F841 - read by DuckDB (replacement scan)
            finally:
                cur.close()
        except Exception as exc:  # noqa: BLE001 - the driver raises its own error hierarchy
            raise explain(exc, what, project.name) from None
        late = [row[0] for row in conn.execute(
            load_sql("warehouse/raw/late_ids.sql").format(table=spec.name),
            {"project": project.name, "source_table": spec.name, "since": since},
        ).fetchall()]
        if late:
            predicates.append(f"created_at >= {_ts(since)} and created_at <= {_ts(previous)} "
                              f"and id::text = any({sql.Literal(late).as_string(None)}::text[])")
    predicates.append("created_at is null")
    return predicates


def _run_query(adbc_conn, query, loader, result, batch_rows, queue_batches, on_batch, what, project, transform):
    out: queue.Queue = queue.Queue(maxsize=queue_batches)
    stop = threading.Event()
    producer = threading.Thread(target=_stream, args=(adbc_conn, query, out, stop, transform), daemon=True)
    producer.start()
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    try:
        while True:
            item = out.get()
            if isinstance(item, Future):
                item = item.exception() or item.result()
            if isinstance(item, BaseException):
                raise explain(item, what, project.name) from None
            done = isinstance(item, _Done)
            if not done:
                pending.append(item)
                pending_rows += item.num_rows
            if pending and (done or pending_rows >= batch_rows):
                loader.load(pa.Table.from_batches(pending), result)
                pending, pending_rows = [], 0
                if on_batch:
                    on_batch(result)
            if done:
                break
    finally:
        stop.set()
        producer.join(timeout=30)
