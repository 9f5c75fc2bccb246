"""Mirror the alert state store into the warehouse (alerts.alert_events and friends).

The SQLite store is the source of truth (it must be writable by the sensor without waiting for the
DuckDB writer lock); the warehouse copy is what people query next to the rest of the data. Each
mirror replaces the three tables inside one warehouse transaction (delete, then insert from an
Arrow table), so it is idempotent and readers see all of one mirror or none of it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa

from aimatrix_pipeline.alerts.state import AlertStore
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.sql_files import load_sql


def _ts(v):
    return None if v is None else datetime.fromtimestamp(float(v), tz=UTC)


def _table(rows, spec: dict[str, tuple[str, pa.DataType, object]]) -> pa.Table:
    cols = {}
    for name, (src, typ, conv) in spec.items():
        cols[name] = pa.array([conv(r[src]) if conv else r[src] for r in rows], type=typ)
    return pa.table(cols)


TS = pa.timestamp("us", tz="UTC")


def mirror_to_warehouse(store: AlertStore, warehouse: WarehouseResource) -> dict[str, int]:
    version = store.state_version()  # read first: a change made while mirroring is mirrored next time
    incidents = store.query("select * from incidents order by detected_at, id")
    history = store.query("select * from incident_history order by at, rowid")
    deliveries = store.query("select * from outbox order by created_at, event_id, channel")
    events = _table(incidents, {
        "id": ("id", pa.string(), None), "rule_id": ("rule_id", pa.string(), None),
        "fingerprint": ("fingerprint", pa.string(), None), "title": ("title", pa.string(), None),
        "message": ("message", pa.string(), None), "severity": ("severity", pa.string(), None),
        "status": ("status", pa.string(), None), "fired_at": ("fired_at", TS, _ts),
        "resolved_at": ("resolved_at", TS, _ts), "resolved_by": ("resolved_by", pa.string(), None),
        "resolve_notes": ("resolve_notes", pa.string(), None), "metrics": ("metrics", pa.string(), None),
        "project": ("project", pa.string(), None), "check_key": ("check_key", pa.string(), None),
        "partition_key": ("partition", pa.string(), None), "kind": ("kind", pa.string(), None),
        "detected_at": ("detected_at", TS, _ts), "notified": ("notified", pa.bool_(), bool),
        "channels": ("channels", pa.list_(pa.string()), json.loads),
        "updated_at": ("updated_at", TS, _ts),
    })
    hist = _table(history, {
        "alert_id": ("alert_id", pa.string(), None), "at": ("at", TS, _ts),
        "status": ("status", pa.string(), None), "note": ("note", pa.string(), None),
    })
    deliv = _table(deliveries, {
        "event_id": ("event_id", pa.string(), None), "channel": ("channel", pa.string(), None),
        "alert_id": ("alert_id", pa.string(), None), "action": ("action", pa.string(), None),
        "status": ("status", pa.string(), None), "attempts": ("attempts", pa.int32(), None),
        "batch_id": ("batch_id", pa.string(), None), "detected_at": ("detected_at", TS, _ts),
        "created_at": ("created_at", TS, _ts), "next_attempt_at": ("next_attempt_at", TS, _ts),
        "sent_at": ("sent_at", TS, _ts), "last_status_code": ("last_status_code", pa.int32(), None),
        "last_error": ("last_error", pa.string(), None),
    })
    with warehouse.transaction() as conn:
        conn.register("src_events", events)
        conn.register("src_history", hist)
        conn.register("src_deliveries", deliv)
        conn.execute(load_sql("warehouse/alerts/mirror.sql"))
        for name in ("src_events", "src_history", "src_deliveries"):
            conn.unregister(name)
    store.set_mirrored_version(version)
    open_alerts = sum(1 for r in incidents if r["status"] in ("pending", "firing"))
    return {"open_alerts": open_alerts, "alert_events": events.num_rows, "alert_event_history": hist.num_rows,
            "notification_deliveries": deliv.num_rows}
