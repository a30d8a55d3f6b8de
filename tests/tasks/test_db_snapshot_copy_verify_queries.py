"""The runbook's verify queries: the restored cluster against the source's numbers at snapshot time."""

from __future__ import annotations

import pytest

from tasks.common.errors import VerificationFailed
from tests.tasks.db_copy_support import SOURCE, TARGET, Driver, rds

JOURNAL = "select count(*) from journal_entries"


def data_api_answer(account: str, region: str, cluster: str, sql: str, count: int) -> None:
    """What moto's Data API answers `sql` on that cluster from now on (its results are per ARN + SQL)."""
    from moto.rdsdata.models import QueryResults, rdsdata_backends

    arn = f"arn:aws:rds:{region}:{account}:cluster:{cluster}"
    rdsdata_backends[account][region].sql_results[(arn, sql)] = QueryResults(
        records=[[{"longValue": count}]], column_metadata=[{"name": "count"}]
    )


def test_a_source_that_keeps_changing_after_its_snapshot_does_not_fail_verification(cloud, example_runbook):
    # Given 1042 journal entries in the source ledger when its snapshot is taken
    driver = Driver(example_runbook)
    ledger = driver.item("ledger")
    data_api_answer(SOURCE, "eu-west-1", "ledger", JOURNAL, 1042)
    driver.through_restore(ledger)
    # and a live source that has since moved on to 1050, while the restore holds the snapshot's 1042
    data_api_answer(SOURCE, "eu-west-1", "ledger", JOURNAL, 1050)
    data_api_answer(TARGET, "eu-central-1", "ledger", JOURNAL, 1042)

    # When the restored cluster is verified
    verification = driver.verify(ledger)

    # Then the target is compared with the number captured at snapshot time, and matches
    (query,) = verification["queries"]
    assert query == {**query, "ok": True, "source": "1042", "actual": "1042", "source_at": "snapshot"}
    assert "journal entries: source at snapshot 1042 = target 1042" in verification["summary"]
    # And the Data API was enabled on the restored cluster (a new cluster has it off)
    restored = rds(TARGET, "eu-central-1").describe_db_clusters(DBClusterIdentifier="ledger")["DBClusters"][0]
    assert restored["HttpEndpointEnabled"] is True


def test_a_target_missing_rows_fails_verification_naming_the_query_and_both_values(cloud, example_runbook):
    # Given 1042 journal entries at snapshot time and a restored ledger with 1041
    driver = Driver(example_runbook)
    ledger = driver.item("ledger")
    data_api_answer(SOURCE, "eu-west-1", "ledger", JOURNAL, 1042)
    driver.through_restore(ledger)
    data_api_answer(TARGET, "eu-central-1", "ledger", JOURNAL, 1041)
    # When it is verified
    with pytest.raises(VerificationFailed) as error:
        driver.verify(ledger)
    # Then the wave gets Wavectl.VerificationFailed naming the query and the two counts
    assert type(error.value).__name__ == "Wavectl.VerificationFailed"
    assert "query journal entries: source '1042', target '1041'" in str(error.value)


def test_an_expected_value_is_compared_with_the_target_only(cloud, example_runbook):
    # Given a query whose runbook entry says what the target must return
    driver = Driver(example_runbook)
    ledger = driver.item("ledger")
    ledger["verify"] = [{"name": "open periods", "sql": "select count(*) from periods", "expect": "1"}]
    driver.through_restore(ledger)
    data_api_answer(TARGET, "eu-central-1", "ledger", "select count(*) from periods", 2)
    # When it is verified
    with pytest.raises(VerificationFailed) as error:
        driver.verify(ledger)
    # Then the target's value is compared with the expectation
    assert "query open periods: expected '1', got '2'" in str(error.value)


def test_a_query_that_cannot_run_fails_verification_and_is_shown_not_verified(cloud, example_runbook):
    # Given the ledger cluster without the secrets its query needs
    driver = Driver(example_runbook)
    ledger = driver.item("ledger")
    ledger["verify_secret"] = None
    driver.through_restore(ledger)
    # When it is verified
    with pytest.raises(VerificationFailed) as error:
        driver.verify(ledger)
    # Then verification fails and says the query was not verified, and why
    assert (
        "query journal entries: not verified: the source number could not be captured at snapshot time "
        "(no verify_secret.source for ledger in the runbook)" in str(error.value)
    )


def test_an_optional_query_that_cannot_run_is_reported_not_verified_never_passed(cloud, example_runbook):
    # Given the ledger cluster whose query is optional and whose secrets are missing
    driver = Driver(example_runbook)
    ledger = driver.item("ledger")
    ledger["verify_secret"] = None
    ledger["verify"] = [{**ledger["verify"][0], "optional": True}]
    driver.through_restore(ledger)
    # When it is verified
    verification = driver.verify(ledger)
    # Then the wave may go on, but the query is not counted as passed: the summary says why
    (query,) = verification["queries"]
    assert query["ok"] is None and query["actual"].startswith("not verified: ")
    assert "0/1 queries matched, 1 not verified" in verification["summary"]
    assert "journal entries: not verified: " in verification["summary"]
    assert "no verify_secret.source for ledger" in verification["summary"]
