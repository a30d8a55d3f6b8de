"""Inventory and usage proof of the decommission wave, against moto (source and retention accounts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tasks.common.errors import PreflightFailed
from tasks.decommission import inventory, usage
from tests.tasks.decommission_support import SOURCE, session_for, spec
from wavectl.local import estate_decommission as legacy


def test_inventory_finds_tagged_resources_across_regions_with_their_data_class(estate):
    # Given the seeded legacy estate (scope tag in eu-west-1 and eu-central-1), a protected bucket and
    # out-of-scope resources
    # When the inventory is taken
    taken = inventory.take(estate.reach, estate.spec)

    # Then every in-scope resource is listed with its type and data class, and nothing else
    found = {item["id"]: item for item in taken["items"]}
    assert set(found) == set(estate.in_scope.values())
    assert found[estate.in_scope["fx_rates"]]["region"] == "eu-central-1"
    assert found[estate.in_scope["reports_bucket"]]["data_class"] == "eu-personal"
    assert found[estate.in_scope["reports_bucket"]]["size_bytes"] > 0
    for arn in [*estate.made["protected"].values(), *estate.made["out_of_scope"].values()]:
        assert arn not in found
    assert "7 resource(s)" in taken["summary"]


def test_inventory_with_a_protected_resource_in_scope_fails_naming_it(estate):
    # Given the protected audit bucket also carries the scope tag
    audit = estate.made["protected"]["audit_bucket"]
    legacy.tag_resource(session_for, SOURCE, audit, {"wavectl:decommission": "acme-legacy"})

    # When the inventory is taken, Then the wave stops before anything changes, naming the bucket
    with pytest.raises(PreflightFailed, match="acme-audit-trail.*protected but in scope"):
        inventory.take(estate.reach, estate.spec)


def test_inventory_with_a_protected_arn_named_in_scope_fails(estate):
    # Given the runbook names a Lambda in scope and also lists it as protected
    renderer = estate.in_scope["renderer"]
    protected = spec(arns=[renderer], protected={"arns": [renderer], "tag": "wavectl:protected"})

    # When / Then
    with pytest.raises(PreflightFailed, match="acme-statement-renderer.*protected"):
        inventory.take(estate.reach, protected)


def test_usage_proof_passes_for_idle_resources_and_accepts_route53_without_proof(estate):
    # Given idle metrics (zeros) for two days for every in-scope resource
    items = inventory.take(estate.reach, estate.spec)["items"]

    # When usage is proven
    proof = usage.prove(estate.reach, estate.spec, items)

    # Then every resource is shown unused by its metric
    assert {p["verdict"] for p in proof["proofs"]} == {"unused"}
    assert "7 of 7 shown unused" in proof["summary"]


def test_usage_proof_fails_on_traffic_naming_the_resource_metric_value_and_last_time(estate):
    # Given the statement renderer was invoked 12 times three days ago
    items = inventory.take(estate.reach, estate.spec)["items"]
    at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=3)
    legacy.put_usage(session_for, SOURCE, estate.in_scope["renderer"], 12.0, at=at)

    # When usage is proven, Then the wave stops naming the function, its metric, value and time
    with pytest.raises(PreflightFailed) as failed:
        usage.prove(estate.reach, estate.spec, items)
    message = str(failed.value)
    assert "lambda:function acme-statement-renderer is in use: AWS/Lambda Invocations (Sum) = 12" in message
    assert f"last non-zero at {at.isoformat()}" in message


def test_usage_under_the_runbook_threshold_passes(estate):
    # Given the batch instance received 500 bytes (health checks), and a threshold of 1 MB for EC2
    items = inventory.take(estate.reach, estate.spec)["items"]
    legacy.put_usage(
        session_for, SOURCE, estate.in_scope["batch"], 500.0, at=datetime.now(UTC) - timedelta(hours=5)
    )

    # When usage is proven with the threshold, Then it passes
    proof = usage.prove(estate.reach, spec(thresholds={"ec2:instance": 1_000_000}), items)
    assert all(p["verdict"] == "unused" for p in proof["proofs"])


def test_missing_metrics_are_unproven_and_fail_unless_the_type_is_accepted(estate):
    # Given a Lambda in scope with no datapoints at all
    arn = legacy._function(
        session_for, SOURCE, "eu-west-1", "acme-no-metrics", {"wavectl:decommission": "acme-legacy"}
    )
    items = inventory.take(estate.reach, estate.spec)["items"]

    # When usage is proven, Then it is unproven (not unused) and fails
    with pytest.raises(PreflightFailed, match="acme-no-metrics: AWS/Lambda Invocations .* usage unproven"):
        usage.prove(estate.reach, estate.spec, items)

    # And when the runbook accepts Lambda functions without proof, it passes as "unproven, accepted"
    accepted = spec(accept_unproven=["lambda:function", "route53:record"])
    proof = usage.prove(estate.reach, accepted, items)
    assert next(p for p in proof["proofs"] if p["id"] == arn)["verdict"] == "unproven, accepted"
