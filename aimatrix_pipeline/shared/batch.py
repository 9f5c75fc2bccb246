"""Runs that carry many projects: one step works through a range of project partitions.

Why: every Dagster run is a new process that loads the code location (~2-3 s of CPU) while a
project's extract is ~0.3 s of work, so one run per project per tick is what ran out first on a
busy machine (docs/benchmarks.md). The scheduled jobs now request runs over a range of
consecutive project partitions (`AIMATRIX_BATCH_SIZE`, shared/schedules.py), and the assets they
run (`BackfillPolicy.single_run()`) call `run_projects` and `materialize` here. Per project:

* bounded concurrency: at most `AIMATRIX_BATCH_WORKERS` projects at once (threads of the step);
  each source connection still takes one of the source's `max_connections` slots
  (resources/source_postgres.py), so a batch never holds more sessions on a source than its cap;
* a deadline: a project that has spent `AIMATRIX_PROJECT_DEADLINE_S` seconds on its source (with
  sessions open; waiting for the warehouse lock or a connection slot does not count, those waits
  have their own timeouts) is given up: its running queries are cancelled (`cancel_on_deadline`; they are also
  bounded by the source's statement_timeout) and the step does not wait for it, so a slow or
  unreachable source never holds up the rest of the batch. A project given up (or whose source
  could not be reached) is not tried again by the later steps of the same run: a dead source costs
  a run one deadline (or one connect timeout), not one per asset;
* its own partition: a project that succeeded is materialized as its own partition with its own
  metadata and its own check evaluations (partitioned checks), whatever happened to the others.

When every project succeeded the step returns normally and Dagster records one materialization
per partition of the range, each with the metadata given for that partition
(`context.add_asset_metadata(..., partition_key=...)`). When some failed, the step yields an
explicit `AssetMaterialization` per healthy project (and the evaluations of the separate rule
checks of those projects, whose check steps will not run after a failed step), then raises a
`dg.Failure` naming the failed projects: their partitions show as failed in the UI, the healthy
ones as materialized, and downstream automation sees the healthy materializations.

Log lines of a project are collected in its thread and written by the step's own thread, prefixed
with the project, as each project finishes. A healthy project's result (its row counts) is one line
of the step's closing summary, not a log event of its own (see `finish`).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import dagster as dg

# How often the step looks at the clock for projects past their deadline (seconds).
_POLL_S = 0.25
# Failed projects named in a failure's description at most (all of them are in its metadata).
_NAMED = 20
# A batch step says how many of its projects are done at most this often (seconds).
_PROGRESS_S = 10.0


@dataclass
class ProjectResult:
    """What one project's work produced: its partition's metadata and its own checks' results."""

    metadata: dict
    check_results: list[dg.AssetCheckResult] = field(default_factory=list)


class ProjectLog:
    """A project's log lines, kept until the step's thread writes them (Dagster's log manager is
    the step's, not the worker threads')."""

    def __init__(self, project: str):
        self.project = project
        self.lines: list[tuple[str, str]] = []
        self.result = ""
        self._lock = threading.Lock()

    def _add(self, level: str, text: str) -> None:
        with self._lock:
            self.lines.append((level, f"[{self.project}] {text}"))

    def info(self, text: str) -> None:
        self._add("info", text)

    def warning(self, text: str) -> None:
        self._add("warning", text)

    def error(self, text: str) -> None:
        self._add("error", text)

    def summary(self, text: str) -> None:
        """What the project's work amounted to (row counts): said on its line of the step's
        summary, not as a log event of its own."""
        self.result = text

    def flush(self, log) -> None:
        with self._lock:
            lines, self.lines = self.lines, []
        for level, text in lines:
            getattr(log, level)(text)


def with_notes(meta: dict, notes: list[str], log: ProjectLog) -> dict:
    """A project's notes (what its extract skipped or could not read) go to the run's log as
    warnings and into its partition's metadata as a list, so the UI shows them on the partition."""
    for note in notes:
        log.warning(note)
    if notes:
        meta["notes"] = dg.MetadataValue.md("\n".join(f"- {n}" for n in notes))
    return meta


@dataclass
class Outcome:
    """One project's end: a result, or the error that failed its partition."""

    project: str
    result: ProjectResult | None = None
    error: str | None = None
    error_type: str | None = None
    seconds: float = 0.0
    exc: BaseException | None = None  # what failed it (chained as the Failure's cause)
    bug: bool = False  # not one of the expected errors

    @property
    def ok(self) -> bool:
        return self.result is not None


Work = Callable[[str, ProjectLog], ProjectResult]

class SourceClock:
    """A project's time on its source: the sessions it holds open (`cancel_on_deadline` blocks),
    and the cancel hooks of the ones open now. Waiting for the warehouse lock or a connection slot
    does not count: the deadline is for a slow source, not for the queue of a busy machine."""

    def __init__(self):
        self._lock = threading.Lock()
        self._spent = 0.0
        self._since: float | None = None
        self._open = 0
        self.hooks: list[Callable[[], object]] = []

    def enter(self, cancel: Callable[[], object]) -> None:
        with self._lock:
            if self._open == 0:
                self._since = time.monotonic()
            self._open += 1
            self.hooks.append(cancel)

    def leave(self, cancel: Callable[[], object]) -> None:
        with self._lock:
            self.hooks.remove(cancel)
            self._open -= 1
            if self._open == 0 and self._since is not None:
                self._spent += time.monotonic() - self._since
                self._since = None

    def seconds(self) -> float:
        with self._lock:
            return self._spent + (time.monotonic() - self._since if self._since is not None else 0.0)

    def cancel_all(self) -> None:
        with self._lock:
            hooks = list(self.hooks)
        for cancel in hooks:
            try:
                cancel()
            except Exception:  # noqa: BLE001 - a failed cancel leaves it to statement_timeout
                pass


# The worker thread's source clock (the project it works on), and the projects each run gave up.
_current = threading.local()
_given_up: dict[str, dict[str, str]] = {}
_given_up_guard = threading.Lock()


@contextmanager
def cancel_on_deadline(cancel: Callable[[], object]) -> Iterator[None]:
    """Within a batch project's work: call `cancel` (e.g. a connection's cancel) if the project
    passes its deadline while this block runs. Outside a batch it does nothing."""
    clock = getattr(_current, "clock", None)
    if clock is None:
        yield
        return
    clock.enter(cancel)
    try:
        yield
    finally:
        clock.leave(cancel)


def _give_up(run_id: str, project: str, reason: str) -> None:
    with _given_up_guard:
        _given_up.setdefault(run_id, {})[project] = reason


def _given_up_in(run_id: str) -> dict[str, str]:
    with _given_up_guard:
        return dict(_given_up.get(run_id, {}))


def _settings():
    from aimatrix_pipeline.settings import current_settings

    return current_settings()


def run_projects(context, work: Work, expected: tuple[type[BaseException], ...], *,
                 workers: int | None = None, deadline_s: float | None = None,
                 give_up_on: tuple[type[BaseException], ...] = (), warehouse=None) -> list[Outcome]:
    """Run `work(project, log)` for every project partition of the run; outcomes in partition order.

    An `expected` error (a source that is down, a view the role may not read, a warehouse lock
    timeout...) fails its project with the error's own text, as a one-project run did. Anything
    else is a bug: it fails its project too (the rest of the batch goes on) and its traceback is
    logged. A project past `deadline_s` on its source (`SourceClock`) fails with a deadline
    message; the step does not wait for its thread. A project past its deadline, or failed with
    one of `give_up_on` (the source cannot be reached), is failed at once by the later steps of
    the same run. With `warehouse`, the projects' writes share one connection for the step
    (`WarehouseResource.step_session`): each is still its own transaction."""
    session = warehouse.step_session() if warehouse is not None else nullcontext()
    with session:
        return _run_projects(context, work, expected, workers, deadline_s, give_up_on)


def _run_projects(context, work: Work, expected, workers, deadline_s, give_up_on) -> list[Outcome]:
    settings = _settings() if workers is None or deadline_s is None else None
    workers = workers or settings.batch_workers
    deadline_s = deadline_s or settings.project_deadline_s
    projects = list(context.partition_keys)
    logs = {p: ProjectLog(p) for p in projects}
    clocks = {p: SourceClock() for p in projects}
    started: dict[str, float] = {}
    outcomes: dict[str, Outcome] = {}
    run_id = context.run_id
    given_up = _given_up_in(run_id)
    if len(projects) > 1:
        context.log.info(f"{len(projects)} project(s) in this run, {min(workers, len(projects))} at a time, "
                         f"deadline {deadline_s:g}s each: {projects[0]} .. {projects[-1]}")

    def one(project: str) -> Outcome:
        started[project] = time.monotonic()
        _current.clock = clocks[project]
        try:
            result = work(project, logs[project])
            return Outcome(project, result=result, seconds=time.monotonic() - started[project])
        except expected as exc:
            if isinstance(exc, give_up_on):
                _give_up(run_id, project, f"{type(exc).__name__}: {str(exc)[:300]}")
            return Outcome(project, error=str(exc) or type(exc).__name__, error_type=type(exc).__name__,
                           seconds=time.monotonic() - started[project], exc=exc)
        except Exception as exc:  # noqa: BLE001 - a bug fails its project, not the batch
            if len(projects) > 1:  # a one-project run raises it as itself, traceback and all
                logs[project].error("unexpected error:\n" + "".join(traceback.format_exception(exc)))
            first = (str(exc).splitlines() or [""])[0][:300]
            return Outcome(project, error=f"{type(exc).__name__}: {first}", error_type=type(exc).__name__,
                           seconds=time.monotonic() - started[project], exc=exc, bug=True)
        finally:
            _current.clock = None

    # Every log line is an event the instance stores (a row in its event log): a 16-project
    # statistics run logged ~730 of them, one of the biggest costs of the run's process. A healthy
    # project of a batch gets a line in the step's summary; its warnings, errors and failures are
    # logged as they come, and a long step says how far it got every _PROGRESS_S.
    single = len(projects) == 1
    last_progress = [time.monotonic()]

    def finish(outcome: Outcome) -> None:
        outcomes[outcome.project] = outcome
        logs[outcome.project].flush(context.log)
        if outcome.ok:
            if single:
                done = logs[outcome.project].result
                context.log.info(f"[{outcome.project}] done in {outcome.seconds:.2f}s" + (f": {done}" if done else ""))
            elif time.monotonic() - last_progress[0] >= _PROGRESS_S and len(outcomes) < len(projects):
                last_progress[0] = time.monotonic()
                context.log.info(f"{len(outcomes)} of {len(projects)} project(s) done")
        else:
            context.log.error(f"[{outcome.project}] failed after {outcome.seconds:.2f}s: {outcome.error} "
                              f"({len(outcomes)} of {len(projects)})")

    for project in projects:
        if project in given_up:
            finish(Outcome(project, error=f"given up earlier in this run ({given_up[project]}); the next "
                           "tick tries again", error_type="ProjectGivenUp"))
    todo = [p for p in projects if p not in given_up]
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo) or 1)), thread_name_prefix="aimatrix-project")
    try:
        pending: dict[Future, str] = {pool.submit(one, p): p for p in todo}
        while pending:
            done, _ = wait(pending, timeout=_POLL_S, return_when=FIRST_COMPLETED)
            for future in done:
                pending.pop(future)
                finish(future.result())
            now = time.monotonic()
            for future, project in list(pending.items()):
                began = started.get(project)
                if began is not None and clocks[project].seconds() > deadline_s:
                    pending.pop(future)
                    clocks[project].cancel_all()
                    _give_up(run_id, project, f"no result within {deadline_s:g}s on its source")
                    finish(Outcome(project, error=(
                        f"no result within {deadline_s:g}s on its source (AIMATRIX_PROJECT_DEADLINE_S): its "
                        "query was cancelled and the project is given up in this run so the rest of the "
                        "batch goes on; the next tick tries again"),
                        error_type="ProjectDeadlineExceeded", seconds=now - began))
    finally:
        # never wait for a project past its deadline (its thread ends with its statement_timeout)
        pool.shutdown(wait=False, cancel_futures=True)
    ordered = [outcomes[p] for p in projects]
    if not single:
        ok = [o for o in ordered if o.ok]
        lines = [f"[{o.project}] {o.seconds:.2f}s" + (f": {logs[o.project].result}" if logs[o.project].result else "")
                 for o in ok]
        context.log.info(f"{len(ok)} of {len(projects)} project(s) done" + (":\n" + "\n".join(lines) if lines else ""))
    return ordered


def _evaluation(asset_key: dg.AssetKey, result: dg.AssetCheckResult, project: str) -> dg.AssetCheckEvaluation:
    """A check result recorded against the project's partition (a range run has no partition key
    of its own for Dagster to stamp on it)."""
    return dg.AssetCheckEvaluation(
        asset_key=result.asset_key or asset_key, check_name=result.check_name, passed=result.passed,
        metadata=result.metadata, severity=result.severity, description=result.description,
        blocking=False, partition=project)


def materialize(context, outcomes: list[Outcome],
                failed_project_evaluations: Callable[[str], Iterable[dg.AssetCheckEvaluation]] | None = None) -> Iterator:
    """The step's events for `outcomes` (see the module docstring): per-partition materializations
    and check evaluations of the healthy projects, then a Failure naming the failed ones."""
    assets_def = context.assets_def
    key = assets_def.key
    selected = set(context.selected_asset_check_keys)
    ok = [o for o in outcomes if o.ok]
    failed = [o for o in outcomes if not o.ok]
    for outcome in ok:
        for result in outcome.result.check_results:
            evaluation = _evaluation(key, result, outcome.project)
            if evaluation.asset_check_key in selected:
                yield evaluation
    if not failed:
        for check_key in sorted(selected & set(assets_def.check_keys), key=str):
            yield dg.Output(None, output_name=assets_def.get_output_name_for_asset_check_key(check_key))
        for outcome in ok:
            context.add_asset_metadata(outcome.result.metadata, partition_key=outcome.project)
        yield dg.MaterializeResult()
        return
    for outcome in ok:
        yield dg.AssetMaterialization(asset_key=key, partition=outcome.project, metadata=outcome.result.metadata)
        if failed_project_evaluations is not None:
            yield from failed_project_evaluations(outcome.project)
    if len(outcomes) == 1 and failed[0].bug:
        raise failed[0].exc  # a bug in a one-project run fails the step as itself
    raise batch_failure(failed, len(outcomes)) from failed[0].exc


def batch_failure(failed: list[Outcome], total: int) -> dg.Failure:
    """The step's Failure: a one-project run's says what it always said (the error's own text);
    a batch's names every failed project (its cause is the first one's error)."""
    names = [o.project for o in failed]
    if total == 1:
        only = failed[0]
        return dg.Failure(description=only.error, metadata={"project": only.project, "error": only.error_type})
    shown = "; ".join(f"{o.project}: {o.error}" for o in failed[:_NAMED])
    more = f" (and {len(failed) - _NAMED} more)" if len(failed) > _NAMED else ""
    return dg.Failure(
        description=f"{len(failed)} of {total} project(s) failed, the others were materialized: {shown}{more}",
        metadata={"failed_projects": ", ".join(names), "failed": len(failed), "projects": total,
                  **{f"error/{o.project}": f"{o.error_type}: {o.error}"[:500] for o in failed}})
