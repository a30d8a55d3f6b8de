"""dns-cutover tasks against moto: TTL lowering, one change per step for every record, watch, rollback,
closing the rollback window."""

from __future__ import annotations

import pytest

from tasks.dns_cutover import handler
from tests.tasks.dns_cutover_support import API, WWW


def weights_of(change) -> dict[tuple[str, str], int]:
    return {
        (c["ResourceRecordSet"]["Name"].rstrip("."), c["ResourceRecordSet"]["SetIdentifier"]): c[
            "ResourceRecordSet"
        ]["Weight"]
        for c in change.changes
        if c["Action"] == "UPSERT"
    }


def test_lower_ttl_sets_every_record_to_the_cutover_ttl_in_one_change_and_remembers_the_originals(dns):
    # Given api as a weighted pair (TTL 300) and www as a plain record (TTL 900)
    before = len(dns.journal.changes)
    # When the TTL is lowered
    result = handler.lower_ttl(dns.event(), None)
    # Then one change lowered both records, converting www into a weighted pair at 100/0
    assert len(dns.journal.changes) == before + 1
    assert result["original_ttls"] == {API + ".": 300, WWW + ".": 900} and result["wait_seconds"] == 900
    assert dns.weighted(API) == {"acme": (100, 60), "globex": (0, 60)}
    assert dns.weighted(WWW) == {"wavectl-old": (100, 60), "wavectl-new": (0, 60)}
    assert result["change"]["status"] == "INSYNC" and result["change"]["insync_at"]
    # And a retry changes nothing and still reports the original TTLs
    again = handler.lower_ttl(dns.event(), None)
    assert again["original_ttls"] == result["original_ttls"] and again["change"] is None
    assert len(dns.journal.changes) == before + 1


def test_each_step_sets_both_records_in_one_change_and_says_what_comes_next(dns):
    # Given the TTL lowered
    handler.lower_ttl(dns.event(), None)
    seen = []
    # When every step is shifted in order
    for index in range(4):
        result = handler.shift(dns.event(index=index), None)
        seen.append(weights_of(dns.journal.changes[-1]))
        assert result["change"]["id"] == dns.journal.changes[-1].id
    # Then each change held the new weight pair of both records
    assert [w[(API, "globex")] for w in seen] == [10, 25, 50, 100]
    assert [w[(WWW, "wavectl-old")] for w in seen] == [90, 75, 50, 0]
    assert all(len(w) == 4 for w in seen)
    # And the last step says it is the last, gated, with a bake of 15 minutes watched every 30 s
    assert result["step"] == {**result["step"], "weight": 100, "gated": True, "last": True}
    assert result["next"] is None and result["watch"]["length_seconds"] == 900
    # And the evidence holds each change with the weights before and after
    records = dns.evidence()
    assert records["shift-02-50"]["weights_before"][API + "."] == {"old": 75, "new": 25}
    assert records["shift-02-50"]["weights_after"][WWW + "."] == {"old": 50, "new": 50}


def test_watch_counts_the_bake_and_ends_it_after_its_length(dns):
    # Given a shift to 10 %
    handler.lower_ttl(dns.event(), None)
    watch = handler.shift(dns.event(index=0), None)["watch"]
    # When it is polled every 30 s with every alarm OK
    polls = 0
    while not watch["done"]:
        watch = handler.watch(dns.event(watch=watch), None)
        polls += 1
    # Then the bake ended after 15 minutes of polls
    assert polls == 30 and watch["waited_seconds"] == 900


@pytest.mark.parametrize("state", ["ALARM"])
def test_watch_raises_alarm_tripped_naming_the_alarm(dns, state):
    # Given a shift to 50 % and the latency alarm (target account) going off
    handler.lower_ttl(dns.event(), None)
    watch = handler.shift(dns.event(index=2), None)["watch"]
    dns.set_alarm("api-p99-latency", state, account="target")
    # When the next poll runs, Then it fails with Wavectl.AlarmTripped naming the alarm
    with pytest.raises(Exception) as raised:
        handler.watch(dns.event(watch=watch), None)
    assert type(raised.value).__name__ == "Wavectl.AlarmTripped"
    assert "api-p99-latency is ALARM" in str(raised.value) and "50%" in str(raised.value)
    assert dns.evidence()["trip-bake-50"]["alarm_states"]["api-p99-latency"]["state"] == "ALARM"


def test_watch_trips_on_an_unhealthy_new_target(dns):
    # Given a shift to 10 % and the new api target's health check failing
    handler.lower_ttl(dns.event(), None)
    watch = handler.shift(dns.event(index=0), None)["watch"]
    dns.journal.set_health(dns.seeded["health_checks"]["api-globex.acme-invest.example"], healthy=False)
    # When the next poll runs, Then the wave is told to roll back, naming the target
    with pytest.raises(Exception) as raised:
        handler.watch(dns.event(watch=watch), None)
    assert "health check of api-globex.acme-invest.example is failing" in str(raised.value)


def test_rollback_puts_every_record_back_on_old_in_one_change_and_a_second_run_changes_nothing(dns):
    # Given traffic at 50 %
    handler.lower_ttl(dns.event(), None)
    ttl = handler.lower_ttl(dns.event(), None)
    handler.shift(dns.event(index=2), None)
    changes = len(dns.journal.changes)
    error = {"Error": "Wavectl.AlarmTripped", "Cause": "alarm api-5xx-rate is ALARM"}
    # When it is rolled back
    result = handler.rollback(dns.event(error=error, ttl=ttl), None)
    # Then one change put old = 100 / new = 0 on both records with their original TTLs
    assert len(dns.journal.changes) == changes + 1 and result["changed"]
    assert dns.weighted(API) == {"acme": (100, 300), "globex": (0, 300)}
    assert dns.weighted(WWW) == {"wavectl-old": (100, 900), "wavectl-new": (0, 900)}
    assert result["weights_before"][API + "."] == {"old": 50, "new": 50}
    assert result["cause"] == "alarm api-5xx-rate is ALARM"
    # And running it again changes nothing
    again = handler.rollback(dns.event(error=error, ttl=ttl), None)
    assert not again["changed"] and len(dns.journal.changes) == changes + 1


def test_closing_the_window_removes_the_old_sets_and_restores_the_ttl(dns):
    # Given traffic at 100 %
    ttl = handler.lower_ttl(dns.event(), None)
    handler.shift(dns.event(index=3), None)
    # When the rollback window closes
    result = handler.close_window(dns.event(ttl=ttl), None)
    # Then one change removed both old sets and gave the new ones their original TTL
    assert dns.weighted(API) == {"globex": (100, 300)}
    assert dns.weighted(WWW) == {"wavectl-new": (100, 900)}
    assert sorted(result["removed"]) == [f"{API}. acme", f"{WWW}. wavectl-old"]
    closed = dns.evidence()["close-window"]
    assert {s["SetIdentifier"] for s in closed["removed_record_sets"]} == {"acme", "wavectl-old"}
