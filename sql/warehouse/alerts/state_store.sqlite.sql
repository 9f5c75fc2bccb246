-- The alert state store: a small SQLite file (WAL) next to the warehouse, shared by the sensor
-- (which decides), the delivery run or worker (which sends) and the `alerts` commands.
-- Everything here is durable; every write happens in one BEGIN IMMEDIATE transaction.

-- Per asset check: the id of the last execution record already turned into state transitions.
create table if not exists check_cursor (
    check_key text primary key,
    last_id integer not null
);

-- Per asset check: records above its cursor that were already applied. A record whose run is
-- still going (PLANNED) holds the cursor back, but only its own partition waits: later records
-- of other partitions (other projects of the same batch run) are applied at once and listed here,
-- so the next tick skips them. Rows at or below the cursor are deleted as it moves.
create table if not exists check_applied_ahead (
    check_key text not null,
    record_id integer not null,
    primary key (check_key, record_id)
);

-- Current state per fingerprint (project, check, partition) and kind (data | could_not_evaluate).
create table if not exists alert_state (
    fingerprint text primary key,
    kind text not null,
    project text not null,
    check_key text not null,
    partition text,
    rule_id text not null,
    status text not null,               -- normal | pending | firing | resolved
    fail_streak integer not null default 0,
    incident_seq integer not null default 0,
    alert_id text,                      -- current (or last) incident
    hold_until real,                    -- no FIRING before this (suppression window)
    last_notified_at real,              -- last FIRING or reminder queued
    last_evaluated_at real,
    last_record_id integer
);

-- One row per incident: what alerts.alert_events mirrors.
create table if not exists incidents (
    id text primary key,
    fingerprint text not null,
    kind text not null,
    rule_id text not null,
    project text not null,
    check_key text not null,
    partition text,
    title text not null,
    message text not null,
    severity text not null,
    status text not null,               -- pending | firing | resolved | normal (recovered while pending)
    detected_at real not null,          -- evaluation time of the first failing evaluation
    fired_at real,
    resolved_at real,
    resolved_by text,
    resolve_notes text,
    notified integer not null default 0,  -- FIRING queued for this incident
    channels text not null default '[]',  -- JSON: channels the FIRING went to
    metrics text not null default '{}',   -- JSON: latest evaluation's values
    updated_at real not null
);
create index if not exists incidents_fingerprint on incidents (fingerprint);

create table if not exists incident_history (
    alert_id text not null,
    at real not null,
    status text not null,
    note text
);
create index if not exists incident_history_alert on incident_history (alert_id);

create table if not exists silences (
    id integer primary key autoincrement,
    rule_id text not null,
    starts_at real not null,
    ends_at real not null,
    created_by text,
    reason text
);

-- The outbox: one row per notification and channel, keyed by the notification's event id.
create table if not exists outbox (
    event_id text not null,
    channel text not null,
    alert_id text not null,
    fingerprint text not null,
    action text not null,               -- firing | resolved | reminder
    group_key text not null,
    payload text not null,              -- JSON: the alert as the channels render it
    detected_at real not null,
    created_at real not null,
    status text not null default 'pending',  -- pending | sending | sent | failed
    batch_id text,                      -- message id, fixed at the first attempt (webhook-id)
    attempts integer not null default 0,
    next_attempt_at real not null,
    lease_until real,
    last_error text,
    last_status_code integer,
    sent_at real,
    primary key (event_id, channel)
);
create index if not exists outbox_due on outbox (channel, status, next_attempt_at);
create index if not exists outbox_alert_order on outbox (channel, fingerprint, status);

-- Per channel: pacing (rate limit), Retry-After blocks, and a lease so one deliverer per channel.
create table if not exists channel_state (
    channel text primary key,
    next_send_at real not null default 0,
    blocked_until real not null default 0,
    lease_owner text,
    lease_until real not null default 0
);

-- Per channel and group: when the last message went out (one message per group interval).
create table if not exists group_state (
    channel text not null,
    group_key text not null,
    last_sent_at real not null,
    primary key (channel, group_key)
);

-- What the alerts.* warehouse mirror last reflected (AlertStore.state_version): the sensor
-- requests a mirror when the state changed, also when no notification is due (no channel).
create table if not exists mirror_state (
    id integer primary key check (id = 1),
    version text not null,
    mirrored_at real not null
);
