"""Per-test cost record, for `benchmarks/suite_costs.py`.

With `AIMATRIX_TEST_TIMINGS=<file>` set, every test appends one JSON line: its setup, call and
teardown wall time, the CPU time of this process and of the child processes it waited for
(Dagster CLI runs, the daemon, pip, chromedriver), the fixtures it used and its markers. The
script groups the lines by what each test pays for, so the suite's time can be spent where it
buys something. Off by default: nothing is written and nothing is measured.
"""

from __future__ import annotations

import json
import os
import resource
import time

import pytest

_PATH = os.environ.get("AIMATRIX_TEST_TIMINGS")


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if not _PATH:
        yield
        return
    phases: dict[str, float] = {}
    item._aimatrix_phases = phases
    own0, kids0 = _cpu()
    start = time.monotonic()
    yield
    own1, kids1 = _cpu()
    record = {
        "nodeid": item.nodeid,
        "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
        "wall_s": round(time.monotonic() - start, 3),
        **{f"{k}_s": round(v, 3) for k, v in phases.items()},
        "cpu_s": round(own1 - own0, 3),
        "children_cpu_s": round(kids1 - kids0, 3),
        "fixtures": sorted(item.fixturenames),
        "markers": sorted({m.name for m in item.iter_markers()}),
    }
    with open(_PATH, "a", encoding="utf-8") as out:  # one short line per write: appends do not interleave
        out.write(json.dumps(record) + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    yield
    phases = getattr(item, "_aimatrix_phases", None)
    if phases is not None:
        phases[call.when] = phases.get(call.when, 0.0) + (call.stop - call.start)
