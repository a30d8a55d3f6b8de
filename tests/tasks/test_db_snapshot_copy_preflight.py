"""Preflight of the db-snapshot-copy wave: every problem found at once, before anything is touched."""

from __future__ import annotations

import json

import pytest

from tasks.common.errors import PreflightFailed
from tests.tasks.db_copy_support import (
    EXECUTION,
    SOURCE,
    TARGET,
    moto_session,
    preflight_items,
    rds,
    residency,
    snapshots,
    wave_databases,
)


def preflight(runbook, databases=None, **overrides):
    event = {"execution": EXECUTION, "residency": overrides.get("residency", residency(runbook))}
    if databases is not None:
        event["databases"] = databases
    items, ref = preflight_items(event)
    return {"databases": items, "items": ref}


def problems_of(error: pytest.ExceptionInfo) -> list[str]:
    return [line[2:] for line in str(error.value).splitlines()[1:]]


def test_preflight_passes_the_seeded_estate_and_describes_each_database(cloud, example_runbook):
    # Given the demo estate (orders instance, ledger Aurora cluster)
    # When preflight runs
    result = preflight(example_runbook)
    # Then the Map gets both databases with what the later steps need
    items = {db["id"]: db for db in result["databases"]}
    assert set(items) == {"orders", "ledger"}
    assert items["orders"]["engine"] == "postgres" and items["orders"]["size_gib"] == 100
    assert items["ledger"]["members"] and {m["id"] for m in items["ledger"]["members"]} == {
        "ledger-1",
        "ledger-2",
    }
    assert items["ledger"]["target_key_arn"].startswith(f"arn:aws:kms:eu-central-1:{TARGET}:key/")
    assert items["ledger"]["shared_key_arn"].startswith(f"arn:aws:kms:eu-central-1:{SOURCE}:key/")
    assert items["orders"]["security_group_ids"] and items["orders"]["source_tags"]["app"] == "acme-core"


def test_preflight_refuses_the_default_rds_key_and_says_how_to_fix_it(cloud, example_runbook):
    # Given a database whose shared key is the AWS-managed aws/rds key
    databases = wave_databases(example_runbook)[:1]
    databases[0]["shared_kms_key"] = "alias/aws/rds"
    # When preflight runs
    with pytest.raises(PreflightFailed) as error:
        preflight(example_runbook, databases)
    # Then one problem says it cannot be shared and what to do
    (problem,) = problems_of(error)
    assert "AWS-managed default RDS key" in problem and "cannot be shared" in problem
    assert "create a customer-managed KMS key" in problem and TARGET in problem


def test_preflight_refuses_a_shared_key_not_granted_to_the_target(cloud, example_runbook):
    # Given the shared key's policy no longer lets the target account use it
    kms = moto_session(SOURCE, "eu-west-1").client("kms")
    key_id = kms.describe_key(KeyId="alias/wavectl-share")["KeyMetadata"]["KeyId"]
    own_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*",
                "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"}}]}  # fmt: skip
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(own_only))
    # When preflight runs for the orders instance
    with pytest.raises(PreflightFailed) as error:
        preflight(example_runbook, wave_databases(example_runbook)[:1])
    # Then the one problem names the key, the account and the grant to add
    (problem,) = problems_of(error)
    assert f"is not granted to the target account {TARGET}" in problem
    assert "kms:Decrypt" in problem and problem.startswith("orders (instance)")


def test_preflight_refuses_a_target_region_outside_the_data_class(cloud, example_runbook):
    # Given residency that only allows eu-west-1 for eu-personal (ledger goes to eu-central-1)
    rules = {"eu-personal": ["eu-west-1"]}
    # When preflight runs
    with pytest.raises(PreflightFailed) as error:
        preflight(example_runbook, residency=rules)
    # Then ledger is refused for residency, orders is fine
    (problem,) = problems_of(error)
    assert problem == (
        "ledger (cluster): target_region eu-central-1 is not allowed for data class eu-personal "
        "(allowed: eu-west-1); choose one of those regions"
    )


def test_preflight_refuses_a_missing_target_subnet_group(cloud, example_runbook):
    # Given the target landing zone in eu-west-1 lost its subnet group
    rds(TARGET, "eu-west-1").delete_db_subnet_group(DBSubnetGroupName="globex-data")
    # When preflight runs for the orders instance
    with pytest.raises(PreflightFailed) as error:
        preflight(example_runbook, wave_databases(example_runbook)[:1])
    # Then the one problem names the subnet group and where it is missing
    (problem,) = problems_of(error)
    where = f"target account {TARGET} eu-west-1"
    assert problem == f"orders (instance): target subnet_group globex-data not found in {where}"


def test_preflight_lists_every_problem_at_once_and_touches_nothing(cloud, example_runbook):
    # Given several problems across both databases
    databases = wave_databases(example_runbook)
    databases[0]["target"] = {
        **databases[0]["target"],
        "security_groups": ["nope"],
        "kms_key": "alias/missing",
    }
    databases[1]["target"] = {**databases[1]["target"], "parameter_group": "globex-aurora"}
    # When preflight runs
    with pytest.raises(PreflightFailed) as error:
        preflight(example_runbook, databases)
    # Then all three are reported in one failure, and no snapshot was made anywhere
    problems = problems_of(error)
    assert str(error.value).startswith("3 problems found; nothing was changed")
    assert any("security group nope" in p for p in problems)
    assert any("kms_key alias/missing not found" in p for p in problems)
    assert any("cluster parameter group globex-aurora not found" in p for p in problems)
    assert snapshots(SOURCE, "eu-west-1", "instance") == []
    assert snapshots(SOURCE, "eu-west-1", "cluster") == []


def test_preflight_needs_the_shared_key_only_in_the_target_region_of_a_cross_region_copy(
    cloud, example_runbook
):
    # Given ledger, copied from eu-west-1 to eu-central-1, and no shared key in its source region:
    # the source snapshot stays under the database's own key, the shared copy is made in eu-central-1
    kms = moto_session(SOURCE, "eu-west-1").client("kms")
    kms.delete_alias(AliasName="alias/wavectl-share")
    ledger = [db for db in wave_databases(example_runbook) if db["id"] == "ledger"]
    # When preflight runs for ledger
    result = preflight(example_runbook, ledger)
    # Then it passes, with the target-region shared key for the copy
    (item,) = result["databases"]
    assert item["shared_key_arn"].startswith(f"arn:aws:kms:eu-central-1:{SOURCE}:key/")
