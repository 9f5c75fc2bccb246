"""Errors keep their cause: an expected failure (here a real refused connection) becomes a Dagster
Failure chained to what happened, without the DSN's password; a bug is not disguised as a
Failure, it fails the step as itself with its own traceback."""

from __future__ import annotations

import socket

import dagster as dg

from aimatrix_pipeline.extract import snapshots
from aimatrix_pipeline.extract.assets import SNAPSHOT_ASSETS
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource

PASSWORD = "Vx8-never-logged"


def _closed_port() -> int:
    with socket.socket() as s:  # bound and closed again: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(warehouse, monkeypatch, tmp_path):
    monkeypatch.delenv("AIMATRIX_PROJECTS_FILE", raising=False)
    monkeypatch.setenv("SUPABASE_DB_URL", f"postgresql://monitor:{PASSWORD}@127.0.0.1:{_closed_port()}/postgres")
    resources = {"warehouse": warehouse, "settings": SettingsResource(), "source": SourcePostgresResource(slot_dir=str(tmp_path / "slots"))}
    result = dg.materialize([SNAPSHOT_ASSETS[0]], partition_key="default", resources=resources,
                            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert len(failures) == 1
    return failures[0].event_specific_data.error


def _chain(error) -> list:
    out = []
    while error is not None:
        out.append(error)
        error = error.cause
    return out


def test_an_expected_failure_is_chained_to_its_cause_without_the_password(warehouse, monkeypatch, tmp_path):
    chain = _chain(_run(warehouse, monkeypatch, tmp_path))
    names = [e.cls_name for e in chain]
    # the Failure, then the source's own error, then the driver's (redacted), each with its frames
    assert "SourceUnavailable" in names and "RedactedError" in names, names
    driver = chain[names.index("RedactedError")]
    assert "RedactedError: psycopg.OperationalError: connection failed" in driver.message and driver.stack
    everything = "\n".join(e.to_string() for e in chain)
    assert "cannot connect to the database in $SUPABASE_DB_URL" in everything
    assert PASSWORD not in everything


def test_a_bug_fails_the_step_as_itself_with_its_traceback(warehouse, monkeypatch, tmp_path):
    def broken(*_args, **_kwargs):
        return {}["no such key"]  # a programming error, not an operating condition

    monkeypatch.setattr(snapshots, "take_snapshot", broken)
    chain = _chain(_run(warehouse, monkeypatch, tmp_path))
    names = [e.cls_name for e in chain]
    assert "KeyError" in names and "Failure" not in names, names
    assert any("broken" in "".join(e.stack) for e in chain if e.cls_name == "KeyError")
