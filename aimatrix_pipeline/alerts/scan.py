"""Turn new asset check execution records into alert state transitions (the sensor's work).

Why per-check execution history and not the event log: `get_event_records` with an integer cursor
raises on the default SQLite storage, while `get_asset_check_execution_history` works on SQLite
and Postgres alike and returns every evaluation, WARN and non-blocking ones included, which run
failure sensors never see.

Each check has a cursor (the last execution record id applied) kept in the alert state store and
moved in the same SQLite transaction as the transitions and outbox rows it produced, so a crash or
restart re-applies nothing and skips nothing (guarantees 13 and 14 of docs/alerting-guarantees.md).
A PLANNED record whose run is still going holds back that check's later records of the same
partition until the run ends (the cursor stays before it); records of other partitions are applied
at once and remembered above the cursor (`check_applied_ahead`), so one slow project of a run that
carries many does not delay the others' alerts, and nothing is applied twice. A PLANNED record
whose run failed or was cancelled becomes a "could not evaluate" evaluation (guarantee 7).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import dagster as dg

from aimatrix_pipeline.alerts.state import AlertStateMachine, AlertStore, Evaluation
from aimatrix_pipeline.shared.rule_checks import CNE_METADATA_KEY

PAGE = 500
# The first page a tick reads per check. Most ticks find nothing new, and the history API pages
# backwards from the newest record with no "after id" filter: a full page of 500 records (a
# fleet's check history reaches that within the hour) was read and deserialized for every check
# on every tick only to be thrown away. A small first page, growing 4x while every record is
# new, reads what is new and one page at most beyond it.
FIRST_PAGE = 16
# An execution record's status before its check reports (the status enum is not exported by
# `dagster`; its values are stable strings stored in the event log).
PLANNED = "PLANNED"

# A check whose run has not finished after this long no longer holds back the check's later
# records: it becomes "could not evaluate" (a run whose worker died may stay STARTED forever).
STALE_PLANNED_S = 3 * 3600.0
_FAILED_RUN = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def check_key_str(key: dg.AssetCheckKey) -> str:
    return f"{key.asset_key.to_user_string()}:{key.name}"


@dataclass
class ScanResult:
    evaluations: int = 0
    could_not_evaluate: int = 0
    waiting_checks: list[str] = field(default_factory=list)
    cursors: dict[str, int] = field(default_factory=dict)


def _plain(metadata) -> dict:
    out = {}
    for k, v in (metadata or {}).items():
        value = getattr(v, "value", v)
        if isinstance(value, (str, int, float, bool)) or value is None:
            out[k] = value
        elif isinstance(value, (list, dict)):
            out[k] = json.dumps(value, default=str, sort_keys=True)
        else:
            out[k] = str(value)
    return out


def _history_page(instance: dg.DagsterInstance, key: dg.AssetCheckKey, cursor: int | None, limit: int = PAGE):
    """One page of a check's execution records, newest first.

    Dagster 1.13 has no `DagsterInstance` method for a check's execution history (only for its
    latest record), so this goes through the instance's public `event_log_storage` property and
    the storage's public `get_asset_check_execution_history` (what Dagster's GraphQL layer calls
    for the UI's check history); no private Dagster module is imported (tests/test_public_apis.py).
    """
    return instance.event_log_storage.get_asset_check_execution_history(key, limit=limit, cursor=cursor)


def _is_planned(record) -> bool:
    """The check was planned in a run but has no result yet (status PLANNED)."""
    return record.status.value == PLANNED


def _new_records(instance: dg.DagsterInstance, key: dg.AssetCheckKey, after_id: int):
    """Records with id > after_id, oldest first (paging backwards through the history)."""
    out = []
    cursor = None
    limit = FIRST_PAGE
    while True:
        page = _history_page(instance, key, cursor, limit)
        fresh = [r for r in page if r.id > after_id]
        out.extend(fresh)
        if len(page) < limit or len(fresh) < len(page):
            break
        cursor = page[-1].id
        limit = min(limit * 4, PAGE)
    return sorted(out, key=lambda r: r.id)


FIRST_SIGHT_PER_PARTITION = 10


def _newest_per_partition(records, keep: int = FIRST_SIGHT_PER_PARTITION):
    """First sight of a check (new deployment, new check): only its recent state matters.

    Replaying months of history would open and close a stack of stale incidents, all stamped
    "now"; the newest few records of each partition (enough for `fire_after` streaks) give the
    same current state.
    """
    by_partition: dict = {}
    for r in records:  # oldest first
        by_partition.setdefault(r.partition, []).append(r)
    return sorted((r for rs in by_partition.values() for r in rs[-keep:]), key=lambda r: r.id)


def to_evaluation(instance, record, project_names: Iterable[str], now: float | None = None) -> Evaluation | str | None:
    """Evaluation, "wait" (its run is still going) or None (nothing to alert on: skipped)."""
    key = check_key_str(record.key)
    partition = record.partition
    projects = set(project_names)
    if _is_planned(record):
        run = instance.get_run_by_id(record.run_id) if record.run_id else None
        if run is None:
            return None
        stuck = now is not None and now - record.create_timestamp > STALE_PLANNED_S
        if not run.is_finished and not stuck:
            return "wait"
        if run.is_finished and run.status not in _FAILED_RUN:
            return None  # run succeeded without executing the check (not selected): skipped
        return Evaluation(
            check_key=key, partition=partition,
            project=partition if partition in projects else (partition or "all"),
            outcome="error", evaluated_at=record.create_timestamp, record_id=record.id,
            metrics={"run_id": record.run_id, "run_status": run.status.value},
            description=(f"the check did not report: run {record.run_id} ended {run.status.value}"
                         if run.is_finished else
                         f"the check did not report: run {record.run_id} still {run.status.value} "
                         f"after {STALE_PLANNED_S / 3600:g} h"))
    ev = record.evaluation
    md = _plain(ev.metadata)
    project = md.get("project") or (partition if partition in projects else None) or partition or "all"
    cne = bool(md.get(CNE_METADATA_KEY))
    outcome = "error" if cne else ("pass" if ev.passed else "fail")
    severity = None if ev.severity == dg.AssetCheckSeverity.ERROR else "medium"
    metrics = {k: v for k, v in md.items() if not k.startswith("aimatrix/") and not k.startswith("dagster/")}
    return Evaluation(
        check_key=key, partition=partition, project=str(project), outcome=outcome,
        evaluated_at=record.event.timestamp if record.event else record.create_timestamp,
        record_id=record.id, severity=severity, metrics=metrics, description=ev.description or "")


def scan(instance: dg.DagsterInstance, check_keys: Sequence[dg.AssetCheckKey], store: AlertStore,
         machine: AlertStateMachine, project_names: Iterable[str]) -> ScanResult:
    result = ScanResult()
    project_names = list(project_names)
    for key in sorted(check_keys, key=check_key_str):
        ks = check_key_str(key)
        after = store.cursor_for(ks)
        first_sight = store.cursor_for(ks, default=None) is None
        records = _new_records(instance, key, after)
        if first_sight:
            records = _newest_per_partition(records)
        if not records:
            if first_sight:
                with store.tx() as conn:
                    store.set_cursor(conn, ks, 0)
            result.cursors[ks] = after
            continue
        last = after
        done = store.applied_ahead(ks)
        waiting: set = set()  # partitions with a record whose run is still going
        ahead: list[int] = []
        with store.tx() as conn:
            for rec in records:
                if rec.partition in waiting:
                    continue  # in order per partition: its later records wait with it
                if rec.id not in done:
                    ev = to_evaluation(instance, rec, project_names, store.clock.now())
                    if ev == "wait":
                        if not waiting:
                            result.waiting_checks.append(ks)
                        waiting.add(rec.partition)
                        continue
                    if ev is not None:
                        machine.apply(ev, conn)
                        result.evaluations += 1
                        result.could_not_evaluate += int(ev.outcome == "error")
                if waiting:
                    ahead.append(rec.id)
                else:
                    last = rec.id
            store.set_cursor(conn, ks, last)
            store.set_applied_ahead(conn, ks, ahead, last)
        result.cursors[ks] = last
    return result
