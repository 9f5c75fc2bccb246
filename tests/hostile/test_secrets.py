"""Secrets in DSNs: a password with '@', ':' and '/' must not reach Dagster's event log, the
materialization metadata, the compute logs or the warehouse.

Written without percent-encoding, such a password makes the driver split the DSN in the wrong
place; its connection-failure message then carries pieces of the password (as a host name or a
port) where no DSN pattern would find them. The connection attempts here are real, against the
test PostgreSQL on 127.0.0.1; the Dagster instance is a real one on disk, whose files (event log
database, compute logs) are searched byte by byte.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import dagster as dg
import pytest

from aimatrix_pipeline.cost.assets import usage_daily
from aimatrix_pipeline.extract.assets import APP_LOG_ASSETS, SNAPSHOT_ASSETS
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.source_postgres import (
    WITHHELD,
    SourcePostgresResource,
    SourceUnavailable,
    dsn_secrets,
    redact_dsn,
)
from aimatrix_pipeline.resources.supabase_api import SupabaseApiResource

# the host piece is an IP literal, so the misparsed DSN never causes a name lookup
PASSWORD = "Zq7@127.0.0.9:Wm4/Pd2x"
PIECES = ["Zq7", "127.0.0.9", "Wm4", "Pd2x"]


def _dsns(server) -> dict[str, str]:
    host, port = "127.0.0.1", server.port
    return {
        "unencoded": f"postgresql://monitor:{PASSWORD}@{host}:{port}/postgres",
        "percent-encoded": f"postgresql://monitor:{quote(PASSWORD, safe='')}@{host}:{port}/postgres",
        "keywords": f"host={host} port={port} dbname=postgres user=monitor password='{PASSWORD}'",
    }


def _leaks(text: str) -> list[str]:
    return [s for s in [PASSWORD, quote(PASSWORD, safe=""), *PIECES] if s in text]


@pytest.mark.parametrize("form", ["unencoded", "percent-encoded", "keywords"])
def test_secrets_of_a_dsn_cover_the_password_and_its_pieces(pg18, form):
    secrets = dsn_secrets(_dsns(pg18)[form])
    assert PASSWORD in secrets and set(PIECES) <= set(secrets)
    assert _leaks(redact_dsn(f"host '{PIECES[1]}' port \"{PIECES[2]}\" {PASSWORD}", _dsns(pg18)[form])) == []


@pytest.mark.parametrize("form", ["unencoded", "percent-encoded"])
@pytest.mark.parametrize("driver", ["psycopg", "adbc"])
def test_a_real_failed_connection_names_no_part_of_the_password(pg18, monkeypatch, tmp_path, form, driver):
    monkeypatch.setenv("HOSTILE_DB_URL", _dsns(pg18)[form])
    source = SourcePostgresResource(slot_dir=str(tmp_path / "slots"))
    connect = source.connect if driver == "psycopg" else source.connect_adbc
    try:
        with connect("HOSTILE_DB_URL"):
            pass
        message = ""
    except SourceUnavailable as exc:
        message = str(exc)
    if form == "unencoded":
        # the driver really failed, and its message really carried a piece of the password
        assert "cannot connect to the database in $HOSTILE_DB_URL" in message
        assert "***" in message and "%40" in message  # masked, with the hint to encode
    assert _leaks(message) == []


@pytest.fixture
def instance_dir(tmp_path) -> Path:
    return tmp_path / "dagster_home"


def test_password_pieces_never_reach_event_log_metadata_compute_logs_or_warehouse(
        pg18, warehouse, monkeypatch, tmp_path, instance_dir):
    """Single-database mode with the hostile DSN in SUPABASE_DB_URL: the extract assets fail to
    connect (psycopg and ADBC), the usage asset records the database items as unknown with the
    reason. Nothing persisted anywhere holds the password or any piece of it."""
    monkeypatch.delenv("AIMATRIX_PROJECTS_FILE", raising=False)
    monkeypatch.delenv("SUPABASE_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("SUPABASE_DB_URL", _dsns(pg18)["unencoded"])
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", warehouse.path)
    source = SourcePostgresResource(slot_dir=str(tmp_path / "slots"))
    resources = {"warehouse": warehouse, "source": source, "supabase_api": SupabaseApiResource(),
                 "settings": SettingsResource()}
    instance_dir.mkdir()
    with dg.instance_for_test(temp_dir=str(instance_dir)) as instance:
        extract = dg.materialize([*SNAPSHOT_ASSETS[:3], APP_LOG_ASSETS[0]], partition_key="default",
                                 resources=resources, instance=instance, raise_on_error=False)
        usage = dg.materialize([usage_daily], partition_key="2026-03-02", resources=resources,
                               instance=instance, raise_on_error=False)
        assert not extract.success  # the connection attempts really failed ...
        failures = [e for e in extract.all_events if e.event_type_value == "STEP_FAILURE"]
        assert len(failures) == 4
        assert usage.success
        records = [r for run in (extract.run_id, usage.run_id) for r in instance.all_logs(run)]
        event_log = "\n".join(dg.serialize_value(r) for r in records)
        assert "cannot connect to the database in $SUPABASE_DB_URL" in event_log  # ... and were logged
        assert _leaks(event_log) == []
        meta = usage.asset_materializations_for_node("raw__usage_daily")[0].metadata
        assert "cannot connect" in str(meta["unknown_because"].value)
        assert _leaks(str(meta)) == []

    with warehouse.reader() as conn:
        details = [r[0] for r in conn.execute(
            "select distinct detail from raw.usage_daily where source = 'database'").fetchall()]
        everything = conn.execute(
            "select string_agg(coalesce(detail, ''), ' ') from raw.usage_daily").fetchone()[0]
    assert details and all("cannot connect to the database in $SUPABASE_DB_URL" in d for d in details)
    assert _leaks(everything) == []

    # every file the instance wrote: the event log database, run storage, compute logs
    files = [p for p in instance_dir.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        for secret in (PASSWORD, *PIECES):
            assert secret.encode() not in data, f"{secret!r} in {path}"


# libpq's messages, as a failed connection writes them for postgresql://monitor:<password>@127.0.0.1:5432/postgres
AUTH_FAILED = ('connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication '
               'failed for user "monitor"')
MASKED_WHOLE = 'connection to server at "***", port *** failed: FATAL:  password authentication failed for user "***"'


@pytest.mark.parametrize("password, message, expected", [
    # the password is the user name: `user "***"` would tell it
    ("monitor", AUTH_FAILED, MASKED_WHOLE),
    # the password is the host: `server at "***"` would tell it
    ("127.0.0.1", AUTH_FAILED, MASKED_WHOLE),
    # the password is the port, or a word of the message itself
    ("5432", AUTH_FAILED, MASKED_WHOLE),
    ("failed", AUTH_FAILED, WITHHELD),
    # pieces under 3 characters: `ab@cd` split at the '@' showed cd@127.0.0.1
    ("ab@cd", 'could not translate host name "cd@127.0.0.1" to address: Name or service not known',
     'could not translate host name "***" to address: Name or service not known'),
    ("x", AUTH_FAILED, MASKED_WHOLE),
    # control: a password that stands apart is masked where it appears, and the rest stays readable
    ("Zq7longer", AUTH_FAILED, AUTH_FAILED),
    ("Zq7longer", 'could not translate host name "Zq7longer" to address', 'could not translate host name "***" to address'),
    # outside quotes the password cannot be told from a word of the message: nothing of it is shown
    ("Zq7longer", "invalid password Zq7longer here", WITHHELD),
])
def test_redaction_never_points_at_the_password(password, message, expected):
    dsn = f"postgresql://monitor:{password}@127.0.0.1:5432/postgres"
    assert redact_dsn(message, dsn) == expected


@pytest.mark.parametrize("dsn, shown", [
    ("postgresql://monitor:monitor@127.0.0.1:5432/postgres", "postgresql://monitor:***@127.0.0.1:5432/postgres"),
    ("postgresql://u:ab@cd@127.0.0.1:5432/db", "postgresql://u:***@127.0.0.1:5432/db"),
    ("host=127.0.0.1 user=monitor password='mon itor' dbname=postgres",
     "host=127.0.0.1 user=monitor password=*** dbname=postgres"),
])
def test_a_dsn_loses_its_password_by_position(dsn, shown):
    from aimatrix_pipeline.resources.source_postgres import masked_dsn

    assert masked_dsn(dsn) == shown


@pytest.mark.parametrize("password", ["monitor", "127.0.0.1"])
def test_a_real_failed_login_whose_password_matches_the_message_names_neither(pg18, monkeypatch, tmp_path, password):
    """A real connection refused by the server (an unknown database), with the issue's passwords
    (`ab@cd` only in the table above: split at its '@' it names a host that would be looked up)."""
    port = pg18.port
    dsn = f"postgresql://monitor:{password}@127.0.0.1:{port}/no_such_db_{abs(hash(password))}"
    monkeypatch.setenv("HOSTILE_DB_URL", dsn)
    source = SourcePostgresResource(slot_dir=str(tmp_path / "slots"))
    with pytest.raises(SourceUnavailable) as raised:
        with source.connect("HOSTILE_DB_URL"):
            pass
    message = str(raised.value)
    assert "cannot connect to the database in $HOSTILE_DB_URL" in message
    assert password not in message, message
    assert "***" in message
