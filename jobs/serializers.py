"""JSON shapes of the API: a list row, and the detail that adds configuration.

Serializers read only what the view prefetched (source, metrics,
transitions) and a price table and ``now`` passed in the context, so a page
costs the same number of queries whatever its size.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rest_framework import serializers

from jobs import costs
from jobs.models import TrainingJob


class UTCDateTimeField(serializers.DateTimeField):
    """ISO 8601 in UTC ("...Z") whatever TIME_ZONE the deployment runs in."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default_timezone", UTC)
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)


class MetricSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.FloatField()


class TransitionSerializer(serializers.Serializer):
    status = serializers.CharField()
    start_time = UTCDateTimeField()
    end_time = UTCDateTimeField(allow_null=True)
    message = serializers.CharField()


class JobSerializer(serializers.ModelSerializer):
    creation_time = UTCDateTimeField()
    training_start_time = UTCDateTimeField(allow_null=True)
    training_end_time = UTCDateTimeField(allow_null=True)
    last_modified_time = UTCDateTimeField(allow_null=True)
    billable_seconds = serializers.SerializerMethodField(
        help_text="Instance-seconds, start to end x instances; for a running job, so far."
    )
    reported_billable_seconds = serializers.SerializerMethodField(
        help_text="AWS's BillableTimeInSeconds x instance count (spot savings included); null until reported."
    )
    estimated_cost = serializers.SerializerMethodField(help_text="USD at the InstancePrice table's on-demand rates.")
    source = serializers.CharField(source="source.name")
    final_metrics = MetricSerializer(source="metrics", many=True)

    class Meta:
        model = TrainingJob
        fields = [
            "id",
            "name",
            "arn",
            "status",
            "secondary_status",
            "failure_reason",
            "creation_time",
            "training_start_time",
            "training_end_time",
            "last_modified_time",
            "instance_type",
            "instance_count",
            "billable_seconds",
            "reported_billable_seconds",
            "estimated_cost",
            "source",
            "tags",
            "final_metrics",
        ]
        read_only_fields = fields

    @property
    def _now(self) -> datetime:
        return self.context["now"]

    def get_billable_seconds(self, job: TrainingJob) -> int | None:
        return job.billable_seconds_now(self._now)

    def get_reported_billable_seconds(self, job: TrainingJob) -> int | None:
        return job.reported_billable_total

    def get_estimated_cost(self, job: TrainingJob) -> float | None:
        cost = costs.job_cost(job, self.context["prices"], now=self._now)
        return float(cost) if cost is not None else None


class JobDetailSerializer(JobSerializer):
    transitions = TransitionSerializer(many=True)
    described_at = UTCDateTimeField(allow_null=True)
    spot_savings_percent = serializers.FloatField(read_only=True, allow_null=True)
    warm_pool_retained_total = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta(JobSerializer.Meta):
        fields = [
            *JobSerializer.Meta.fields,
            "region",
            "transitions",
            "hyperparameters",
            "instance_groups",
            "volume_size_gb",
            "keep_alive_seconds",
            "is_spot",
            "spot_savings_percent",
            "max_runtime_seconds",
            "max_wait_seconds",
            "max_pending_seconds",
            "algorithm",
            "input_channels",
            "output_path",
            "model_artifacts",
            "role_arn",
            "tuning_job_arn",
            "labeling_job_arn",
            "network_isolation",
            "inter_container_encryption",
            "training_time_seconds",
            "warm_pool_status",
            "warm_pool_retained_seconds",
            "warm_pool_retained_total",
            "failure_signature",
            "described_at",
        ]
        read_only_fields = fields
