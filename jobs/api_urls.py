from django.urls import path

from jobs import api

urlpatterns = [
    path("jobs/", api.job_list, name="api-jobs"),
    path("jobs/<int:job_id>/", api.job_detail, name="api-job"),
    path("jobs/<int:job_id>/series/", api.job_series, name="api-job-series"),
    path("jobs/<int:job_id>/logs/", api.job_logs, name="api-job-logs"),
    path("status/", api.status, name="api-status"),
]
