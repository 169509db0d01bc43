from django.urls import path

from jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.index, name="index"),
    path("jobs/rows/", views.running_rows, name="running_rows"),
    path("jobs.csv", views.jobs_csv, name="jobs_csv"),
    path("jobs/<int:job_id>/", views.job_detail, name="detail"),
    path("jobs/<int:job_id>/cloudwatch/", views.job_cloudwatch, name="cloudwatch"),
    path("compare/", views.compare_jobs, name="compare"),
    path("failures/", views.failures, name="failures"),
    path("tuning/<str:name>/", views.tuning_job, name="tuning"),
    path("costs/", views.costs, name="costs"),
    path("status/", views.status, name="status"),
    path("status/fragment/", views.status_fragment, name="status_fragment"),
]
