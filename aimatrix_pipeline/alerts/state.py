"""Alert state: the lifecycle (pending -> firing -> resolved) per fingerprint, stored durably.

Why a state machine in SQLite rather than "send when a check fails": the sensor may run again on
the same evaluations (restart, retry), evaluations arrive in bursts, checks flap, and people
silence rules. Each evaluation is applied in one SQLite transaction together with the per-check
cursor and the notifications it produces (written to the outbox), so an evaluation is applied
exactly once and its notifications are queued exactly once, whatever crashes in between.

The rules this module enforces (numbers from docs/alerting-guarantees.md):
1  FIRING after `fire_after` consecutive failures (pending before that), once per channel;
2  while failing, one reminder per repeat interval (never to PagerDuty);
3  the first pass after firing queues exactly one RESOLVED to every channel that got the FIRING;
4  flapping: a FIRING opens a hold window (the rule's suppression window); an alert that fails
   again inside it is firing in the table but not re-notified, and an un-notified incident
   resolves silently, so N alternations inside a window give one FIRING and one RESOLVED;
   if it is still failing when the window ends, one FIRING goes out then;
5  never a RESOLVED without a FIRING (the incident's `notified` flag);
6  fingerprint = hash of (project, check, partition), stable, < 255 characters;
7  a check that could not run opens its own `could_not_evaluate` alert and leaves the data
   alert untouched; the next real evaluation resolves it;
8  the suppression window holds repeats back (same mechanism as 4);
9  an alert already firing when a channel is enabled (its variables set, or the rule names it)
   is sent to that channel once, marked "already open when this channel was added", and its
   RESOLVED goes there too; the FIRING's event id is the original one, so never twice;
16 silences hold FIRINGs and reminders back while state keeps updating; one FIRING goes out
   when the silence ends if the problem is still there. Resolutions are not silenced: an
   incident that paged must be able to close (PagerDuty would otherwise stay triggered).

Time comes from an injected clock so tests can simulate hours without sleeping.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aimatrix_pipeline.settings import Settings, current_settings
from aimatrix_pipeline.shared.rules import AlertRule, RuleSet
from aimatrix_pipeline.sql_files import load_sql

CNE = "could_not_evaluate"
DATA = "data"
ALREADY_OPEN_NOTE = "already open when this channel was added"
EMPTY_STATE_VERSION = "0:0:0:0:0:0"
SEVERITY_TO_PAGERDUTY = {"low": "info", "medium": "warning", "high": "error", "critical": "critical"}


class Clock(Protocol):
    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


def fingerprint(project: str, check_key: str, partition: str | None, kind: str = DATA) -> str:
    """Stable id of an alert: readable prefix + sha256 of (project, check, partition, kind).

    Always <= 255 characters (PagerDuty's dedup_key limit) whatever the names' lengths, and the
    same across restarts and hosts because it depends only on these names.
    """
    raw = "\x1f".join([project, check_key, partition or "", kind])
    digest = hashlib.sha256(raw.encode()).hexdigest()[:32]
    readable = f"{project}/{check_key}"[:120].replace(" ", "_")
    return f"{readable}#{digest}"


def _hid(*parts: object, prefix: str, n: int = 24) -> str:
    return prefix + hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:n]


@dataclass(frozen=True)
class Evaluation:
    """One asset check outcome, as the sensor hands it over."""

    check_key: str  # "asset/key:check_name"
    partition: str | None
    project: str
    outcome: str  # "pass" | "fail" | "error" (could not evaluate)
    evaluated_at: float
    record_id: int = 0
    severity: str | None = None  # low|medium|high|critical (None: from the rule / defaults)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


def default_state_path(settings: Settings | None = None) -> Path:
    """`AIMATRIX_ALERT_STATE`, else `alerts_outbox.sqlite` next to the warehouse file (settings:
    default the current ones)."""
    settings = settings or current_settings()
    if settings.alert_state_file:
        return Path(settings.alert_state_file)
    from aimatrix_pipeline.resources.ducklake_warehouse import warehouse_for

    # the warehouse's local location: the file, or a DuckLake warehouse's local directory
    return warehouse_for(settings=settings).file.with_name("alerts_outbox.sqlite")


class AlertStore:
    """The SQLite file: one connection per store object, write transactions are BEGIN IMMEDIATE."""

    def __init__(self, path: str | Path, clock: Clock | None = None):
        self.path = Path(path)
        self.clock = clock or SystemClock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.conn = sqlite3.connect(str(self.path), timeout=60, isolation_level=None,
                                    check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("pragma journal_mode=wal")
        # WAL + NORMAL: a committed transaction survives any process crash; a power loss can only
        # roll back the newest transactions *as a whole*, and because the check cursors move in
        # the same transactions as the state and outbox rows, the sensor then re-reads those
        # evaluations and rebuilds exactly what was lost (same deterministic event ids).
        self.conn.execute("pragma synchronous=normal")
        self.conn.execute("pragma busy_timeout=60000")
        self.conn.executescript(load_sql("warehouse/alerts/state_store.sqlite.sql"))

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; the database lock is taken up front so writers never deadlock."""
        with self._lock:
            self.conn.execute("begin immediate")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("rollback")
                raise
            self.conn.execute("commit")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    # --- the warehouse mirror ----------------------------------------------------------------
    def state_version(self) -> str:
        """What the alerts.* mirror must reflect: changes whenever an incident or its history does.

        Open alerts must reach the warehouse (dashboard, catalog) also when no notification is
        due, e.g. with no channel configured; the sensor compares this with `mirrored_version`.
        The outbox's attempts and outcomes count too (alerts.notification_deliveries): the alert
        sensor sends some notifications itself, and no delivery run would mirror those otherwise.
        """
        row = self.query("select (select count(*) from incidents), (select coalesce(max(updated_at), 0) "
                         "from incidents), (select count(*) from incident_history), "
                         "(select count(*) from outbox), (select coalesce(sum(attempts), 0) from outbox), "
                         "(select count(*) from outbox where status in ('sent', 'failed'))")[0]
        return ":".join([str(row[0]), repr(row[1]), *(str(v) for v in row[2:])])

    def mirrored_version(self) -> str | None:
        rows = self.query("select version from mirror_state where id = 1")
        return rows[0]["version"] if rows else None

    def set_mirrored_version(self, version: str) -> None:
        with self.tx() as conn:
            conn.execute("insert into mirror_state (id, version, mirrored_at) values (1, ?, ?) "
                         "on conflict (id) do update set version = excluded.version, "
                         "mirrored_at = excluded.mirrored_at", (version, self.clock.now()))

    def mirror_due(self) -> bool:
        """True when alerts.* lags the store (a store that never had an incident needs no mirror)."""
        current = self.state_version()
        return current != (self.mirrored_version() or EMPTY_STATE_VERSION)

    # --- cursors -----------------------------------------------------------------------------
    def cursor_for(self, check_key: str, default: int | None = 0) -> int | None:
        rows = self.query("select last_id from check_cursor where check_key = ?", (check_key,))
        return int(rows[0]["last_id"]) if rows else default

    @staticmethod
    def set_cursor(conn: sqlite3.Connection, check_key: str, last_id: int) -> None:
        conn.execute(
            "insert into check_cursor values (?, ?) on conflict (check_key) do update "
            "set last_id = max(last_id, excluded.last_id)",
            (check_key, last_id),
        )

    def applied_ahead(self, check_key: str) -> set[int]:
        """Record ids above the check's cursor that were already applied (see `scan`)."""
        return {int(r[0]) for r in self.query(
            "select record_id from check_applied_ahead where check_key = ?", (check_key,))}

    @staticmethod
    def set_applied_ahead(conn: sqlite3.Connection, check_key: str, record_ids, cursor: int) -> None:
        """Add `record_ids` and forget the ids the cursor has reached, in the cursor's transaction."""
        conn.executemany("insert into check_applied_ahead values (?, ?) on conflict do nothing",
                         [(check_key, i) for i in record_ids])
        conn.execute("delete from check_applied_ahead where check_key = ? and record_id <= ?", (check_key, cursor))


class AlertStateMachine:
    """Applies evaluations and the passage of time to the store, queueing notifications."""

    def __init__(self, store: AlertStore, rules: RuleSet, environ: Mapping[str, str] | None = None):
        self.store = store
        self.rules = rules
        self.clock = store.clock
        self.environ = environ  # where channel secrets are looked for (None: the process environment)

    # --- helpers -----------------------------------------------------------------------------
    def _rule_for(self, ev: Evaluation) -> AlertRule | None:
        return self.rules.rule_for_check(ev.check_key)

    def _channels(self, rule: AlertRule | None) -> list[str]:
        names = rule.channels if rule else self.rules.settings.default_channels
        return [n for n in names if self.rules.channel(n).enabled(self.environ)]

    def _severity(self, ev: Evaluation, rule: AlertRule | None, kind: str) -> str:
        if kind == CNE:
            return "medium"
        if rule:
            return rule.severity
        return ev.severity or self.rules.settings.default_severity

    def _texts(self, ev: Evaluation, rule: AlertRule | None, kind: str) -> tuple[str, str, str]:
        """(rule_id, title, message) of the alert this evaluation concerns."""
        values = {"project": ev.project, "partition": ev.partition or "", **ev.metrics}
        if rule and rule.threshold is not None:
            values.setdefault("threshold", rule.threshold)
        base_id = rule.id if rule else ev.check_key
        if kind == CNE:
            reason = ev.description or str(ev.metrics.get("error", "the check did not run"))
            return (f"{base_id}:{CNE}", f"Could not evaluate {ev.check_key}",
                    f"Check {ev.check_key} could not be evaluated for {ev.project}"
                    f"{' partition ' + ev.partition if ev.partition and ev.partition != ev.project else ''}: "
                    f"{reason}")
        if rule:
            return rule.id, rule.title, rule.format_message(values)
        msg = ev.description or f"Asset check {ev.check_key} failed"
        return base_id, f"Check failed: {ev.check_key}", f"{msg} ({ev.project})"

    def _silenced(self, conn: sqlite3.Connection, rule_id: str, now: float) -> bool:
        base = rule_id.split(":" + CNE)[0]
        row = conn.execute(
            "select 1 from silences where rule_id in (?, ?) and starts_at <= ? and ends_at > ? limit 1",
            (rule_id, base, now, now),
        ).fetchone()
        return row is not None

    def _history(self, conn, alert_id: str, status: str, note: str = "") -> None:
        conn.execute("insert into incident_history values (?, ?, ?, ?)",
                     (alert_id, self.clock.now(), status, note))

    def _group_key(self, inc: sqlite3.Row) -> str:
        parts = []
        for g in self.rules.settings.group_by:
            parts.append(f"{g}={inc[g]}")
        return "|".join(parts) or "all"

    def _enqueue(self, conn, inc: sqlite3.Row, action: str, channels: list[str], seq: int,
                 already_open: bool = False) -> int:
        """Queue one notification per channel, keyed by a deterministic event id."""
        from aimatrix_pipeline.alerts import outbox

        now = self.clock.now()
        event_id = _hid(inc["id"], action, seq, prefix="evt_", n=32)
        message = f"{inc['message']} ({ALREADY_OPEN_NOTE})" if already_open else inc["message"]
        payload = {
            "event_id": event_id,
            "alert_id": inc["id"],
            "fingerprint": inc["fingerprint"],
            "action": action,
            "rule_id": inc["rule_id"],
            "kind": inc["kind"],
            "title": inc["title"],
            "message": message,
            "already_open": already_open,
            "severity": inc["severity"],
            "project": inc["project"],
            "check": inc["check_key"],
            "partition": inc["partition"],
            "detected_at": inc["detected_at"],
            "fired_at": inc["fired_at"],
            "resolved_at": inc["resolved_at"],
            "metrics": json.loads(inc["metrics"] or "{}"),
        }
        n = 0
        for ch in channels:
            cfg = self.rules.channel(ch)
            if action == "reminder" and cfg.type == "pagerduty":
                continue  # guarantee 2: reminders never page
            if action == "resolved" and not cfg.send_resolved:
                continue
            n += outbox.enqueue(conn, event_id, ch, inc["id"], inc["fingerprint"], action,
                                self._group_key(inc), payload, inc["detected_at"], now)
        return n

    def _incident(self, conn, alert_id: str) -> sqlite3.Row:
        return conn.execute("select * from incidents where id = ?", (alert_id,)).fetchone()

    def _notify_firing(self, conn, st: sqlite3.Row, inc: sqlite3.Row, rule: AlertRule | None) -> None:
        """Queue the FIRING unless held back by the suppression window or a silence."""
        now = self.clock.now()
        if inc["notified"] or inc["status"] != "firing":
            return
        if st["hold_until"] and now < st["hold_until"]:
            return
        if self._silenced(conn, inc["rule_id"], now):
            return
        channels = self._channels(rule)
        self._enqueue(conn, inc, "firing", channels, 0)
        window = rule.suppression_window_s if rule else 300.0
        conn.execute("update incidents set notified = 1, channels = ?, updated_at = ? where id = ?",
                     (json.dumps(channels), now, inc["id"]))
        conn.execute("update alert_state set last_notified_at = ?, hold_until = ? where fingerprint = ?",
                     (now, now + window, st["fingerprint"]))
        self._history(conn, inc["id"], "notified", f"FIRING queued to {', '.join(channels) or 'no channel'}")

    def _resolve(self, conn, st: sqlite3.Row, inc: sqlite3.Row, by: str | None, notes: str | None) -> None:
        now = self.clock.now()
        conn.execute(
            "update incidents set status = 'resolved', resolved_at = ?, resolved_by = ?, "
            "resolve_notes = ?, updated_at = ? where id = ?",
            (now, by, notes, now, inc["id"]),
        )
        conn.execute("update alert_state set status = 'resolved', fail_streak = 0 where fingerprint = ?",
                     (st["fingerprint"],))
        self._history(conn, inc["id"], "resolved", f"by {by}" if by else "check passed")
        if inc["notified"]:  # guarantee 5: only what was announced is resolved
            inc = self._incident(conn, inc["id"])
            self._enqueue(conn, inc, "resolved", json.loads(inc["channels"]), 0)

    # --- evaluations -------------------------------------------------------------------------
    def apply(self, ev: Evaluation, conn: sqlite3.Connection | None = None) -> None:
        """Apply one evaluation (in the caller's transaction, or in a new one)."""
        if conn is None:
            with self.store.tx() as c:
                self.apply(ev, c)
            return
        rule = self._rule_for(ev)
        if ev.outcome == "error":
            self._apply_kind(conn, ev, rule, CNE, failing=True)
        else:
            self._apply_kind(conn, ev, rule, CNE, failing=False, only_if_exists=True)
            self._apply_kind(conn, ev, rule, DATA, failing=ev.outcome == "fail")

    def _apply_kind(self, conn, ev: Evaluation, rule: AlertRule | None, kind: str, failing: bool,
                    only_if_exists: bool = False) -> None:
        now = self.clock.now()
        fp = fingerprint(ev.project, ev.check_key, ev.partition, kind)
        st = conn.execute("select * from alert_state where fingerprint = ?", (fp,)).fetchone()
        if st is None:
            if only_if_exists or not failing:
                if not only_if_exists:  # remember healthy checks too (alerts list shows them)
                    rule_id = self._texts(ev, rule, kind)[0]
                    conn.execute(
                        "insert into alert_state (fingerprint, kind, project, check_key, partition, rule_id, "
                        "status, last_evaluated_at, last_record_id) values (?,?,?,?,?,?,'normal',?,?)",
                        (fp, kind, ev.project, ev.check_key, ev.partition, rule_id, now, ev.record_id))
                return
            rule_id = self._texts(ev, rule, kind)[0]
            conn.execute(
                "insert into alert_state (fingerprint, kind, project, check_key, partition, rule_id, status) "
                "values (?,?,?,?,?,?,'normal')",
                (fp, kind, ev.project, ev.check_key, ev.partition, rule_id))
            st = conn.execute("select * from alert_state where fingerprint = ?", (fp,)).fetchone()
        conn.execute("update alert_state set last_evaluated_at = ?, last_record_id = ? where fingerprint = ?",
                     (now, ev.record_id, fp))
        rule_id, title, message = self._texts(ev, rule, kind)
        severity = self._severity(ev, rule, kind)
        metrics = json.dumps(dict(ev.metrics), default=str, sort_keys=True)
        fire_after = rule.fire_after if (rule and kind == DATA) else 1
        status = st["status"]
        inc = self._incident(conn, st["alert_id"]) if st["alert_id"] else None

        if failing:
            streak = st["fail_streak"] + 1
            conn.execute("update alert_state set fail_streak = ? where fingerprint = ?", (streak, fp))
            if status in ("normal", "resolved"):
                seq = st["incident_seq"] + 1
                alert_id = _hid(fp, seq, prefix="al_")
                new_status = "firing" if streak >= fire_after else "pending"
                conn.execute(
                    "insert into incidents (id, fingerprint, kind, rule_id, project, check_key, partition, "
                    "title, message, severity, status, detected_at, fired_at, metrics, updated_at) "
                    "values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (alert_id, fp, kind, rule_id, ev.project, ev.check_key, ev.partition, title, message,
                     severity, new_status, ev.evaluated_at, now if new_status == "firing" else None,
                     metrics, now))
                conn.execute("update alert_state set status = ?, incident_seq = ?, alert_id = ?, rule_id = ? "
                             "where fingerprint = ?", (new_status, seq, alert_id, rule_id, fp))
                self._history(conn, alert_id, new_status, message)
            else:
                new_status = "firing" if streak >= fire_after else "pending"
                conn.execute("update incidents set message = ?, metrics = ?, severity = ?, updated_at = ?, "
                             "status = ?, fired_at = coalesce(fired_at, ?) where id = ?",
                             (message, metrics, severity, now, new_status,
                              now if new_status == "firing" else None, st["alert_id"]))
                if status == "pending" and new_status == "firing":
                    conn.execute("update alert_state set status = 'firing' where fingerprint = ?", (fp,))
                    self._history(conn, st["alert_id"], "firing", message)
            st = conn.execute("select * from alert_state where fingerprint = ?", (fp,)).fetchone()
            inc = self._incident(conn, st["alert_id"])
            if st["status"] == "firing":
                self._notify_firing(conn, st, inc, rule)
        else:
            conn.execute("update alert_state set fail_streak = 0 where fingerprint = ?", (fp,))
            if status == "pending" and inc is not None:
                conn.execute("update incidents set status = 'normal', updated_at = ? where id = ?",
                             (now, inc["id"]))
                conn.execute("update alert_state set status = 'normal' where fingerprint = ?", (fp,))
                self._history(conn, inc["id"], "normal", "recovered before firing")
            elif status == "firing" and inc is not None:
                conn.execute("update incidents set metrics = ?, updated_at = ? where id = ?",
                             (metrics, now, inc["id"]))
                self._resolve(conn, st, self._incident(conn, inc["id"]), None, None)

    def _catch_up_new_channels(self, conn: sqlite3.Connection) -> int:
        """Send alerts that are already firing (and were announced) to channels enabled since.

        Without this, a channel configured while alerts are open would hear of them only at
        their next state change, or never (a RESOLVED is sent only where the FIRING went). The
        FIRING keeps its original event id, so the outbox key (event id, channel) makes a second
        catch-up a no-op, and the channel joins the incident's channels (so it gets the RESOLVED).
        """
        now = self.clock.now()
        queued = 0
        rows = conn.execute(
            "select s.fingerprint, s.rule_id, i.id from alert_state s join incidents i on i.id = s.alert_id "
            "where s.status = 'firing' and i.status = 'firing' and i.notified = 1").fetchall()
        for row in rows:
            rule = self.rules.rule(row["rule_id"].split(":" + CNE)[0])
            inc = self._incident(conn, row["id"])
            have = json.loads(inc["channels"] or "[]")
            new = [c for c in self._channels(rule) if c not in have]
            if not new or self._silenced(conn, inc["rule_id"], now):
                continue
            queued += self._enqueue(conn, inc, "firing", new, 0, already_open=True)
            conn.execute("update incidents set channels = ?, updated_at = ? where id = ?",
                         (json.dumps(have + new), now, inc["id"]))
            self._history(conn, inc["id"], "notified",
                          f"FIRING queued to {', '.join(new)} ({ALREADY_OPEN_NOTE})")
        return queued

    # --- time --------------------------------------------------------------------------------
    def advance(self) -> int:
        """Apply the passage of time: held FIRINGs whose window or silence ended, reminders,
        open alerts to channels enabled since they fired."""
        now = self.clock.now()
        queued = 0
        with self.store.tx() as conn:
            queued += self._catch_up_new_channels(conn)
            rows = conn.execute(
                "select s.*, i.notified from alert_state s join incidents i on i.id = s.alert_id "
                "where s.status = 'firing'"
            ).fetchall()
            for st in rows:
                inc = self._incident(conn, st["alert_id"])
                rule = self.rules.rule(st["rule_id"].split(":" + CNE)[0])
                if not inc["notified"]:
                    self._notify_firing(conn, st, inc, rule)
                    queued += int(self._incident(conn, inc["id"])["notified"])
                    continue
                repeat = max(self.rules.settings.repeat_interval_s, rule.suppression_window_s if rule else 0)
                if st["last_notified_at"] and now >= st["last_notified_at"] + repeat:
                    if self._silenced(conn, inc["rule_id"], now):
                        continue
                    seq = conn.execute("select count(*) from incident_history where alert_id = ? "
                                       "and status = 'reminder'", (inc["id"],)).fetchone()[0] + 1
                    self._enqueue(conn, inc, "reminder", json.loads(inc["channels"]), seq)
                    conn.execute("update alert_state set last_notified_at = ? where fingerprint = ?",
                                 (now, st["fingerprint"]))
                    self._history(conn, inc["id"], "reminder", "still failing")
                    queued += 1
        return queued

    # --- commands ----------------------------------------------------------------------------
    def resolve(self, alert_id: str, resolved_by: str, notes: str | None = None) -> bool:
        """Mark an incident resolved by a person (and tell the channels)."""
        with self.store.tx() as conn:
            inc = self._incident(conn, alert_id)
            if inc is None:
                return False
            if inc["status"] in ("resolved", "normal"):
                conn.execute("update incidents set resolved_by = coalesce(resolved_by, ?), "
                             "resolve_notes = coalesce(?, resolve_notes) where id = ?",
                             (resolved_by, notes, alert_id))
                return True
            st = conn.execute("select * from alert_state where fingerprint = ?", (inc["fingerprint"],)).fetchone()
            self._resolve(conn, st, inc, resolved_by, notes)
        return True

    def silence(self, rule_id: str, until: float, created_by: str | None = None,
                reason: str | None = None) -> int:
        if self.rules.rule(rule_id) is None and ":" not in rule_id:
            from aimatrix_pipeline.settings import ConfigError

            raise ConfigError(f"unknown rule {rule_id!r}: rules are "
                              f"{', '.join(r.id for r in self.rules.rules)}")
        with self.store.tx() as conn:
            cur = conn.execute(
                "insert into silences (rule_id, starts_at, ends_at, created_by, reason) values (?,?,?,?,?)",
                (rule_id, self.clock.now(), until, created_by, reason))
            return int(cur.lastrowid)
