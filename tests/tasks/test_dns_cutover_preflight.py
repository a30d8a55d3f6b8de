"""Preflight of the dns-cutover wave: every problem at once, nothing changed in the zone."""

from __future__ import annotations

import json

import pytest

from tasks.common.errors import PreflightFailed
from tasks.dns_cutover import handler
from tests.tasks.dns_cutover_support import API, WWW, start_dns, wave_spec
from wavectl.local.seeders.db_snapshot_copy import moto_session


def problems_of(error: pytest.ExceptionInfo) -> list[str]:
    return [line[2:] for line in str(error.value).splitlines()[1:]]


def failing_preflight(dns) -> list[str]:
    before = dns.zone_dump()
    with pytest.raises(PreflightFailed) as raised:
        handler.preflight(dns.event(), None)
    assert dns.zone_dump() == before  # read-only: the zone is byte-identical
    return problems_of(raised)


def test_preflight_passes_the_seeded_zone_and_describes_the_plan(dns):
    # Given api as a weighted pair and www as a plain record, alarms OK, health checks healthy
    before = dns.zone_dump()
    # When preflight runs
    result = handler.preflight(dns.event(), None)
    # Then it passes, says www will be converted, and changed nothing
    assert result["records"] == [API, WWW] and result["converts"] == [WWW]
    assert result["weights"][API + "."] == {"old": 100, "new": 0}
    assert result["first"]["weight"] == 10 and not result["first"]["gated"]
    assert "10% -> 25% -> 50% -> 100%" in result["summary"]
    assert dns.zone_dump() == before and dns.journal.changes[1:] == []


def test_preflight_names_a_missing_record(dns):
    # Given the www record deleted from the zone
    route53 = dns.route53()
    www = next(
        s
        for s in route53.list_resource_record_sets(HostedZoneId=dns.zone_id)["ResourceRecordSets"]
        if s["Name"] == WWW + "."
    )
    route53.change_resource_record_sets(
        HostedZoneId=dns.zone_id, ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": www}]}
    )
    # When preflight runs, Then it names the record
    assert failing_preflight(dns) == [
        f"CNAME {WWW} not found in the zone; create it (pointing at www-old.acme-invest.example) first"
    ]


@pytest.mark.parametrize("state", ["ALARM", "INSUFFICIENT_DATA"])
def test_preflight_names_an_alarm_that_is_not_ok(dns, state):
    # Given the 5xx alarm not OK
    dns.set_alarm("api-5xx-rate", state)
    # When preflight runs, Then it names the alarm and its state
    (problem,) = failing_preflight(dns)
    assert problem.startswith(f"alarm api-5xx-rate is {state}, not OK (test: {state})")


def test_preflight_names_an_unhealthy_health_check_of_a_new_target(dns):
    # Given the new api target failing its health check
    check = dns.seeded["health_checks"]["api-globex.acme-invest.example"]
    dns.journal.set_health(check, healthy=False)
    # When preflight runs, Then it names the check and the target
    assert failing_preflight(dns) == [
        f"health check {check} of new_target api-globex.acme-invest.example is not healthy "
        "(Failure: HTTP Status Code: 503)"
    ]


def test_preflight_lists_every_problem_at_once(dns):
    # Given an alarm in ALARM, a missing alarm and a new target that does not resolve
    dns.set_alarm("api-p99-latency", "ALARM", account="target")
    spec = wave_spec()
    spec["alarms"].append({"name": "api-gone", "account": "source", "region": "eu-west-1"})
    spec["records"][1]["new_target"] = "www-nowhere.acme-invest.example"
    # When preflight runs
    with pytest.raises(PreflightFailed) as raised:
        handler.preflight(dns.event(spec=spec), None)
    # Then all three are reported
    problems = problems_of(raised)
    assert str(raised.value).startswith("3 problems found; nothing was changed")
    assert any("api-p99-latency is ALARM" in p for p in problems)
    assert "alarm api-gone not found in the source account 222222222222 eu-west-1" in problems
    assert any("new_target www-nowhere.acme-invest.example does not resolve" in p for p in problems)


def test_preflight_says_which_account_holds_the_zone_when_the_runbook_names_the_other(dns):
    # Given a runbook saying the zone is in the target account (it is in the source account)
    spec = wave_spec(zone_account="target")
    before = dns.zone_dump()
    # When preflight runs, Then it says where the zone is and what to set
    with pytest.raises(PreflightFailed) as raised:
        handler.preflight(dns.event(spec=spec), None)
    assert problems_of(raised) == [
        "zone acme-invest.example is not in the target account 333333333333 but in the source account "
        "222222222222; set zone account: source"
    ]
    assert dns.zone_dump() == before


def test_preflight_refuses_a_zone_no_role_can_reach(monkeypatch):
    # Given the zone in a third account, which neither the source nor the target role is in
    spec = wave_spec()
    with start_dns(monkeypatch, spec) as stack:
        dns = stack.dns
        other = moto_session("444444444444", "us-east-1").client("route53")
        zone = dns.route53()
        sets = zone.list_resource_record_sets(HostedZoneId=dns.zone_id)["ResourceRecordSets"]
        moved = other.create_hosted_zone(Name="acme-invest.example", CallerReference="elsewhere")[
            "HostedZone"
        ]
        deletes = [
            {"Action": "DELETE", "ResourceRecordSet": s} for s in sets if s["Type"] not in ("NS", "SOA")
        ]
        zone.change_resource_record_sets(HostedZoneId=dns.zone_id, ChangeBatch={"Changes": deletes})
        zone.delete_hosted_zone(Id=dns.zone_id)
        other_before = json.dumps(
            other.list_resource_record_sets(HostedZoneId=moved["Id"])["ResourceRecordSets"]
        )
        # When preflight runs
        with pytest.raises(PreflightFailed) as raised:
            handler.preflight(dns.event(), None)
        # Then it says no role of the wave can reach the zone, and the zone is untouched
        assert (
            "zone acme-invest.example not found in the source (222222222222) or target (333333333333) "
            "account: no role of this wave can reach it" in problems_of(raised)
        )
        assert (
            json.dumps(other.list_resource_record_sets(HostedZoneId=moved["Id"])["ResourceRecordSets"])
            == other_before
        )


def test_preflight_refuses_a_role_that_may_not_change_the_zone(dns):
    # Given the source role denied route53:ChangeResourceRecordSets
    iam = moto_session("222222222222", "eu-west-1").client("iam")
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "route53:ChangeResourceRecordSets", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName="WavectlSource", PolicyName="no-dns", PolicyDocument=json.dumps(deny))
    # When preflight runs, Then it names the role and the action
    (problem,) = failing_preflight(dns)
    assert problem == (
        "role arn:aws:iam::222222222222:role/WavectlSource may not route53:ChangeResourceRecordSets on "
        f"arn:aws:route53:::hostedzone/{dns.zone_id}"
    )
