"""Incremental, bulk extraction of the application's log tables into `raw.*`.

How it moves data, and why:

* **Bulk, streamed.** Rows leave Postgres through the ADBC driver (binary COPY into Arrow record
  batches) on a producer thread; a second thread masks the literals of query texts (polars'
  Rust regex engine) and DuckDB inserts on the caller's thread, batch by batch, through a bounded
  queue. All three run native code without the GIL, so decoding, masking and loading overlap on
  two cores, and memory stays bounded by `queue_batches x batch size` whatever the table size.
* **Incremental.** Only rows past the high-water mark are transferred (the app's log tables index
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
* **The source's clock bounds the mark.** Each run reads the source's clock first and loads only
  rows stamped up to it, so the high-water mark never passes the source's "now": one row dated
  2999 cannot make every later row look old. Rows stamped more than the project's clock-skew
  tolerance (default 5 minutes) after it, and `-infinity`, are quarantined
  (`future_created_at`, `infinite_created_at`) on every run while they stay so; rows within the
  tolerance wait for the clock to pass them. Those rows travel as text, since the Arrow driver
  cannot represent `infinity` (it wraps to a date 290,000 years BC).
* **Optional, schema-tolerant sources.** Which log tables exist, and which of their columns, is
  discovered per run from the catalog: a project without a log table records "source absent"
  and succeeds; columns the design document's shapes lack (or a project dropped) arrive as NULL.
  Only `id` and `created_at` are required. Where each log lives is set per project
  (`app_logs:` in the projects file, settings.AppLogSettings).
"""

from __future__ import annotations

import queue
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from aimatrix_pipeline import querytext
from aimatrix_pipeline.extract.source_errors import explain
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import AppLogSettings, Project
from aimatrix_pipeline.shared.errors import SOURCE_ERRORS, redacted
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


REQUIRED_COLUMNS = ("id", "created_at")
SOURCE_PRESENT, SOURCE_ABSENT, SOURCE_DISABLED, SOURCE_UNUSABLE = "present", "absent", "disabled", "unusable"
FUTURE_REASONS = ("future_created_at", "infinite_created_at")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MIN_MARK = datetime(1, 1, 1, tzinfo=timezone.utc)


@dataclass
class LoadResult:
    table: str
    source: str = ""  # schema.table that was looked for
    source_status: str = SOURCE_PRESENT  # present | absent | disabled | unusable
    source_note: str = ""  # why a source is absent / unusable, for the UI
    columns_absent: tuple[str, ...] = ()  # optional columns this project's table lacks (loaded as NULL)
    source_clock: datetime | None = None
    rows_from_future: int = 0  # quarantined this run: stamped past the source's clock + tolerance
    rows_deferred: int = 0  # stamped ahead of the source's clock, within the tolerance: a later run loads them
    mark_repaired: bool = False  # a stored mark past the source's clock was discarded (full reload)
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
        ref = 'b."' + f.name.replace('"', '""') + '"'  # DuckDB SQL: no name may shape it
        if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type):
            ref = f"try(decode({ref}))"
        parts.append("'" + f.name.replace("'", "''") + f"', {ref}")
    return f"json_object({', '.join(parts)})"


class _Columns(dict):
    """`{cols[name]}` in the source SQL: the quoted column, or NULL where the table lacks it."""

    def __init__(self, present: set[str], created_at_as_text: bool = False):
        super().__init__()
        self.present = present
        self.created_at_as_text = created_at_as_text

    def __missing__(self, name: str) -> str:
        if name not in self.present:
            return "null"
        ref = sql.Identifier(name).as_string(None)
        return f"{ref}::text" if name == "created_at" and self.created_at_as_text else ref


def _expected_columns(spec: LogTableSpec) -> tuple[str, ...]:
    return tuple(dict.fromkeys(re.findall(r"\{cols\[(\w+)\]\}", load_sql(f"source/app_logs/{spec.name}.sql"))))


def _source_query(spec: LogTableSpec, table: str, predicate: str, columns: set[str],
                  created_at_as_text: bool = False) -> str:
    return load_sql(f"source/app_logs/{spec.name}.sql").format(
        table=table, filter=predicate, cols=_Columns(columns, created_at_as_text))


def _discover(adbc_conn, schema_name: str, table_name: str, what: str, project: Project) -> tuple[datetime, set[str]]:
    """The source's clock and the columns of schema.table (empty: no such table)."""
    try:
        cur = adbc_conn.cursor()
        try:
            cur.execute(load_sql("source/app_logs/discover.sql"), (schema_name, table_name))
            row = cur.fetch_arrow_table().to_pylist()[0]
        finally:
            cur.close()
    except SOURCE_ERRORS as exc:
        raise explain(exc, what, project.name) from redacted(exc)
    return row["source_now"], set(row["columns"] or ())


def _from_micros(micros: int | None) -> datetime | None:
    """A mark from epoch microseconds; dates before year 1 (PostgreSQL accepts 4713 BC) floor at year 1."""
    if micros is None:
        return None
    if micros < int((_MIN_MARK - _EPOCH) / timedelta(microseconds=1)):
        return _MIN_MARK
    return _EPOCH + timedelta(microseconds=int(micros))


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
            except SOURCE_ERRORS:  # cursor of a dead connection
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
        self.max_created_at: int | None = None  # epoch microseconds of the newest loaded row
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
                good_max = conn.execute(
                    "select epoch_us(max(created_at)) from _checked where _reason is null").fetchall()[0][0]
            else:
                # as epoch microseconds: PostgreSQL's dates before year 1 have no Python datetime
                good_max = pc.max(batch.column("created_at").cast(pa.int64())).as_py()
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
            except duckdb.Error:  # aborted transaction: keep the original error
                pass

    def quarantine_future(self, batch: pa.Table, cutoff: datetime, result: LoadResult) -> None:
        """Rows stamped after the source's clock (created_at as text): past `cutoff` or
        -infinity go to quarantine, the others are counted as deferred (a later run loads them)."""
        _batch = batch  # noqa: F841 - read by DuckDB
        # `cutoff` is a datetime this module computed, inlined because a view cannot hold parameters
        reason = (
            "case when created_at = '-infinity' then 'infinite_created_at' "
            f"when coalesce(try_cast(created_at as timestamptz) > '{cutoff.isoformat()}'::timestamptz, true) "
            "then 'future_created_at' end")
        conn = self.conn
        try:
            conn.execute(f"create or replace temp view _checked as select *, ({reason}) as _reason from _batch").fetchall()
            bad = conn.execute("select count(*) from _checked where _reason is not null").fetchall()[0][0]
            if bad:
                self._quarantine(batch)
            result.rows_from_future += int(bad)
            result.rows_deferred += batch.num_rows - int(bad)
        finally:
            try:
                conn.execute("drop view if exists _checked").fetchall()
            except duckdb.Error:  # aborted transaction: keep the original error
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
    log_schema: str | None = None,
    on_batch: Callable[[LoadResult], None] | None = None,
    duckdb_memory_limit: str = "256MB",  # 10 M rows: 777 MiB peak RSS (890 MiB at 384MB), same CPU
    clock_skew: timedelta | None = None,
) -> LoadResult:
    """Load new rows of one log table for `project`; see the module docstring for guarantees.

    `log_schema` overrides the project's default log schema; `clock_skew` its tolerance for rows
    stamped after the source's clock. A log that is turned off, or whose table does not exist on
    this project, returns at once with `source_status` saying so (nothing is written).
    """
    spec = LOG_TABLES[table]
    extracted_at = datetime.now(timezone.utc)
    settings: AppLogSettings = project.app_logs
    located = settings.source(table, log_schema)
    result = LoadResult(table)
    what = f"raw.{table}"
    if clock_skew is None:
        clock_skew = timedelta(minutes=settings.clock_skew_minutes)
    if clock_skew < timedelta(0):
        raise ValueError("clock_skew must not be negative")

    if not _MEMORY.match(duckdb_memory_limit):
        raise ValueError(f"duckdb_memory_limit must look like '384MB' or '1GB', got {duckdb_memory_limit!r}")
    if located is None:
        result.source_status = SOURCE_DISABLED
        result.source_note = f"{table} is turned off for this project (app_logs in the projects file)"
        return result
    schema_name, table_name = located
    result.source = f"{schema_name}.{table_name}"
    source_table = sql.Identifier(schema_name, table_name).as_string(None)
    # The source connection (ADBC reads the type catalog on connect) opens while the warehouse does.
    connecting = _EnterInBackground(source.connect_adbc(project.db_url_env))
    try:
        with warehouse.transaction() as conn:
            adbc_conn = connecting.get()
            source_now, columns = _discover(adbc_conn, schema_name, table_name, what, project)
            result.source_clock = source_now
            if not columns:
                result.source_status = SOURCE_ABSENT
                result.source_note = (f"no table {result.source} on this project: nothing to load (point "
                                      f"app_logs.{table} in the projects file at another table, or set it to false)")
                return result
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                result.source_status = SOURCE_UNUSABLE
                result.source_note = (f"{result.source} has no {' or '.join(missing)} column, which incremental "
                                      f"loading needs: nothing loaded (set app_logs.{table} in the projects file)")
                return result
            result.columns_absent = tuple(c for c in _expected_columns(spec) if c not in columns)
            # Bounded memory whatever the table size: DuckDB spills what the open transaction
            # appended instead of keeping it resident (the limit is a validated literal).
            conn.execute(f"set memory_limit = '{duckdb_memory_limit}'").fetchall()
            # One DuckDB thread for the inserts: each is one batch (~60,000 rows) beside the
            # decoding and masking threads, and a second DuckDB thread spent twice the CPU on the
            # same inserts (2,000,000 rows: 6.1 s against 3.0 s), CPU the other two stages need.
            conn.execute("set threads = 1").fetchall()
            previous, total = _state(conn, project.name, table)
            if previous is not None and previous > source_now:
                # A mark from before the clock bound (a row from the future once moved it): rows
                # stamped after it were skipped. Start over: a full reload, future rows quarantined.
                previous, result.mark_repaired = None, True
            result.previous_high_water_mark = previous
            result.initial_load = previous is None
            if previous is None:
                # Initial load = full reload of this project's rows: clear them first.
                conn.execute(f"delete from raw.{table} where project = ?", [project.name]).fetchall()

            loader = _BatchLoader(conn, spec, project.name, extracted_at, max_text_bytes)
            try:
                _quarantine_future(adbc_conn, conn, loader, spec, source_table, columns, source_now,
                                   source_now + clock_skew, result, what, project)
                # One read (PG combines the index scans): fewer round trips on small incremental runs.
                predicate = " or ".join(
                    f"({p})" for p in _predicates(adbc_conn, conn, spec, source_table, project, previous, overlap,
                                                  what, source_now))
                _run_query(adbc_conn, _source_query(spec, source_table, predicate, columns), loader, result,
                           batch_rows, queue_batches, on_batch, what, project, _masking(spec, max_text_bytes))
                loader.finish()
            finally:
                loader.close()
            _save_state(conn, project, table, previous, total, loader, result, extracted_at, source_now)
    finally:
        connecting.close()
    return result


def _quarantine_future(adbc_conn, conn, loader: _BatchLoader, spec: LogTableSpec, source_table: str,
                       columns: set[str], source_now: datetime, cutoff: datetime, result: LoadResult,
                       what: str, project: Project) -> None:
    """Replace this table's quarantined future rows with the ones the source holds now.

    Found by index (`created_at` past the source's clock, or -infinity), usually none. Rows the
    clock has since passed leave quarantine here and are loaded by this run's main read.
    """
    conn.execute(
        "delete from raw.quarantine where project = ? and source_table = ? and reason in (?, ?)",
        [project.name, spec.name, *FUTURE_REASONS],
    ).fetchall()
    query = _source_query(spec, source_table, f"created_at > {_ts(source_now)} or created_at = '-infinity'",
                          columns, created_at_as_text=True)
    try:
        cur = adbc_conn.cursor()
        try:
            cur.execute(query)
            for batch in cur.fetch_record_batch():
                loader.quarantine_future(pa.Table.from_batches([batch]), cutoff, result)
        finally:
            cur.close()
    except SOURCE_ERRORS as exc:
        raise explain(exc, what, project.name) from redacted(exc)


def _save_state(conn, project: Project, table: str, previous: datetime | None, total: int,
                loader: _BatchLoader, result: LoadResult, extracted_at: datetime, source_now: datetime) -> None:
    new_mark = _from_micros(loader.max_created_at)
    if new_mark is not None and new_mark > source_now:  # cannot happen (rows are read up to it): a guard
        new_mark = source_now
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


def _predicates(adbc_conn, conn, spec: LogTableSpec, table: str, project: Project,
                previous: datetime | None, overlap: timedelta, what: str, source_now: datetime) -> list[str]:
    """The source reads of one run, as predicates on the log table.

    * First run: every row with a finite timestamp up to the source's clock.
    * Later runs: rows past the high-water mark up to the source's clock, plus the late commits: rows stamped inside the
      overlap window that the warehouse has neither loaded nor quarantined. The window is checked
      by id only (a few bytes a row), so a busy table costs no re-transfer of rows already loaded,
      and no loaded row is ever read twice.
    * Every run: rows with a NULL timestamp, which no mark can pass (quarantined, by index).
    """
    now = _ts(source_now)
    if previous is None:
        predicates = [f"created_at > '-infinity' and created_at <= {now}"]
    else:
        since = previous - overlap if previous - _MIN_MARK > overlap else _MIN_MARK
        predicates = [f"created_at > {_ts(previous)} and created_at <= {now}"]
        window_sql = load_sql("source/app_logs/window_ids.sql").format(
            table=table, since=_ts(since), until=_ts(previous))
        try:
            cur = adbc_conn.cursor()
            try:
                cur.execute(window_sql)
                _window = cur.fetch_arrow_table()  # noqa: F841 - read by DuckDB (replacement scan)
            finally:
                cur.close()
        except SOURCE_ERRORS as exc:
            raise explain(exc, what, project.name) from redacted(exc)
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
            if isinstance(item, SOURCE_ERRORS):
                raise explain(item, what, project.name) from redacted(item)
            if isinstance(item, BaseException):  # a bug in the producer or the transform
                raise item
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
