"""Dagster's run/event/schedule storage on PostgreSQL, for any PostgreSQL URL a user gives it.

dagster-postgres talks to PostgreSQL through SQLAlchemy and announces run events with
`NOTIFY run_events, %(notify_id)s`, a bound parameter that only works with psycopg2 (it binds on
the client). Since SQLAlchemy 2.1 a plain `postgresql://` URL, the form Dagster's own docs use,
selects psycopg 3, which binds on the server, and NOTIFY takes no parameters: the first run event
fails with `syntax error at or near "$1"`. This storage is dagster-postgres' own with the driver
named in the URL (`postgresql+psycopg2://`; psycopg2-binary comes with dagster-postgres), so
DAGSTER_PG_URL may be given either way. dagster.yaml selects it as `storage: custom:`.
"""

from __future__ import annotations

from dagster_postgres import DagsterPostgresStorage

PSYCOPG2 = "postgresql+psycopg2"
# schemes that end up on psycopg 3 under SQLAlchemy 2.1 (or are psycopg2 already)
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")


def dagster_pg_url(url: str) -> str:
    """`url` with the psycopg2 driver named; other drivers (e.g. pg8000) are left alone."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in _POSTGRES_SCHEMES:
        return f"{PSYCOPG2}://{rest}"
    return url


class PostgresStorage(DagsterPostgresStorage):
    """dagster-postgres' storage; accepts `postgresql://` and `postgres://` URLs (see module doc)."""

    @classmethod
    def from_config_value(cls, inst_data, config_value):  # noqa: D102 - dagster's hook
        config = dict(config_value)
        if config.get("postgres_url"):
            config["postgres_url"] = dagster_pg_url(config["postgres_url"])
        elif isinstance(config.get("postgres_db"), dict):
            db = dict(config["postgres_db"])
            if (db.get("scheme") or "postgresql").lower() in _POSTGRES_SCHEMES:
                db["scheme"] = PSYCOPG2
            config["postgres_db"] = db
        return DagsterPostgresStorage.from_config_value(inst_data, config)
