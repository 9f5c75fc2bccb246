"""Delivery: drain the outbox, one independent worker per channel.

Runs inside the delivery run (`alert_delivery_job`), the `aimatrix-pipeline alerts deliver`
worker, and, within a deadline, inside the alert sensor's tick (alerts/sensors.py: a page should
not wait for a run process to start). Each channel gets its own thread and its own lease, pacing and
Retry-After block, so a Slack outage (timeouts, 500s) never delays PagerDuty or email
(docs/alerting-guarantees.md, 12). A pass ends when nothing is due any more; what is waiting for
a retry stays in the outbox for the next pass.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from aimatrix_pipeline.alerts import outbox
from aimatrix_pipeline.alerts.channels import build_channel
from aimatrix_pipeline.alerts.state import AlertStore
from aimatrix_pipeline.shared.rules import RuleSet


@dataclass
class ChannelStats:
    messages_sent: int = 0
    notifications_sent: int = 0
    attempts_failed: int = 0
    notifications_given_up: int = 0
    errors: list[str] = field(default_factory=list)


def _past(store: AlertStore, name: str, deadline: float | None) -> bool:
    """No new request after `deadline`, nor one the channel's pacing would start after it."""
    if deadline is None:
        return False
    state = outbox.channel_state(store, name)
    start = max(store.clock.now(), (state["next_send_at"] or 0.0) if state else 0.0)
    return start >= deadline


def deliver_channel(store: AlertStore, rules: RuleSet, name: str, environ: Mapping[str, str] | None = None,
                    max_batches: int | None = None, deadline: float | None = None) -> ChannelStats:
    """Send the channel's due messages until none is due, `max_batches` were sent, or `deadline`
    (epoch seconds on the store's clock) has passed; what is left stays in the outbox."""
    cfg = rules.channel(name)
    stats = ChannelStats()
    owner = outbox.new_owner()
    if not outbox.acquire_channel(store, name, owner):
        stats.errors.append("another deliverer holds this channel")
        return stats
    channel = build_channel(cfg, rules.settings.timeout_s, store.clock, environ)
    s = rules.settings
    renewed = store.clock.now()
    try:
        n = 0
        while (max_batches is None or n < max_batches) and not _past(store, name, deadline):
            batch = outbox.claim_batch(store, name, channel.per_alert, s.group_interval_s)
            if batch is None:
                break
            n += 1
            outbox.pace(store, name)
            try:
                result = channel.send(batch)
            except Exception as exc:  # a bug or missing env var: keep the rows, report it
                from aimatrix_pipeline.alerts.channels.base import SendResult

                result = SendResult(False, None, f"{type(exc).__name__}: {exc}")
            next_send_at = store.clock.now() + 1.0 / cfg.rate_per_second
            if result.ok:
                outbox.record_success(store, batch, result.status_code, next_send_at)
                stats.messages_sent += 1
                stats.notifications_sent += len(batch.rows)
            else:
                due = outbox.record_failure(
                    store, batch, result.error, result.status_code, permanent=result.permanent,
                    retry_after_s=result.retry_after_s, backoff_base_s=s.backoff_base_s,
                    backoff_cap_s=s.backoff_cap_s, give_up_after_s=s.max_attempt_age_s,
                    next_send_at=next_send_at)
                stats.attempts_failed += 1
                stats.errors.append(result.error)
                if due is None:
                    stats.notifications_given_up += len(batch.rows)
            if store.clock.now() - renewed > outbox.LEASE_S / 4:
                outbox.acquire_channel(store, name, owner)  # renew the lease
                renewed = store.clock.now()
    finally:
        channel.close()
        outbox.release_channel(store, name, owner)
    return stats


def deliver(store: AlertStore, rules: RuleSet, environ: Mapping[str, str] | None = None,
            channels: list[str] | None = None, deadline: float | None = None) -> dict[str, ChannelStats]:
    """One delivery pass over every channel that has rows, channels in parallel threads.

    With a `deadline` no channel starts a request after it (a request under way finishes, bounded
    by the rules' `timeout`); the rest waits in the outbox for the next pass.
    """
    now = store.clock.now()
    due = [r[0] for r in store.query(
        "select distinct o.channel from outbox o left join channel_state c on c.channel = o.channel "
        "where ((o.status = 'pending' and o.next_attempt_at <= ?) or (o.status = 'sending' and o.lease_until <= ?)) "
        "and coalesce(c.blocked_until, 0) <= ?", (now, now, now))]
    names = [n for n in (channels or due) if n in due]
    names = [n for n in names if any(c.name == n for c in rules.channels)]
    results: dict[str, ChannelStats] = {}

    def run(name: str) -> None:
        results[name] = deliver_channel(store, rules, name, environ, deadline=deadline)

    threads = [threading.Thread(target=run, args=(n,), name=f"deliver-{n}") for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
