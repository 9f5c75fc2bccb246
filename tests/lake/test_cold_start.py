"""A DuckLake that starts cold on several hosts: the first tick of a new deployment launches several
runs at once against an empty catalog database. Without a lock two of them both run DuckLake's
catalog initialisation (CREATE TABLE ducklake_metadata ...) and one fails on PostgreSQL's
`pg_type_typname_nsp_index`; with it, one initialises and the others wait, then attach."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 4

# Each process imports everything first, then waits for the same start signal, so the attaches
# (and with them the catalog initialisation) really happen at the same moment.
COLD_WRITER = """
import os, sys, time
from pathlib import Path
from aimatrix_pipeline.resources.ducklake_warehouse import warehouse_for
wh = warehouse_for(os.environ["AIMATRIX_WAREHOUSE"]).model_copy(update={"lock_timeout_s": 240.0})
name, go = sys.argv[1], Path(sys.argv[2])
Path(sys.argv[2] + "." + name).touch()
while not go.exists():
    time.sleep(0.005)
with wh.transaction() as conn:
    conn.execute("insert into raw.error_events (project, id, created_at) "
                 "select ?, uuid(), now() from range(7)", [name])
print("committed", name)
"""


@pytest.mark.parametrize("lake", ["dir"], indirect=True)
def test_writers_starting_together_on_an_empty_catalog_all_commit(lake, tmp_path):
    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "DAGSTER_"))}
    env.update(lake.env, PYTHONPATH=str(ROOT))
    names = [f"w{i}" for i in range(WRITERS)]
    procs = [subprocess.Popen([sys.executable, "-c", COLD_WRITER, name, str(go)], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in names]
    try:
        deadline = time.monotonic() + 300
        while not all(Path(f"{go}.{n}").exists() for n in names):
            assert time.monotonic() < deadline, "writers did not start"
            assert all(p.poll() is None for p in procs), [p.communicate()[1][-2000:] for p in procs if p.poll()]
            time.sleep(0.05)
        go.touch()
        outcomes = {n: p.communicate(timeout=600) + (p.returncode,) for n, p in zip(names, procs)}
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    failed = {n: err[-3000:] for n, (out, err, rc) in outcomes.items() if rc != 0}
    assert not failed, failed
    with lake.resource().reader() as conn:
        rows = dict(conn.execute("select project, count(*) from raw.error_events group by all").fetchall())
        versions = conn.execute("select count(*) from raw.schema_version").fetchone()[0]
    assert rows == {n: 7 for n in names}
    assert versions == 1
