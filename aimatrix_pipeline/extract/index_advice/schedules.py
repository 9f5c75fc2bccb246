"""Index advice runs hourly: it plans up to `top` statements on the monitored database (a few
milliseconds each, see benchmarks/bench_index_advisor.py), so every statistics tick would be waste."""

from __future__ import annotations

from aimatrix_pipeline.extract.index_advice.jobs import INDEX_ADVICE_JOB
from aimatrix_pipeline.shared.schedules import per_project_schedule

INDEX_ADVICE_CRON = "23 * * * *"

INDEX_ADVICE_SCHEDULE = per_project_schedule(
    INDEX_ADVICE_JOB, INDEX_ADVICE_CRON, "advise_indexes",
    "Suggest indexes for each project's costliest statements of the last window (hourly).",
)
