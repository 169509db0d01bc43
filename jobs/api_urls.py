from django.urls import path

from jobs import api

urlpatterns = [
    path("jobs/", api.job_list, name="api-jobs"),
    path("jobs/<int:job_id>/", api.job_detail, name="api-job"),
    path("status/", api.status, name="api-status"),
]
