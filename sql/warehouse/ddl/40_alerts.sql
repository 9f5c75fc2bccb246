-- alerts.*: every alert with its history and delivery state, mirrored from the alert state store
-- (the SQLite outbox next to the warehouse) by the delivery run and the `alerts` commands.
-- The state store is the source of truth; these tables are replaced as a whole on each mirror.
create schema if not exists alerts;

-- The alert table: one row per incident (an alert from its first failing evaluation to
-- its resolution). status: pending | firing | resolved | normal (recovered before it fired).
create table if not exists alerts.alert_events (
    id varchar not null,            -- incident id (stable: derived from fingerprint + sequence)
    rule_id varchar not null,       -- rule id, or the check key for checks no rule names
    fingerprint varchar not null,   -- (project, check, partition) -> stable, <= 255 chars
    title varchar not null,
    message varchar not null,
    severity varchar not null,      -- low | medium | high | critical
    status varchar not null,
    fired_at timestamptz,
    resolved_at timestamptz,
    resolved_by varchar,
    resolve_notes varchar,
    metrics json,                   -- latest evaluation's values (check metadata)
    project varchar,
    check_key varchar,              -- asset/key:check_name
    partition_key varchar,
    kind varchar,                   -- data | could_not_evaluate
    detected_at timestamptz,        -- evaluation time of the first failing evaluation
    notified boolean,               -- a FIRING was queued for this incident
    channels varchar[],             -- channels the FIRING went to
    updated_at timestamptz
);

create table if not exists alerts.alert_event_history (
    alert_id varchar not null,
    "at" timestamptz not null,
    status varchar not null,        -- pending | firing | notified | reminder | resolved | normal
    note varchar
);

-- One row per notification and channel (the outbox).
create table if not exists alerts.notification_deliveries (
    event_id varchar not null,
    channel varchar not null,
    alert_id varchar not null,
    action varchar not null,        -- firing | resolved | reminder
    status varchar not null,        -- pending | sending | sent | failed
    attempts integer,
    batch_id varchar,               -- message id on the wire (webhook-id, email Message-ID)
    detected_at timestamptz,
    created_at timestamptz,
    next_attempt_at timestamptz,
    sent_at timestamptz,
    last_status_code integer,
    last_error varchar
);
