"""Timestamped auth and storage data in a real demo database, with hand-derived expectations."""

from __future__ import annotations

import datetime as dt
import json
import uuid

REF = "abcdefghijklmnopqrst"
UTC = dt.UTC

USERS = {name: uuid.UUID(int=i + 1) for i, name in enumerate(["u1", "u2", "u3", "u4", "u5"])}


def ts(y, m, d, h=12, mi=0, s=0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, s, tzinfo=UTC)


# (user, action, when)
AUDIT = [
    ("u1", "login", ts(2026, 3, 2, 8)),
    ("u1", "token_refreshed", ts(2026, 3, 5)),
    ("u2", "login", ts(2026, 3, 2, 9)),           # SSO user
    ("u4", "user_signedup", ts(2026, 3, 3)),      # not an activity that counts
    ("u3", "token_refreshed", ts(2026, 3, 10)),   # anonymous user
    ("u5", "login", ts(2026, 3, 31, 23, 59, 59)),
    ("u1", "token_refreshed", ts(2026, 4, 1, 0, 0, 1)),
    ("u4", "login", ts(2026, 4, 15)),
    ("u1", "token_refreshed", ts(2026, 4, 16)),
    ("u5", "login", ts(2026, 5, 20)),
]
# day -> (mau, sso_mau, anonymous_mau), every other day of March-May is (0, 0, 0)
EXPECTED_MAU = {
    dt.date(2026, 3, 2): (2, 1, 0),
    dt.date(2026, 3, 10): (1, 0, 1),
    dt.date(2026, 3, 31): (1, 0, 0),
    dt.date(2026, 4, 1): (1, 0, 0),
    dt.date(2026, 4, 15): (1, 0, 0),
    dt.date(2026, 5, 20): (1, 0, 0),
}

# (bucket, name, created_at, size as stored in metadata)
OBJECTS = [
    ("avatars", "a1.png", ts(2026, 3, 1), 1000),
    ("avatars", "big.bin", ts(2026, 3, 15), 3_000_000_000),  # beyond int4: must be read as bigint
    ("docs", "d2.pdf", ts(2026, 2, 1), 500),
    ("docs", "d1.pdf", ts(2026, 4, 10), "12x"),              # not a number: counted 0, reported
]


def expected_storage(day: dt.date) -> dict[str, int]:
    out = {"avatars": 0, "docs": 0}
    for bucket, _name, created, size in OBJECTS:
        if created.date() <= day and isinstance(size, int):
            out[bucket] += size
    return out


def seed(db, *, audit: bool = True) -> None:
    with db.connect(autocommit=True) as conn:
        for name, uid in USERS.items():
            conn.execute(
                "insert into auth.users (id, email, is_sso_user, is_anonymous, created_at) "
                "values (%s, %s, %s, %s, %s)",
                (uid, f"{name}@example.test", name == "u2", name == "u3", ts(2026, 1, 1)),
            )
        if audit:
            for i, (user, action, when) in enumerate(AUDIT):
                payload = {"actor_id": str(USERS[user]), "action": action, "log_type": "account",
                           "actor_via_sso": user == "u2"}
                conn.execute(
                    "insert into auth.audit_log_entries (id, payload, created_at) values (%s, %s::json, %s)",
                    (uuid.UUID(int=1000 + i), json.dumps(payload), when),
                )
        for bucket in ("avatars", "docs"):
            conn.execute("insert into storage.buckets (id, name) values (%s, %s)", (bucket, bucket))
        for bucket, name, created, size in OBJECTS:
            conn.execute(
                "insert into storage.objects (bucket_id, name, created_at, metadata) values (%s, %s, %s, %s::jsonb)",
                (bucket, name, created, json.dumps({"size": size, "mimetype": "application/octet-stream"})),
            )


def seed_sign_ins_only(db) -> None:
    """The audit log is off: only last_sign_in_at and session activity remain."""
    seed(db, audit=False)
    with db.connect(autocommit=True) as conn:
        conn.execute("update auth.users set last_sign_in_at = %s where id = %s", (ts(2026, 3, 4), USERS["u1"]))
        conn.execute("update auth.users set last_sign_in_at = %s where id = %s", (ts(2026, 2, 20), USERS["u2"]))
        conn.execute(
            "insert into auth.sessions (id, user_id, created_at, updated_at, refreshed_at) values (%s, %s, %s, %s, %s)",
            (uuid.UUID(int=5000), USERS["u2"], ts(2026, 2, 20), ts(2026, 3, 6), dt.datetime(2026, 3, 6, 7, 0)),
        )
