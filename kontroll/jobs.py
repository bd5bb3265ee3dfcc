"""The installation's scheduled jobs: each feature defines its own (in its ``jobs`` module); this
is the one list of them, in the order the scheduler catches them up at start. Jobs run only
through :func:`run_job` (the scheduler, ``kontroll scheduler run-job`` and the tests).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from kontroll.cases import jobs as cases_jobs
from kontroll.checklists import jobs as checklists_jobs
from kontroll.core import jobs as core_jobs
from kontroll.core.jobs import Job, JobOutcome, UnknownJob, last_runs  # noqa: F401 - the scheduler's names
from kontroll.db import Database
from kontroll.genomgang import jobs as genomgang_jobs
from kontroll.reviews import jobs as reviews_jobs
from kontroll.sampling import jobs as sampling_jobs

JOBS: dict[str, Job] = {}


def register(spec: Job) -> Job:
    if spec.name in JOBS:
        raise ValueError(f"job {spec.name!r} registered twice")
    JOBS[spec.name] = spec
    return spec


# Jobs that write notifications first, so that the catch-up at start sends them in the same pass;
# housekeeping last.
for _module in (sampling_jobs, reviews_jobs, checklists_jobs, genomgang_jobs, cases_jobs, core_jobs):
    for _spec in _module.JOBS:
        register(_spec)


def get_job(name: str) -> Job:
    try:
        return JOBS[name]
    except KeyError:
        raise UnknownJob(name) from None


def run_job(database: Database, name: str, today: dt.date, config: Mapping[str, Any]) -> JobOutcome:
    """Run job ``name`` for ``today`` at most once per period (see kontroll.core.jobs.run_job)."""
    return core_jobs.run_job(database, get_job(name), today, config)
