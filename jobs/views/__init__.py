"""Server-rendered pages. They read the database only, never AWS."""

from jobs.views.compare import compare_jobs
from jobs.views.costs_page import costs
from jobs.views.detail import job_cloudwatch, job_detail
from jobs.views.export import jobs_csv
from jobs.views.failures import failures
from jobs.views.jobs_list import index, running_rows
from jobs.views.status_page import status, status_fragment
from jobs.views.tuning import tuning_job

__all__ = [
    "compare_jobs",
    "costs",
    "failures",
    "index",
    "job_cloudwatch",
    "job_detail",
    "jobs_csv",
    "running_rows",
    "status",
    "status_fragment",
    "tuning_job",
]
