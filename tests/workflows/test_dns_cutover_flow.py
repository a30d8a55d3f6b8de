"""The api-dns wave (dns-cutover) executed end to end in the embedded AWS, in simulated time."""

from __future__ import annotations

import json

import pytest

from wavectl.local.runner import run_wave

WAVE = "api-dns"
API, WWW = "api.acme-invest.example.", "www.acme-invest.example."
ALARM_POLL, BAKE = 30, 10 * 60


@pytest.fixture
def dns_cloud(local_cloud, monkeypatch):
    """The example program, with orders-db (which api-dns depends on) taken as succeeded."""
    from tasks.frame import guard

    monkeypatch.setattr(guard, "check_dependencies", lambda sfn, depends_on: None)
    return local_cloud


def zone_id(cloud) -> str:
    return cloud.estate[WAVE]["zone_id"]


def route53(cloud):
    return cloud.account_session(cloud.accounts.source).client("route53", region_name="us-east-1")


def record_sets(cloud) -> list[dict]:
    return route53(cloud).list_resource_record_sets(HostedZoneId=zone_id(cloud))["ResourceRecordSets"]


def weighted(cloud, name: str) -> dict[str, tuple[int, int | None]]:
    return {
        s["SetIdentifier"]: (s["Weight"], s.get("TTL"))
        for s in record_sets(cloud)
        if s["Name"] == name and "SetIdentifier" in s
    }


def wave_changes(cloud) -> list:
    """The changes the wave made (after the estate was seeded)."""
    return cloud.route53.history(zone_id(cloud))[1:]


def new_weights(change) -> dict[str, int]:
    """record name -> weight of its new target's set, in one change."""
    return {
        c["ResourceRecordSet"]["Name"].rstrip(".") + ".": c["ResourceRecordSet"]["Weight"]
        for c in change.changes
        if c["Action"] == "UPSERT" and c["ResourceRecordSet"]["SetIdentifier"] in ("globex", "wavectl-new")
    }


def ttls(change) -> set[int]:
    return {c["ResourceRecordSet"].get("TTL") for c in change.changes if c["Action"] == "UPSERT"}


def reject_gate(monkeypatch, gate: str) -> None:
    """Answer gates as the demo does, except that the first approver rejects `gate`."""
    from wavectl.local import gates

    approve_or_reject = gates.answer_pending_gates

    def answer(cloud_, runbook, execution_arn):
        approve_or_reject(cloud_, runbook, execution_arn, reject_gates={gate})

    monkeypatch.setattr(gates, "answer_pending_gates", answer)


def evidence(cloud, run) -> dict[str, dict]:
    s3 = cloud.session.client("s3")
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "evidence" in b["Name"])
    prefix = f"waves/{WAVE}/{run.execution_arn.rsplit(':', 1)[-1]}/dns-cutover/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    return {
        k.removeprefix(prefix).removesuffix(".json"): json.loads(
            s3.get_object(Bucket=bucket, Key=k)["Body"].read()
        )
        for k in keys
    }


def test_api_dns_shifts_both_records_step_by_step_and_closes_the_window(dns_cloud):
    # Given api (weighted pair, TTL 300) and www (plain record, TTL 900) at 100 % on the old targets
    # When the wave runs with every gate approved
    run = run_wave(dns_cloud, WAVE)

    # Then it succeeded, every change covering both records: TTL lowered, then 10/90 ... 100/0
    assert run.status == "SUCCEEDED", run.error
    lower, *shifts, close = wave_changes(dns_cloud)
    assert ttls(lower) == {60} and new_weights(lower) == {API: 0, WWW: 0}
    assert [new_weights(c) for c in shifts] == [{API: w, WWW: w} for w in (10, 50, 100)]
    # And the first shift came exactly the largest original TTL (900 s) after the lowering, in simulated time
    waited = shifts[0].submitted_at - lower.submitted_at
    assert 900 <= waited < 900 + 20, waited
    # And each bake lasted 15 simulated minutes
    for before, after in zip(shifts, shifts[1:], strict=False):
        assert BAKE <= after.submitted_at - before.submitted_at < BAKE + 60
    # And after the window the old sets are gone and each record has its original TTL back
    assert weighted(dns_cloud, API) == {"globex": (100, 300)}
    assert weighted(dns_cloud, WWW) == {"wavectl-new": (100, 900)}
    assert {c["Action"] for c in close.changes} == {"DELETE", "UPSERT"}
    # And the evidence holds the removed sets and the final record sets
    records = evidence(dns_cloud, run)
    assert {s["SetIdentifier"] for s in records["close-window"]["removed_record_sets"]} == {
        "acme",
        "wavectl-old",
    }
    assert "dns-cutover-succeeded" in records
    assert "Approval: close-rollback-window" in run.states


def test_an_alarm_seven_minutes_into_the_50_percent_bake_rolls_back_at_the_next_poll(dns_cloud):
    # Given the 5xx alarm going off 7 simulated minutes after the shift to 50 %
    source = dns_cloud.accounts.source
    tripped_at: list[float] = []

    def trip() -> None:
        tripped_at.append(dns_cloud.clock.simulated_elapsed())
        cloudwatch = dns_cloud.account_session(source).client("cloudwatch", region_name="eu-west-1")
        cloudwatch.set_alarm_state(
            AlarmName="api-5xx-rate", StateValue="ALARM", StateReason="5xx above 5/min"
        )

    def on_change(change) -> None:
        if new_weights(change).get(API) == 50:
            dns_cloud.clock.after(7 * 60, trip)

    dns_cloud.route53.on_change(on_change)

    # When the wave runs
    run = run_wave(dns_cloud, WAVE)

    # Then it failed with Wavectl.AlarmTripped naming the alarm
    assert run.status == "FAILED" and run.error.name == "Wavectl.AlarmTripped"
    assert "api-5xx-rate is ALARM" in run.error.message
    # And it rolled back within one alarm poll of the trip (simulated), in one change for both records
    *_, fifty, rollback = wave_changes(dns_cloud)
    assert new_weights(fifty) == {API: 50, WWW: 50} and new_weights(rollback) == {API: 0, WWW: 0}
    assert 0 <= rollback.submitted_at - tripped_at[0] <= ALARM_POLL
    assert weighted(dns_cloud, API) == {"acme": (100, 300), "globex": (0, 300)}
    # And Slack was told, with the alarm and the weights before and after
    posted = [json.dumps(m) for m in dns_cloud.slack.messages() if "Rolled back" in json.dumps(m)]
    assert posted and "api-5xx-rate" in posted[0] and "50/50" in posted[0] and "100/0" in posted[0]


def test_rejection_at_the_100_percent_gate_rolls_back(dns_cloud, monkeypatch):
    # Given approvers who reject the shift to 100 %
    reject_gate(monkeypatch, "shift-to-100")
    # When the wave runs
    run = run_wave(dns_cloud, WAVE)
    # Then it failed as rejected and every record is back on its old target
    assert run.status == "FAILED" and run.error.name == "Wavectl.Rejected"
    assert new_weights(wave_changes(dns_cloud)[-1]) == {API: 0, WWW: 0}
    assert weighted(dns_cloud, API) == {"acme": (100, 300), "globex": (0, 300)}
    assert weighted(dns_cloud, WWW) == {"wavectl-old": (100, 900), "wavectl-new": (0, 900)}


def test_wavectl_rollback_in_the_window_puts_traffic_back_and_a_second_compensation_changes_nothing(
    dns_cloud, monkeypatch
):
    # Given every gate approved, except that once the rollback window is open, alice runs
    # `wavectl rollback api-dns` (the open close-rollback-window gate is rejected as her IAM identity)
    from wavectl import approvals
    from wavectl.cli_approvals import ROLLBACK_WINDOW_GATE, _decide_locally, open_rollback_window
    from wavectl.local import gates

    rolled_back = []

    def answer(cloud, runbook, execution_arn):
        for record in approvals.execution_records(
            cloud.session, runbook.approvals_table_name(), execution_arn
        ):
            if record.get("status") != "pending" or record.get("gate") == ROLLBACK_WINDOW_GATE:
                continue
            for user in gates.approvers_to_click(runbook, record):
                gates.click(cloud, record["approval_id"], user, "approve")
        window = open_rollback_window(cloud.session, runbook, WAVE)
        if window is not None and not rolled_back:
            rolled_back.append(
                _decide_locally(cloud.session, runbook, window, "reject", "5xx on checkout", "alice")
            )

    monkeypatch.setattr(gates, "answer_pending_gates", answer)
    # When the wave runs
    run = run_wave(dns_cloud, WAVE)
    # Then the rollback was accepted, the wave failed as rejected, and traffic is back on the old targets
    assert rolled_back[0][0] == 200, rolled_back
    assert run.status == "FAILED" and run.error.name == "Wavectl.Rejected"
    assert weighted(dns_cloud, API) == {"acme": (100, 300), "globex": (0, 300)}
    assert weighted(dns_cloud, WWW) == {"wavectl-old": (100, 900), "wavectl-new": (0, 900)}
    assert new_weights(wave_changes(dns_cloud)[-1]) == {API: 0, WWW: 0}
    changes = len(dns_cloud.route53.history())
    # And running the compensation again changes nothing
    again = dns_cloud.invoke_function(
        f"{dns_cloud.runbook.state_machine_name(WAVE)}-dns-rollback",
        {"execution": run.execution_arn, "error": {"Error": "Wavectl.Rejected"}, "ttl": None},
    )
    assert again["changed"] is False and len(dns_cloud.route53.history()) == changes


@pytest.mark.parametrize("problem", ["alarm in ALARM", "zone elsewhere"])
def test_preflight_refuses_with_a_clear_message_and_leaves_the_zone_alone(dns_cloud, problem):
    # Given one thing wrong with the estate (every preflight check is covered in tests/tasks)
    client = route53(dns_cloud)
    if problem == "alarm in ALARM":
        cloudwatch = dns_cloud.account_session(dns_cloud.accounts.source).client(
            "cloudwatch", region_name="eu-west-1"
        )
        cloudwatch.set_alarm_state(AlarmName="api-p99-latency", StateValue="ALARM", StateReason="p99 2.3s")
        expected = "alarm api-p99-latency is ALARM, not OK (p99 2.3s)"
    else:
        other = dns_cloud.account_session("444444444444").client("route53", region_name="us-east-1")
        sets = [s for s in record_sets(dns_cloud) if s["Type"] not in ("NS", "SOA")]
        other.create_hosted_zone(Name="acme-invest.example", CallerReference="moved")
        client.change_resource_record_sets(
            HostedZoneId=zone_id(dns_cloud),
            ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": s} for s in sets]},
        )
        client.delete_hosted_zone(Id=zone_id(dns_cloud))
        expected = "no role of this wave can reach it"
    before = json.dumps(record_sets(dns_cloud)) if problem != "zone elsewhere" else None
    changes = len(dns_cloud.route53.history())
    # When the wave runs
    run = run_wave(dns_cloud, WAVE)
    # Then preflight refused it, saying what is wrong, and nothing changed
    assert run.status == "FAILED" and run.error.name == "Wavectl.PreflightFailed"
    assert expected in run.error.message, run.error.message
    assert len(dns_cloud.route53.history()) == changes
    if before is not None:
        assert json.dumps(record_sets(dns_cloud)) == before
