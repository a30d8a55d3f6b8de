"""The payments-dual-run wave (payment-dual-run) executed end to end in the embedded AWS, simulated time.

The example runbook: first business day 2026-11-30, 2 clean days in a row before the switch, 1 shadow
day, 40 payments a day; the files of those three days are seeded (wavectl/local/seeders/payment_dual_run).
"""

from __future__ import annotations

import json
import threading
from datetime import date

import pytest

from tasks.contracts import BRIDGE_INBOUND_RULE, bridge_resource_name
from wavectl.local.runner import run_wave
from wavectl.local.seeders.payment_dual_run import acknowledgements, put_ack_file, seed_day, settled_payments

WAVE = "payments-dual-run"
DAY_1, DAY_2, DAY_3, DAY_4 = date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)


@pytest.fixture
def dual_cloud(local_cloud, monkeypatch):
    """The example program, with orders-db (which payments-dual-run depends on) taken as succeeded."""
    from tasks.frame import guard

    monkeypatch.setattr(guard, "check_dependencies", lambda sfn, depends_on: None)
    return local_cloud


def wave_of(cloud):
    return next(w for w in cloud.runbook.waves if w.wave == WAVE)


def primary_flag(cloud) -> str:
    ssm = cloud.session.client("ssm", region_name=cloud.runbook.program.home_region)
    return ssm.get_parameter(Name=wave_of(cloud).payments.primary_flag)["Parameter"]["Value"]


def bridge_state(cloud) -> str:
    events = cloud.session.client("events", region_name=cloud.runbook.program.home_region)
    rule = bridge_resource_name(cloud.runbook.program.program, BRIDGE_INBOUND_RULE)
    return events.describe_rule(Name=rule)["State"]


def remove_ack(cloud, day: date) -> str:
    acks = cloud.runbook.program.payment_bridge.buckets.acknowledgements
    key = wave_of(cloud).payments.ack_key.replace("{date}", day.isoformat())
    cloud.session.client("s3", region_name=acks.region).delete_object(Bucket=acks.name, Key=key)
    return key


def evidence(cloud, run) -> dict[str, bytes]:
    s3 = cloud.session.client("s3")
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "evidence" in b["Name"])
    prefix = f"waves/{WAVE}/{run.execution_arn.rsplit(':', 1)[-1]}/payment-dual-run/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    return {k.removeprefix(prefix): s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def approvals_table(cloud):
    dynamodb = cloud.session.resource("dynamodb", region_name=cloud.runbook.program.home_region)
    name = next(n for n in dynamodb.meta.client.list_tables()["TableNames"] if "approvals" in n)
    return dynamodb.Table(name)


def file_wait(cloud, cycle: int) -> dict | None:
    """The wait record of `cycle` of the wave's (only) execution, if it is registered."""
    found = approvals_table(cloud).scan(
        FilterExpression="begins_with(pk, :p) AND sk = :sk",
        ExpressionAttributeValues={":p": "filewait#", ":sk": f"cycle#{cycle:02d}"},
    )["Items"]
    return found[0] if found else None


def deliver_ack_once_awaited(cloud, day: date, cycle: int) -> threading.Thread:
    """The acknowledgement file of `day` arrives only once the wait of `cycle` is registered."""
    wave, done = wave_of(cloud), threading.Event()

    def arrive() -> None:
        while not done.wait(0.2):
            if file_wait(cloud, cycle):
                put_ack_file(cloud, wave, day, acknowledgements(cloud, settled_payments(day), day))
                return

    thread = threading.Thread(target=arrive, daemon=True)
    thread.start()
    thread.stop = done.set  # type: ignore[attr-defined]
    return thread


def drop_a_payment(cloud, day: date) -> str:
    """The counterparty simulator never acknowledges the first payment of `day` (its `drop` fault), and
    the day's files are seeded again: its acknowledgement file is the simulator's answer."""
    dropped = settled_payments(day)[0]["end_to_end_id"]
    cloud.bridge.counterparty.faults.drop.add(dropped)
    seed_day(cloud, wave_of(cloud), day)
    return dropped


def reject_gate(monkeypatch, gate: str) -> None:
    """Answer gates as the demo does, except that the first approver rejects `gate`."""
    from wavectl.local import gates

    approve_or_reject = gates.answer_pending_gates

    def answer(cloud_, runbook, execution_arn):
        approve_or_reject(cloud_, runbook, execution_arn, reject_gates={gate})

    monkeypatch.setattr(gates, "answer_pending_gates", answer)


def test_dual_run_switches_the_primary_after_two_clean_days_and_a_shadow_day(dual_cloud):
    # Given the bridge switched off, the flag `old`, and three business days that reconcile clean,
    # the third day's acknowledgement file arriving only while its cycle waits for it
    assert primary_flag(dual_cloud) == "old" and bridge_state(dual_cloud) == "DISABLED"
    ack_key = remove_ack(dual_cloud, DAY_3)
    arrival = deliver_ack_once_awaited(dual_cloud, DAY_3, cycle=3)

    # When the wave runs with every gate approved
    run = run_wave(dual_cloud, WAVE)
    arrival.stop()

    # Then it succeeded: bridge on, flag `new`, switched after day 2 and before the shadow day
    assert run.status == "SUCCEEDED", run.error
    assert primary_flag(dual_cloud) == "new" and bridge_state(dual_cloud) == "ENABLED"
    assert "Approval: switch-primary" in run.states and "Approval: start-dual-run" in run.states
    assert run.states.count("Reconcile the day") == 3
    # And every day's reconciliation outputs are evidence, each day clean with all 40 payments matched
    records = evidence(dual_cloud, run)
    for n, day in enumerate((DAY_1, DAY_2, DAY_3), start=1):
        folder = f"cycle-{n:02d}-{day}/"
        assert {f"{folder}{name}" for name in ("summary.json", "summary.txt", "breaks.csv")} <= set(records)
        summary = json.loads(records[f"{folder}summary.json"])
        assert summary["clean"] and summary["matched"] == 40
    cycles = json.loads(records["dual-run-succeeded.json"])["cycles"]
    assert [(c["cycle"]["phase"], c["clean"]) for c in cycles] == [
        ("dual", True),
        ("dual", True),
        ("shadow", True),
    ]
    # And the late file's S3 event resumed the third wait through the wave's rule (no poll, no timeout)
    assert "Name the missing files" not in run.states
    wait = file_wait(dual_cloud, 3)
    assert wait["wait_state"] == "resumed" and wait["arrived"] == {"old": True, "ack": True}
    arrivals = [d for d in dual_cloud.events.deliveries if d.rule.endswith(f"{WAVE}-files")]
    assert any(d.event["detail"]["object"]["key"] == ack_key and d.error is None for d in arrivals)
    # And each day's summary.txt is a reply in the execution's Slack thread (rooted at its first gate)
    messages = dual_cloud.slack.messages()
    summaries = [m for m in messages if str(m.get("text", "")).startswith("Payment dual run, business day")]
    assert len(summaries) == 3
    (root,) = {m.get("thread_ts") for m in summaries}
    assert root in {m["ts"] for m in messages if not m.get("thread_ts")}
    assert "Reconciliation CLEAN: 40 payments matched" in summaries[0]["text"]
    # And the token stays server-side: it is in the wait record, in no evidence and no Slack message
    token = wait["task_token"]
    assert all(token.encode() not in body for body in records.values())
    assert all(token not in json.dumps(m) for m in messages)


def test_a_dropped_payment_rejected_at_the_gate_fails_the_wave_with_the_flag_still_old(
    dual_cloud, monkeypatch
):
    # Given the counterparty simulator drops one payment of day 1 (a fault)
    dropped = drop_a_payment(dual_cloud, DAY_1)
    reject_gate(monkeypatch, "accept-breaks-1")

    # When the wave runs and the payments approver rejects the breaks
    run = run_wave(dual_cloud, WAVE)

    # Then it failed with ReconciliationFailed, the flag still old, and day 1's missing payment on file
    assert run.status == "FAILED"
    assert run.error.name == "Wavectl.ReconciliationFailed", run.error
    assert "primary flag" in run.error.cause and "still old" in run.error.cause
    assert primary_flag(dual_cloud) == "old"
    records = evidence(dual_cloud, run)
    summary = json.loads(records[f"cycle-01-{DAY_1}/summary.json"])
    assert summary["missing_in_new"] == 1 and not summary["clean"]
    missing = records[f"cycle-01-{DAY_1}/missing_in_new.csv"].decode().splitlines()
    assert len(missing) == 2 and missing[1].startswith(f"{dropped},")


def test_an_acknowledgement_file_that_never_arrives_fails_with_files_missing_naming_it(dual_cloud):
    # Given day 2's acknowledgement file never arrives
    key = remove_ack(dual_cloud, DAY_2)

    # When the wave runs
    run = run_wave(dual_cloud, WAVE)

    # Then after the 6h deadline (simulated) it failed with FilesMissing naming that file alone
    assert run.status == "FAILED"
    assert run.error.name == "Wavectl.FilesMissing", run.error
    assert key in run.error.cause and "settled/" not in run.error.cause
    assert run.simulated_seconds >= 6 * 3600
    assert primary_flag(dual_cloud) == "old"


def test_a_failure_in_the_shadow_days_sets_the_flag_back_to_old(dual_cloud):
    # Given the shadow day's acknowledgement file never arrives
    remove_ack(dual_cloud, DAY_3)

    # When the wave runs (two clean days, the switch approved)
    run = run_wave(dual_cloud, WAVE)

    # Then it failed after the switch, and the flag is back to old, as the cause says
    assert run.status == "FAILED"
    assert run.error.name == "Wavectl.FilesMissing", run.error
    assert "Set primary to new" in run.states
    assert "set back to old" in run.error.cause
    assert primary_flag(dual_cloud) == "old"
    # And the bridge keeps running (the runbook does not switch it off on rollback)
    assert bridge_state(dual_cloud) == "ENABLED"


def test_breaks_accepted_at_the_gate_are_recorded_with_approvers_and_restart_the_clean_streak(dual_cloud):
    # Given the counterparty simulator drops one payment of day 1, and a fourth business day on file
    drop_a_payment(dual_cloud, DAY_1)
    seed_day(dual_cloud, wave_of(dual_cloud), DAY_4)

    # When the wave runs with every gate approved (the breaks of day 1 accepted)
    run = run_wave(dual_cloud, WAVE)

    # Then day 1 is clean with exceptions, with its approvers; days 2 and 3 make the streak; day 4 is shadow
    assert run.status == "SUCCEEDED", run.error
    cycles = json.loads(evidence(dual_cloud, run)["dual-run-succeeded.json"])["cycles"]
    assert [(c["cycle"]["phase"], c["clean"]) for c in cycles] == [
        ("dual", False),
        ("dual", True),
        ("dual", True),
        ("shadow", True),
    ]
    accepted = cycles[0]["accepted_with_exceptions"]
    assert accepted["decision"] == "approved" and len(accepted["approvers"]) == 2
    assert cycles[0]["counts"]["missing_in_new"] == 1
    assert "Approval: accept-breaks" in run.states and primary_flag(dual_cloud) == "new"


def force_partitions(cloud, partitions: int) -> None:
    """The runbook's threshold at 0 MB: every day goes through the Distributed Map of hash partitions."""
    from tasks.contracts import ENV_DUAL_RUN_SPEC, decode_spec, encode_spec

    lam = cloud.session.client("lambda", region_name=cloud.runbook.program.home_region)
    name = next(
        f["FunctionName"]
        for page in lam.get_paginator("list_functions").paginate()
        for f in page["Functions"]
        if f["FunctionName"].endswith(f"{WAVE}-dual-run-plan")
    )
    variables = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    spec = {**decode_spec(variables[ENV_DUAL_RUN_SPEC]), "partition_above_mb": 0, "partitions": partitions}
    variables[ENV_DUAL_RUN_SPEC] = encode_spec(spec)
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})


def seed_day_with_every_finding(cloud, day: date) -> dict[str, list[dict[str, str]]]:
    """Old and acknowledgement files of `day` that disagree in every way the engine reports."""
    from wavectl.local.seeders.payment_dual_run import put_old_file

    wave, old = wave_of(cloud), settled_payments(day)
    old.append(dict(old[5]))  # a key twice on the old side
    acks = acknowledgements(cloud, old[1:-1], day)  # the first payment dropped
    acks[3] = {**acks[3], "amount": "0.01"}  # an amount break
    acks[7] = {**acks[7], "creditor_name": "Someone Else"}  # a name break
    acks.append({**acks[10], "end_to_end_id": "E2E-EXTRA-0001"})  # an extra payment
    put_old_file(cloud, wave, day, old)
    put_ack_file(cloud, wave, day, acks)
    return {"old": old, "ack": acks}


def test_a_partitioned_day_gives_the_same_summary_and_break_files_as_one_function(
    dual_cloud, monkeypatch, tmp_path
):
    # Given day 1 with every kind of finding, and a threshold that sends every day to 4 hash partitions
    from tasks.contracts import CANONICAL_PAYMENT_FIELDS
    from tasks.payment_dual_run.daily import OUTPUT_FILES, rules_of
    from tasks.payments.reconcile import reconcile
    from wavectl.kinds.payment_dual_run import task_spec
    from wavectl.local.seeders.payment_dual_run import ACK_FIELDS, to_csv

    rows = seed_day_with_every_finding(dual_cloud, DAY_1)
    force_partitions(dual_cloud, 4)
    reject_gate(monkeypatch, "accept-breaks-1")

    # When the wave runs (the breaks are rejected at the gate)
    run = run_wave(dual_cloud, WAVE)

    # Then the day went through the Distributed Map and the merge, and the breaks were shown at the gate
    assert "Reconcile the partitions" in run.states and "Merge the partitions" in run.states
    assert "Reconcile the day" not in run.states
    assert run.error.name == "Wavectl.ReconciliationFailed", run.error
    # And its outputs are byte-identical to one unpartitioned run of the same files
    (tmp_path / "old.csv").write_bytes(to_csv(rows["old"], CANONICAL_PAYMENT_FIELDS))
    (tmp_path / "ack.csv").write_bytes(to_csv(rows["ack"], ACK_FIELDS))
    spec = task_spec(wave_of(dual_cloud), dual_cloud.runbook.program)
    reconcile(tmp_path / "old.csv", tmp_path / "ack.csv", tmp_path / "one", rules_of(spec))
    records = evidence(dual_cloud, run)
    for name in OUTPUT_FILES:
        assert records[f"cycle-01-{DAY_1}/{name}"] == (tmp_path / "one" / name).read_bytes(), name
    summary = json.loads(records[f"cycle-01-{DAY_1}/summary.json"])
    assert (summary["missing_in_new"], summary["extra_in_new"], summary["duplicates_old"]) == (1, 1, 1)
    assert summary["breaks"]["amount"] == 1 and summary["breaks"]["creditor_name"] == 1
