"""Admin: rules and channels are edited here; alerts and deliveries are a read-only log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from alerts import channels, delivery
from alerts.models import Alert, AlertRule, Channel, Delivery
from jobs.admin import ReadOnlyMixin, StrictLookupsMixin


class ChannelForm(forms.ModelForm):
    """The URL carries the channel's secret: written here, never shown back (blank keeps it)."""

    url = forms.CharField(
        label="Apprise URL",
        required=False,
        max_length=2048,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "size": 80}),
        help_text="e.g. slack://TokenA/TokenB/TokenC/#alerts, mailto://user:pass@example.com, json://host:port/path."
        " Leave blank to keep the stored one.",
    )

    class Meta:
        model = Channel
        fields = ("name", "url", "enabled")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        if not url:
            if self.instance.pk:
                return self.instance.url
            raise forms.ValidationError("An Apprise URL is required.")
        try:
            channels.validate(url)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return url


@admin.register(Channel)
class ChannelAdmin(StrictLookupsMixin, admin.ModelAdmin):
    form = ChannelForm
    list_display = ("name", "masked_url", "is_default", "enabled", "healthy", "consecutive_failures", "last_success_at")
    list_filter = ("healthy", "enabled", "is_default")
    search_fields = ("name",)
    readonly_fields = (
        "masked_url",
        "is_default",
        "healthy",
        "consecutive_failures",
        "last_error",
        "last_success_at",
        "last_failure_at",
    )
    actions = ["send_test_message"]

    @admin.display(description="URL (secrets hidden)")
    def masked_url(self, channel: Channel) -> str:
        return channels.masked(channel.url) if channel.url else ""

    @admin.action(description="Send a test message", permissions=["change"])
    def send_test_message(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        for channel in queryset[:20]:
            result = delivery.send_test(channel)
            if result.ok:
                self.message_user(request, f"{channel.name}: test message sent.", messages.SUCCESS)
            else:
                self.message_user(request, f"{channel.name}: the test failed: {result.error}", messages.ERROR)


@admin.register(AlertRule)
class AlertRuleAdmin(StrictLookupsMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "scope_tag", "scope_source", "scope_name_pattern", "muted", "builtin", "created_at")
    list_filter = ("kind", "muted", "builtin")
    list_select_related = ("scope_source",)
    search_fields = ("name",)
    filter_horizontal = ("channels",)
    readonly_fields = ("builtin", "created_at")
    fields = (
        "name",
        "kind",
        "share_percent",
        "stall_floor_minutes",
        "metric_stall_minutes",
        "budget_tag_key",
        "daily_budget_usd",
        "scope_tag",
        "scope_source",
        "scope_name_pattern",
        "channels",
        "muted",
        "builtin",
        "created_at",
    )


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ("channel", "status", "attempts", "batch", "sent_at", "last_error")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(StrictLookupsMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "rule", "job", "event", "status", "secondary_status")
    list_filter = ("rule", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("rule", "job")
    search_fields = ("job__name",)
    show_full_result_count = False
    raw_id_fields = ("job",)
    inlines = [DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(StrictLookupsMixin, ReadOnlyMixin, admin.ModelAdmin):
    """The delivery log: what went where, how many attempts, and why one failed."""

    list_display = ("created_at", "alert", "channel", "status", "attempts", "sent_at", "short_error")
    list_filter = ("status", "channel", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("alert__rule", "channel")
    search_fields = ("alert__job__name", "batch")
    show_full_result_count = False
    raw_id_fields = ("alert",)
    date_hierarchy = None

    @admin.display(description="last error")
    def short_error(self, row: Delivery) -> str:
        return row.last_error[:160]
