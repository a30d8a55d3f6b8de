"""`wavectl local up`'s Slack route: POST /slack/interactions over HTTP, as API Gateway serves it."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.workflows.approvals_support import gate_cloud
from wavectl import approvals

# The top-level keys of an API Gateway REST API (v1) Lambda proxy event (AWS's documented shape).
REST_PROXY_EVENT_KEYS = {
    "resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
    "multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext", "body",
    "isBase64Encoded",
}  # fmt: skip


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[object]:
    with gate_cloud(tmp_path_factory, speed="600") as local:
        local.serve(0)
        yield local


def _pending(cloud, execution: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        entries = approvals.decisions_for_execution(
            cloud.session, cloud.runbook.approvals_table_name(), execution
        )
        if entries and entries[0]["decision"] == "pending":
            return entries[0]
        time.sleep(0.05)
    raise AssertionError("no pending gate")


def _http(url: str, body: bytes = b"", headers: dict | None = None, method: str = "POST") -> tuple[int, str]:
    request = urllib.request.Request(url, data=body or None, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_local_up_serves_the_slack_route_with_the_signed_path(cloud, monkeypatch):
    from wavectl.local import gates, slack_endpoint
    from wavectl.local.runner import start_wave

    seen: list[dict] = []
    real = slack_endpoint.call_callback
    monkeypatch.setattr(
        slack_endpoint, "call_callback", lambda c, event: (seen.append(event), real(c, event))[1]
    )
    url = cloud.slack_interactions_url
    assert url.startswith("http://127.0.0.1:") and url.endswith("/slack/interactions")
    execution = start_wave(cloud.session, cloud.runbook, "api-dns", requested_by="U01ALICE")
    gate = _pending(cloud, execution)
    record = approvals.approval_record(
        cloud.session, cloud.runbook.approvals_table_name(), gate["approval_id"]
    )
    payload = gates.interaction_payload(record, "U02BOB", "approve", None)
    body, headers = gates.signed_request(payload, gates.signing_secret(cloud))
    # When an unsigned POST, a GET, and then bob's signed click arrive over HTTP
    unsigned = _http(url, body.encode(), {"Content-Type": "application/x-www-form-urlencoded"})
    get = _http(url, method="GET")
    signed = _http(url, body.encode(), headers)
    # Then: 401 from the function, 403 from the gateway (no such route), 200 and bob's vote counted
    assert unsigned[0] == 401 and get == (403, '{"message":"Missing Authentication Token"}')
    assert signed[0] == 200
    assert approvals.decisions_for_execution(cloud.session, cloud.runbook.approvals_table_name(), execution)[
        0
    ]["approvers"] == ["U02BOB"]
    # And the function received API Gateway's REST proxy event, body byte for byte as signed
    event = seen[-1]
    assert set(event) == REST_PROXY_EVENT_KEYS
    assert event["httpMethod"] == "POST" and event["resource"] == "/slack/interactions"
    assert event["body"] == body and event["isBase64Encoded"] is False
    assert (
        event["requestContext"]["stage"] == "v1"
        and event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    )
    assert event["headers"]["X-Slack-Signature"] == headers["X-Slack-Signature"]
    gates.click(cloud, gate["approval_id"], "U03CAROL", "reject")
