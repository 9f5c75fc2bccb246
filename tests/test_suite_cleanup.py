"""A test session killed hard leaves its PostgreSQL clusters running and its temp dir behind; the
next session stops and removes them, and leaves a live session's alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from aimatrix_pipeline.demo.local_postgres import LocalPostgres, embedded_bin_dir
from tests.conftest import _alive, sweep_stale_runs


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_killed_sessions_clusters_are_stopped_and_its_dir_removed():
    # Not under tmp_path: with pytest-xdist that path is long enough (…/popen-gw1/<test name>/…) to
    # pass the 107-byte limit of a Unix socket path, and the cluster could not start.
    tmp_path = Path(tempfile.mkdtemp(prefix="amx-sweep-"))
    stale = tmp_path / f"aimatrix-tests-{_dead_pid()}"
    server = LocalPostgres(stale / "pg18", bin_dir=embedded_bin_dir()).start()
    postmaster = int((stale / "pg18" / "postmaster.pid").read_text().splitlines()[0])
    live = tmp_path / "aimatrix-tests-1"  # pid 1 is always alive
    live.mkdir()
    try:
        assert _alive(postmaster)
        assert sweep_stale_runs(tmp_path) == [stale]
        assert not _alive(postmaster) and not stale.exists()
        assert live.exists()
    finally:
        if stale.exists():
            server.stop("immediate")
        shutil.rmtree(tmp_path, ignore_errors=True)
