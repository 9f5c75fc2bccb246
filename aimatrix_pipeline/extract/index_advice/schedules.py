"""Index advice runs hourly: it plans up to `top` statements on the monitored database (a few
milliseconds each, see benchmarks/bench_index_advisor.py), so every statistics tick would be waste.
One run per shard of AIMATRIX_BATCH_SIZE projects, like the extracts: one run per project put a
whole fleet's runs into the queue at once every hour."""

from __future__ import annotations

from aimatrix_pipeline.extract.index_advice.jobs import INDEX_ADVICE_JOB
from aimatrix_pipeline.shared.schedules import batched_schedule

INDEX_ADVICE_CRON = "23 * * * *"

INDEX_ADVICE_SCHEDULE = batched_schedule(
    INDEX_ADVICE_JOB, INDEX_ADVICE_CRON, "advise_indexes",
    "Suggest indexes for each project's costliest statements of the last window (hourly), one run per "
    "shard of projects.",
)
