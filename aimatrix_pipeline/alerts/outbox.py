"""The outbox: notifications waiting to be delivered, one row per (event id, channel).

The sensor writes here inside the same transaction as the state change that produced the
notification. Delivery (the sensor's own tick within its deadline, the delivery run, the
`alerts deliver` worker) claims rows under a per-channel lease, so whichever of them sends a
row, only one does. Delivery state is per channel, so a Slack outage never holds back PagerDuty
(docs/alerting-guarantees.md, 12).

At-least-once with bounded duplicates: a row is *claimed* (status `sending`, a lease) before the
request and marked `sent` after the receiver's 2xx. A crash between the two leaves the row
claimed; when the lease expires it is sent again with the same event id / webhook-id / dedup_key
(guarantee 13: at most one duplicate, recognisable by its id). Rows are never deleted by delivery,
so nothing is lost while a receiver is down (guarantee 9).
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

from aimatrix_pipeline.alerts.state import AlertStore

LEASE_S = 120.0
# A notification waits while an earlier one for the same alert and channel is undelivered, so a
# RESOLVED can never overtake its FIRING (a trigger retried after a 5xx, then a quick recovery).
IN_ORDER = ("not exists (select 1 from outbox e where e.channel = o.channel and e.fingerprint = o.fingerprint "
            "and e.rowid < o.rowid and e.status in ('pending', 'sending'))")
# In a burst, one-event-per-alert channels (PagerDuty) page the most severe alerts first.
SEVERITY_FIRST = ("case json_extract(o.payload, '$.severity') when 'critical' then 0 when 'high' then 1 "
                  "when 'medium' then 2 else 3 end")


def enqueue(conn: sqlite3.Connection, event_id: str, channel: str, alert_id: str, fingerprint: str,
            action: str, group_key: str, payload: dict, detected_at: float, now: float) -> int:
    """Insert one notification; a second insert of the same (event id, channel) is a no-op."""
    cur = conn.execute(
        "insert into outbox (event_id, channel, alert_id, fingerprint, action, group_key, payload, "
        "detected_at, created_at, next_attempt_at) values (?,?,?,?,?,?,?,?,?,?) "
        "on conflict (event_id, channel) do nothing",
        (event_id, channel, alert_id, fingerprint, action, group_key,
         json.dumps(payload, default=str, sort_keys=True), detected_at, now, now),
    )
    return cur.rowcount


@dataclass
class Batch:
    """One message to one channel: a group's notifications, sent and recorded together."""

    channel: str
    batch_id: str
    group_key: str
    rows: list[dict[str, Any]]

    @property
    def payloads(self) -> list[dict]:
        return [json.loads(r["payload"]) for r in self.rows]


def batch_id_for(event_ids: list[str]) -> str:
    return "msg_" + hashlib.sha256("\x1f".join(sorted(event_ids)).encode()).hexdigest()[:32]


def acquire_channel(store: AlertStore, channel: str, owner: str, lease_s: float = LEASE_S) -> bool:
    """Become the only deliverer for `channel` for `lease_s` (renewed on every claim)."""
    now = store.clock.now()
    with store.tx() as conn:
        conn.execute("insert into channel_state (channel) values (?) on conflict do nothing", (channel,))
        row = conn.execute("select lease_owner, lease_until from channel_state where channel = ?",
                           (channel,)).fetchone()
        if row["lease_owner"] not in (None, owner) and row["lease_until"] > now:
            return False
        conn.execute("update channel_state set lease_owner = ?, lease_until = ? where channel = ?",
                     (owner, now + lease_s, channel))
    return True


def release_channel(store: AlertStore, channel: str, owner: str) -> None:
    with store.tx() as conn:
        conn.execute("update channel_state set lease_owner = null, lease_until = 0 "
                     "where channel = ? and lease_owner = ?", (channel, owner))


def channel_state(store: AlertStore, channel: str) -> sqlite3.Row | None:
    rows = store.query("select * from channel_state where channel = ?", (channel,))
    return rows[0] if rows else None


def claim_batch(store: AlertStore, channel: str, per_alert: bool, group_interval_s: float,
                max_alerts: int = 50) -> Batch | None:
    """Claim the next due message for `channel`, or None if nothing is due now.

    Rows already given a batch id at an earlier attempt are re-sent as that same batch (so the
    webhook-id stays stable across retries). Fresh rows are grouped by group key; a group that
    got a message less than `group_interval_s` ago waits (one message per group interval).
    `per_alert` (PagerDuty) sends every notification on its own with its own dedup_key.
    """
    now = store.clock.now()
    with store.tx() as conn:
        cs = conn.execute("select * from channel_state where channel = ?", (channel,)).fetchone()
        if cs is not None and cs["blocked_until"] > now:
            return None
        due = "(status = 'pending' and next_attempt_at <= :now) or (status = 'sending' and lease_until <= :now)"
        row = conn.execute(
            f"select * from outbox where channel = :ch and batch_id is not null and ({due}) "
            "order by next_attempt_at, created_at limit 1", {"ch": channel, "now": now}).fetchone()
        if row is not None:
            rows = conn.execute(
                f"select * from outbox where channel = :ch and batch_id = :b and ({due})",
                {"ch": channel, "b": row["batch_id"], "now": now}).fetchall()
            bid, gk = row["batch_id"], row["group_key"]
        else:
            order = f"{SEVERITY_FIRST}, o.rowid" if per_alert else "o.rowid"
            fresh = conn.execute(
                f"select o.* from outbox o left join group_state g "
                f"on g.channel = o.channel and g.group_key = o.group_key "
                f"where o.channel = :ch and o.batch_id is null and ({due}) and {IN_ORDER} "
                f"and (:per_alert or g.last_sent_at is null or g.last_sent_at + :gi <= :now) "
                f"order by {order} limit 1",
                {"ch": channel, "now": now, "gi": group_interval_s, "per_alert": int(per_alert)}).fetchone()
            if fresh is None:
                return None
            gk = fresh["group_key"]
            if per_alert:
                rows = [fresh]
            else:
                rows = conn.execute(
                    f"select o.* from outbox o where o.channel = :ch and o.batch_id is null "
                    f"and o.group_key = :gk and ({due}) and {IN_ORDER} order by o.rowid limit :n",
                    {"ch": channel, "gk": gk, "now": now, "n": max_alerts}).fetchall()
            bid = batch_id_for([r["event_id"] for r in rows])
        keys = [(r["event_id"], channel) for r in rows]
        conn.executemany(
            "update outbox set status = 'sending', batch_id = ?, lease_until = ?, attempts = attempts + 1 "
            "where event_id = ? and channel = ?",
            [(bid, now + LEASE_S, e, c) for e, c in keys])
        rows = [dict(r) for r in rows]
    return Batch(channel, bid, gk, rows)


def _book(conn, channel: str, next_send_at: float | None) -> None:
    """The channel's next request no earlier than `next_send_at` (rate limit).

    Callers pass completion time + 1/rate: counting from the completion (not the start) keeps the
    spacing the receiver sees at or above the interval whatever the request's latency.
    """
    if next_send_at is None:
        return
    conn.execute("insert into channel_state (channel) values (?) on conflict do nothing", (channel,))
    conn.execute("update channel_state set next_send_at = ? where channel = ?", (next_send_at, channel))


def record_success(store: AlertStore, batch: Batch, status_code: int | None,
                   next_send_at: float | None = None) -> None:
    now = store.clock.now()
    with store.tx() as conn:
        _book(conn, batch.channel, next_send_at)
        conn.executemany(
            "update outbox set status = 'sent', sent_at = ?, last_status_code = ?, last_error = null, "
            "lease_until = null where event_id = ? and channel = ?",
            [(now, status_code, r["event_id"], batch.channel) for r in batch.rows])
        conn.execute(
            "insert into group_state values (?, ?, ?) on conflict (channel, group_key) "
            "do update set last_sent_at = excluded.last_sent_at", (batch.channel, batch.group_key, now))


def record_failure(store: AlertStore, batch: Batch, error: str, status_code: int | None, *,
                   permanent: bool, retry_after_s: float | None, backoff_base_s: float,
                   backoff_cap_s: float, give_up_after_s: float, rng: random.Random | None = None,
                   next_send_at: float | None = None) -> float | None:
    """Record a failed attempt. Returns when the batch is due again (None: given up, permanent).

    429 waits at least Retry-After (and blocks the whole channel that long); 5xx / timeouts back
    off exponentially, capped, with jitter in [delay/2, delay]. Permanent errors (and attempts
    past `give_up_after_s` since the notification was created) become status `failed`, which
    `alerts list` and alerts.notification_deliveries show.
    """
    rng = rng or random.Random()
    now = store.clock.now()
    attempts = max(r["attempts"] for r in batch.rows) + 1  # rows hold the count before this attempt
    oldest = min(r["created_at"] for r in batch.rows)
    give_up = permanent or (now - oldest) >= give_up_after_s
    with store.tx() as conn:
        _book(conn, batch.channel, next_send_at)
        if give_up:
            reason = error if permanent else f"gave up after {attempts} attempts: {error}"
            conn.executemany(
                "update outbox set status = 'failed', last_error = ?, last_status_code = ?, lease_until = null "
                "where event_id = ? and channel = ?",
                [(reason, status_code, r["event_id"], batch.channel) for r in batch.rows])
            return None
        if retry_after_s is not None:
            due = now + max(retry_after_s, 0.0)
            conn.execute("update channel_state set blocked_until = max(blocked_until, ?) where channel = ?",
                         (due, batch.channel))
        else:
            delay = min(backoff_cap_s, backoff_base_s * (2 ** max(attempts - 1, 0)))
            due = now + delay / 2 + rng.random() * delay / 2
        conn.executemany(
            "update outbox set status = 'pending', next_attempt_at = ?, last_error = ?, last_status_code = ?, "
            "lease_until = null where event_id = ? and channel = ?",
            [(due, error, status_code, r["event_id"], batch.channel) for r in batch.rows])
    return due


def pace(store: AlertStore, channel: str) -> None:
    """Wait until the channel may send again (its rate limit, booked when the last request ended)."""
    row = channel_state(store, channel)
    wait = (row["next_send_at"] if row else 0) - store.clock.now()
    if wait > 0:
        store.clock.sleep(wait)


def due_rows(store: AlertStore, group_interval_s: float = 0.0,
             ungrouped: tuple[str, ...] = ()) -> list[tuple[str, str, int]]:
    """(event id, channel, attempts) of the rows a delivery pass could send right now.

    Rows of a blocked channel (Retry-After) and fresh rows whose group got a message less than
    `group_interval_s` ago are not due yet, so the sensor does not request runs that cannot send.
    `ungrouped` names the channels that send each notification on its own (PagerDuty).
    """
    now = store.clock.now()
    marks = ",".join(f":u{i}" for i in range(len(ungrouped))) or "null"
    rows = store.query(
        "select o.event_id, o.channel, o.attempts from outbox o "
        "left join channel_state c on c.channel = o.channel "
        "left join group_state g on g.channel = o.channel and g.group_key = o.group_key "
        "where ((o.status = 'pending' and o.next_attempt_at <= :now) "
        "       or (o.status = 'sending' and o.lease_until <= :now)) "
        "and coalesce(c.blocked_until, 0) <= :now "
        f"and (o.batch_id is not null or {IN_ORDER}) "
        f"and (o.batch_id is not null or o.channel in ({marks}) "
        "     or g.last_sent_at is null or g.last_sent_at + :gi <= :now) "
        "order by 1, 2", {"now": now, "gi": group_interval_s, **{f"u{i}": u for i, u in enumerate(ungrouped)}})
    return [(r[0], r[1], int(r[2])) for r in rows]


def due_summary(store: AlertStore, group_interval_s: float = 0.0,
                ungrouped: tuple[str, ...] = ()) -> dict[str, Any]:
    """What is waiting: counts per status and the earliest retry, for the sensor and `alerts list`."""
    rows = store.query(
        "select channel, status, count(*) n, min(next_attempt_at) next_at from outbox "
        "where status in ('pending', 'sending', 'failed') group by 1, 2 order by 1, 2")
    nxt = store.query("select min(next_attempt_at) from outbox where status = 'pending'")[0][0]
    return {"due": len(due_rows(store, group_interval_s, ungrouped)), "next_attempt_at": nxt,
            "by_channel": [dict(r) for r in rows]}


def new_owner() -> str:
    return uuid.uuid4().hex
