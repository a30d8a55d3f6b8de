"""The local Slack page in headless Chromium: a person clicks a 2-of-3 gate through."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.workflows.approvals_support import gate_cloud

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (make browser-deps)"),
]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[object]:
    # x60: the 2 h gate stays open 2 real minutes, time enough for a person (and a browser) to click
    with gate_cloud(tmp_path_factory, speed="60") as local:
        local.serve(0)  # as `wavectl local up`: the page's clicks go through POST /slack/interactions
        yield local


@pytest.fixture
def page(cloud):
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright (test extra) is not installed"
    )
    from wavectl.local import slack_page

    url = slack_page.register(cloud)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            tab = browser.new_page()
            tab.goto(url)
            yield tab
        finally:
            browser.close()


def _status(cloud, execution: str, wanted: str, seconds: float = 30) -> str:
    sfn = cloud.session.client("stepfunctions")
    deadline = time.monotonic() + seconds
    status = "RUNNING"
    while time.monotonic() < deadline:
        status = sfn.describe_execution(executionArn=execution)["status"]
        if status == wanted:
            break
        time.sleep(0.1)
    return status


def test_slack_page_clicks_a_two_of_three_gate_through(cloud, page):
    from wavectl.local.runner import start_wave

    # Given alice started the wave and the approval message shows up on the page
    execution = start_wave(cloud.session, cloud.runbook, "api-dns", requested_by="U01ALICE")
    page.get_by_role("button", name="Approve").wait_for(timeout=20_000)
    assert "Approval needed: api-dns v1" in page.inner_text("main")
    # When alice (the requester) clicks Approve, she sees why she may not
    page.select_option("[data-testid=actor]", "U01ALICE")
    page.get_by_role("button", name="Approve").click()
    page.get_by_text("four eyes", exact=False).wait_for(timeout=10_000)
    # When bob approves, the message shows 1 of 2 and the execution still waits
    page.select_option("[data-testid=actor]", "U02BOB")
    page.get_by_role("button", name="Approve").click()
    page.get_by_text("1 of 2 approvals", exact=False).wait_for(timeout=10_000)
    assert _status(cloud, execution, "SUCCEEDED", seconds=0.5) == "RUNNING"
    # When carol approves
    page.select_option("[data-testid=actor]", "U03CAROL")
    page.get_by_role("button", name="Approve").click()
    # Then the message says who approved, the buttons are gone, and the wave succeeds
    page.get_by_text("Approved by @bob, @carol", exact=False).wait_for(timeout=10_000)
    assert page.get_by_role("button", name="Approve").count() == 0
    assert _status(cloud, execution, "SUCCEEDED") == "SUCCEEDED"
    # And every click went over HTTP through the signed Slack route, answered as Slack expects
    from wavectl.local.slack_endpoint import served

    assert [r for r in served if r["method"] == "POST" and r["status"] == 200][-3:] and len(served) >= 3
