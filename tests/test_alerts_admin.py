"""Alerts in the admin and on the job page: channels with a test message, rules, a read-only delivery log."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.models import Alert, AlertKind, AlertRule, Channel, Delivery, DeliveryStatus
from tests.factories import T0, make_job

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def admin_client(client, owner):
    client.force_login(owner)
    return client


def test_send_a_test_message_posts_to_the_channel_and_reports(admin_client, receiver):
    channel = Channel.objects.create(name="hook", url=receiver.url)
    admin_client.post("/admin/alerts/channel/", {"action": "send_test_message", "_selected_action": [channel.pk]})
    assert _messages(admin_client.get("/admin/alerts/channel/")) == ["hook: test message sent."]
    (post,) = receiver.posts
    assert post.body["title"] == "Trainwatch test message"
    assert post.headers["Idempotency-Key"] == post.body["idempotency_key"]


def test_a_failed_test_message_is_reported_and_recorded(admin_client, receiver):
    receiver.status = 500
    channel = Channel.objects.create(name="broken", url=receiver.url)
    admin_client.post("/admin/alerts/channel/", {"action": "send_test_message", "_selected_action": [channel.pk]})
    (message,) = _messages(admin_client.get("/admin/alerts/channel/"))
    assert message.startswith("broken: the test failed: ")
    channel.refresh_from_db()
    assert channel.last_error and channel.last_failure_at


def test_the_channel_url_is_never_shown_back_and_blank_keeps_it(admin_client):
    secret = "slack://TokenAAAAA/TokenBBBBB/TokenCCCCCsecret/#alerts"
    channel = Channel.objects.create(name="slack", url=secret)
    for page in ("/admin/alerts/channel/", f"/admin/alerts/channel/{channel.pk}/change/"):
        html = admin_client.get(page).content.decode()
        assert "TokenCCCCCsecret" not in html and "slack://" in html
    response = admin_client.post(
        f"/admin/alerts/channel/{channel.pk}/change/", {"name": "slack-renamed", "url": "", "enabled": "on"}
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.url) == ("slack-renamed", secret)


def test_a_url_apprise_cannot_send_to_is_refused(admin_client):
    response = admin_client.post("/admin/alerts/channel/add/", {"name": "x", "url": "nosuch://host", "enabled": "on"})
    assert response.status_code == 200 and not Channel.objects.exists()


def test_a_rule_is_added_with_a_scope_and_channels(admin_client):
    channel = Channel.objects.create(name="hook", url="json://127.0.0.1:9/")
    response = admin_client.post(
        "/admin/alerts/alertrule/add/",
        {
            "name": "vision failures",
            "kind": AlertKind.FAILED,
            "share_percent": 90,
            "stall_floor_minutes": 10,
            "metric_stall_minutes": 30,
            "budget_tag_key": "team",
            "scope_tag": "team=vision",
            "channels": [channel.pk],
        },
    )
    assert response.status_code == 302
    rule = AlertRule.objects.get(name="vision failures")
    assert (rule.scope_tag, list(rule.channels.all()), rule.builtin) == ("team=vision", [channel], False)


def _alert_about(job, event="Failed"):
    rule = AlertRule.objects.create(name="<b>rule</b>", kind=AlertKind.FAILED, created_at=T0 - timedelta(days=1))
    alert = Alert.objects.create(rule=rule, job=job, event=event, status="Failed")
    channel = Channel.objects.create(name="hook", url="json://127.0.0.1:9/")
    Delivery.objects.create(alert=alert, channel=channel, status=DeliveryStatus.FAILED, last_error="<script>x</script>")
    return alert


def test_the_delivery_log_is_read_only(admin_client):
    alert = _alert_about(make_job("logged", status="Failed"))
    delivery = alert.deliveries.get()
    html = admin_client.get("/admin/alerts/delivery/").content.decode()
    assert "&lt;script&gt;" in html and "<script>x" not in html
    assert admin_client.get("/admin/alerts/delivery/add/").status_code == 403
    page = admin_client.get(f"/admin/alerts/delivery/{delivery.pk}/change/").content.decode()
    assert 'name="_save"' not in page


def test_the_job_page_lists_the_alerts_sent_about_it_escaped(logged_in):
    job = make_job("alerted", status="Failed")
    _alert_about(job, event="<img src=x onerror=alert(1)>")
    html = logged_in.get(f"/jobs/{job.pk}/").content.decode()
    section = html.split('id="job-alerts"')[1].split("</table>")[0]
    assert "&lt;b&gt;rule&lt;/b&gt;" in section and "&lt;img src=x" in section
    assert "0 of 1 channel" in section
