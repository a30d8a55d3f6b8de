"""The runbook's verify queries run through the RDS Data API on the source and the restored cluster."""

from __future__ import annotations

import pytest
import requests

from tasks.common.errors import VerificationFailed
from tests.tasks.db_copy_support import (
    SOURCE,
    TARGET,
    Driver,
    rds,
)

MOTO_RESULTS = "http://motoapi.amazonaws.com/moto-api/static/rds-data/statement-results"


def data_api_answers(account: str, region: str, count: int) -> None:
    """What moto's Data API answers the next statement in that account and region: one count."""
    results = [{"records": [[{"longValue": count}]], "columnMetadata": [{"name": "count"}]}]
    response = requests.post(MOTO_RESULTS, json={"account_id": account, "region": region, "results": results})
    assert response.status_code == 201


def test_a_count_that_matches_on_source_and_target_passes_and_the_summary_shows_both(cloud, example_runbook):
    # Given the ledger cluster restored, and 1042 journal entries on the source and on the target
    driver = Driver(example_runbook)
    ledger = driver.item("ledger")
    driver.through_restore(ledger)
    data_api_answers(SOURCE, "eu-west-1", 1042)
    data_api_answers(TARGET, "eu-central-1", 1042)
    # When the restored cluster is verified
    verification = driver.call("verify", ledger)
    # Then the query ran on both sides and matched, and the approvers' summary line shows the values
    (query,) = verification["queries"]
    assert query == {**query, "ok": True, "source": "1042", "actual": "1042"}
    assert "1/1 queries matched" in verification["summary"]
    assert "journal entries: source 1042 = target 1042" in verification["summary"]
    # And the Data API was enabled on the restored cluster (a new cluster has it off)
    restored = rds(TARGET, "eu-central-1").describe_db_clusters(DBClusterIdentifier="ledger")["DBClusters"][0]
    assert restored["HttpEndpointEnabled"] is True


def test_a_count_that_differs_fails_verification_naming_the_query_and_both_values(cloud, example_runbook):
    # Given the restored ledger cluster is missing one journal entry
    driver = Driver(example_runbook)
    ledger = driver.item("ledger")
    driver.through_restore(ledger)
    data_api_answers(SOURCE, "eu-west-1", 1042)
    data_api_answers(TARGET, "eu-central-1", 1041)
    # When it is verified
    with pytest.raises(VerificationFailed) as error:
        driver.call("verify", ledger)
    # Then the wave gets Wavectl.VerificationFailed naming the query and the two counts
    assert type(error.value).__name__ == "Wavectl.VerificationFailed"
    assert "query journal entries: source '1042', target '1041'" in str(error.value)


def test_an_expected_value_is_compared_with_the_target_only(cloud, example_runbook):
    # Given a query whose runbook entry says what the target must return
    driver = Driver(example_runbook)
    ledger = driver.item("ledger")
    ledger["verify"] = [{"name": "open periods", "sql": "select count(*) from periods", "expect": "1"}]
    driver.through_restore(ledger)
    data_api_answers(TARGET, "eu-central-1", 2)
    # When it is verified
    with pytest.raises(VerificationFailed) as error:
        driver.call("verify", ledger)
    # Then the target's value is compared with the expectation
    assert "query open periods: expected '1', got '2'" in str(error.value)


def test_queries_on_an_instance_or_without_secrets_are_reported_not_run_with_the_reason(
    cloud, example_runbook
):
    # Given the orders instance (no Data API for RDS instances) and the ledger cluster without secrets
    driver = Driver(example_runbook)
    orders, ledger = driver.item("orders"), driver.item("ledger")
    ledger["verify_secret"] = None
    driver.through_restore(orders)
    driver.through_restore(ledger)
    # When both are verified
    on_orders, on_ledger = driver.call("verify", orders), driver.call("verify", ledger)
    # Then neither query counts as passed, and the summary says why each did not run
    assert on_orders["queries"][0]["ok"] is None and on_ledger["queries"][0]["ok"] is None
    assert "Data API serves Aurora clusters only" in on_orders["summary"]
    assert "0/1 queries matched" in on_orders["summary"]
    assert "no verify_secret.target for ledger" in on_ledger["summary"]
