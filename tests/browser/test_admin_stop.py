"""The admin's stop action in Chromium, against the simulated SageMaker account."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.utils.text import capfirst

from tests.sagemaker_peers import HAVE_SIMULATOR, simulated_peer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not HAVE_SIMULATOR, reason="simulated SageMaker with StopTrainingJob not available"),
]


def test_stop_a_running_job_from_the_admin(browser, live_server, aws_env):
    user = User.objects.create_user("stopper", "stopper@example.org", "correct-horse-battery", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_trainingjob", "stop_trainingjob"], content_type__app_label="jobs"
        )
    )
    with simulated_peer() as peer:
        job = peer.store(peer.running[0])
        peer.store(peer.finished[0])
        context = browser.new_context(base_url=live_server.url)
        page = context.new_page()
        page.set_default_timeout(10_000)
        try:
            page.goto("/admin/login/?next=/admin/jobs/trainingjob/")
            page.fill("#id_username", "stopper")
            page.fill("#id_password", "correct-horse-battery")
            page.click("input[type=submit]")
            page.wait_for_url("**/admin/jobs/trainingjob/")

            page.check(f"input[name=_selected_action][value='{job.pk}']")
            page.select_option("select[name=action]", "stop_selected")
            page.click("button[name=index]")

            # The confirmation page names the job and has not stopped it yet.
            page.wait_for_selector(".tw-stop-list")
            assert job.name in page.locator(".tw-stop-list").inner_text()
            assert peer.stop_calls() == 0
            page.click("input[type=submit][value^='Yes, stop']")

            page.wait_for_url("**/admin/jobs/trainingjob/")
            message = page.locator("ul.messagelist li.success").text_content()
            # The admin template capitalises messages.
            assert message == capfirst(f"{job.name}: stopped (StopTrainingJob accepted; now Stopping).")
            assert peer.stop_calls() == 1
            assert peer.status(job.name) == "Stopping"
            row = page.locator(f"tr:has(input[name=_selected_action][value='{job.pk}'])")
            assert "Stopping" in row.inner_text()
        finally:
            context.close()
