"""`aimatrix-pipeline alerts list|resolve|silence|deliver|rules`.

These work on the alert state store (the SQLite file next to the warehouse, the source of truth)
and then refresh the alerts.* mirror in the warehouse when the writer lock is free within a few
seconds (otherwise the next delivery run refreshes it). `resolve` resolves by hand:
who and notes are recorded, and channels that were told about the alert get a RESOLVED.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime


def _store_and_rules():
    from aimatrix_pipeline.alerts.state import AlertStore, default_state_path
    from aimatrix_pipeline.shared.rules import load_rules

    return AlertStore(default_state_path()), load_rules()


def _ts(v) -> str | None:
    return None if v is None else datetime.fromtimestamp(v, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _mirror(store) -> None:
    from aimatrix_pipeline.alerts.mirror import mirror_to_warehouse
    from aimatrix_pipeline.resources.warehouse import WarehouseLockTimeout, warehouse_from_env

    wh = warehouse_from_env().model_copy(update={"lock_timeout_s": 5.0})
    try:
        mirror_to_warehouse(store, wh)
    except WarehouseLockTimeout:
        print("note: the warehouse is busy; alerts.alert_events is refreshed by the next delivery run",
              file=sys.stderr)


def cmd_list(args) -> int:
    from aimatrix_pipeline.alerts import outbox
    from aimatrix_pipeline.shared.cli_output import EXIT_OK, write_result

    store, _ = _store_and_rules()
    try:
        where, params = [], []
        if args.status:
            where.append("status = ?")
            params.append(args.status)
        elif not args.all:
            where.append("status in ('pending', 'firing')")
        sql = ("select id, status, severity, rule_id, project, partition, detected_at, fired_at, resolved_at, "
               "resolved_by, resolve_notes, title from incidents")
        if where:
            sql += " where " + " and ".join(where)
        rows = store.query(sql + " order by detected_at desc limit ?", (*params, args.limit))
        cols = ["id", "status", "severity", "rule_id", "project", "partition", "detected_at", "fired_at",
                "resolved_at", "resolved_by", "resolve_notes", "title"]
        out = [tuple(_ts(r[c]) if c.endswith("_at") else r[c] for c in cols) for r in rows]
        write_result(cols, out, args.format)
        failed = [r for r in outbox.due_summary(store)["by_channel"] if r["status"] == "failed"]
        for r in failed:
            print(f"warning: {r['n']} notification(s) to {r['channel']} failed permanently "
                  "(see alerts.notification_deliveries)", file=sys.stderr)
    finally:
        store.close()
    return EXIT_OK


def cmd_resolve(args) -> int:
    from aimatrix_pipeline.alerts.state import AlertStateMachine
    from aimatrix_pipeline.shared.cli_output import EXIT_OK, EXIT_USAGE

    store, rules = _store_and_rules()
    try:
        if not AlertStateMachine(store, rules).resolve(args.alert_id, args.by, args.notes):
            print(f"error: no alert with id {args.alert_id!r} (see `aimatrix-pipeline alerts list --all`)",
                  file=sys.stderr)
            return EXIT_USAGE
        print(f"resolved {args.alert_id} by {args.by}")
        _mirror(store)
    finally:
        store.close()
    return EXIT_OK


def _until(args) -> float:
    from aimatrix_pipeline.settings import ConfigError
    from aimatrix_pipeline.shared.rules import parse_duration

    if bool(args.until) == bool(args.duration):
        raise ConfigError("give exactly one of --until or --for")
    if args.duration:
        return time.time() + parse_duration(args.duration, "--for")
    try:
        when = datetime.fromisoformat(args.until)
    except ValueError:
        raise ConfigError(f"--until must be an ISO time such as 2026-12-01T08:00Z, got {args.until!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when.timestamp() <= time.time():
        raise ConfigError("--until is in the past")
    return when.timestamp()


def cmd_silence(args) -> int:
    from aimatrix_pipeline.alerts.state import AlertStateMachine
    from aimatrix_pipeline.shared.cli_output import EXIT_OK

    until = _until(args)
    store, rules = _store_and_rules()
    try:
        sid = AlertStateMachine(store, rules).silence(args.rule_id, until, args.by, args.reason)
    finally:
        store.close()
    print(f"silence {sid}: rule {args.rule_id} silenced until {_ts(until)}")
    return EXIT_OK


def cmd_deliver(args) -> int:
    """A delivery worker outside Dagster (e.g. a systemd service), same outbox, same guarantees."""
    from aimatrix_pipeline.alerts.delivery import deliver
    from aimatrix_pipeline.shared.cli_output import EXIT_OK

    store, rules = _store_and_rules()
    try:
        while True:
            stats = deliver(store, rules)
            for name, s in stats.items():
                print(f"{name}: {s.messages_sent} sent, {s.attempts_failed} failed attempts")
            if stats:
                _mirror(store)
            if not args.loop:
                break
            time.sleep(args.interval)
    finally:
        store.close()
    return EXIT_OK


def cmd_rules(args) -> int:
    from aimatrix_pipeline.shared.cli_output import EXIT_OK, write_result

    _, rules = _store_and_rules()
    rows = [(r.id, r.severity, r.metric or r.check, r.operator or "", "" if r.threshold is None else f"{r.threshold:g}",
             ",".join(r.channels), f"{r.suppression_window_s:g}s") for r in rules.rules]
    write_result(["id", "severity", "metric_or_check", "op", "threshold", "channels", "suppression"], rows,
                 args.format)
    for c in rules.channels:
        optional = c.optional_env()
        state = "enabled" if c.enabled() else "disabled (set " + ", ".join(c.required_env()) + ")"
        if optional:
            state += "; optional: " + ", ".join(optional)
        print(f"channel {c.name} ({c.type}): {state}", file=sys.stderr)
    return EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser("alerts", help="list, resolve and silence alerts; run the delivery worker")
    sub = p.add_subparsers(dest="alerts_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    q = sub.add_parser("list", help="open alerts (or --all / --status) from the alert state store")
    q.add_argument("--status", choices=("pending", "firing", "resolved", "normal"), help="only alerts in this state")
    q.add_argument("--all", action="store_true", help="include resolved alerts")
    q.add_argument("--limit", type=int, default=200)
    q.add_argument("--format", choices=("table", "csv", "json"), default="table")
    q.set_defaults(func=cmd_list)

    q = sub.add_parser("resolve", help="resolve an alert by id (and tell the channels that got it)")
    q.add_argument("alert_id", help="the id column of `alerts list`")
    q.add_argument("--by", required=True, help="who resolved it")
    q.add_argument("--notes", help="what was done")
    q.set_defaults(func=cmd_resolve)

    q = sub.add_parser("silence", help="silence a rule until a time: state keeps updating, nothing is sent")
    q.add_argument("rule_id", help="a rule id from `alerts rules`")
    q.add_argument("--until", help="ISO time, UTC unless it has an offset")
    q.add_argument("--for", dest="duration", help="a duration such as 30m, 2h, 1d")
    q.add_argument("--by")
    q.add_argument("--reason")
    q.set_defaults(func=cmd_silence)

    q = sub.add_parser("deliver", help="deliver due notifications now (with --loop: as a worker)")
    q.add_argument("--loop", action="store_true", help="keep delivering every --interval seconds until Ctrl-C")
    q.add_argument("--interval", type=float, default=10.0, help="seconds between passes with --loop (default 10)")
    q.set_defaults(func=cmd_deliver)

    q = sub.add_parser("rules", help="validate and print the alert rules and which channels are enabled")
    q.add_argument("--format", choices=("table", "csv", "json"), default="table")
    q.set_defaults(func=cmd_rules)
