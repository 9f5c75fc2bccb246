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

import os
import sys

import dagster as dg
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


class MissingStorageUrl(SystemExit):
    """DAGSTER_PG_URL (or the variable dagster.yaml names) is unset: one line and exit 2, not a
    traceback from inside Dagster's config machinery."""


class PostgresStorage(DagsterPostgresStorage):
    """dagster-postgres' storage; accepts `postgresql://` and `postgres://` URLs (see module doc).

    `postgres_url_env` names the variable holding the URL; it is read here rather than through
    Dagster's `env:` source so that an unset variable is one clear line (which also says how to
    run without it) instead of Dagster's config traceback.
    """

    @classmethod
    def config_type(cls):  # noqa: D102 - dagster's hook
        fields = dict(DagsterPostgresStorage.config_type())
        fields["postgres_url_env"] = dg.Field(str, is_required=False)
        return fields

    @classmethod
    def from_config_value(cls, inst_data, config_value):  # noqa: D102 - dagster's hook
        config = dict(config_value)
        env_name = config.pop("postgres_url_env", None)
        if env_name and not config.get("postgres_url") and not config.get("postgres_db"):
            url = os.environ.get(env_name, "").strip()
            if not url:
                print(f"configuration error: {env_name} is not set: this dagster.yaml keeps Dagster's "
                      f"storage in PostgreSQL at {env_name}; set it, or run `aimatrix-pipeline watch` "
                      "(storage in an embedded PostgreSQL)", file=sys.stderr, flush=True)
                raise MissingStorageUrl(2)
            config["postgres_url"] = url
        if config.get("postgres_url"):
            config["postgres_url"] = dagster_pg_url(config["postgres_url"])
        elif isinstance(config.get("postgres_db"), dict):
            db = dict(config["postgres_db"])
            if (db.get("scheme") or "postgresql").lower() in _POSTGRES_SCHEMES:
                db["scheme"] = PSYCOPG2
            config["postgres_db"] = db
        return DagsterPostgresStorage.from_config_value(inst_data, config)
