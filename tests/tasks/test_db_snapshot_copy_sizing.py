"""The runbook's `size_gib` sizes the waits of a database, above all of Aurora clusters (reported 1 GiB)."""

from __future__ import annotations

from tasks.common.backoff import (
    DEADLINE_FACTOR,
    DEFAULT_CLUSTER_GIB,
    GUESSED_SIZE_MIN_DEADLINE_SECONDS,
    POLL_BUDGET,
    expected_seconds,
)
from tasks.db_snapshot_copy import handler
from tests.tasks.db_copy_support import (
    EXECUTION,
    SOURCE,
    Driver,
    rds_backend,
    residency,
    wave_databases,
)
from tests.tasks.db_copy_support import preflight_items as written_items


def preflight_items(runbook, **sizes: float) -> dict[str, dict]:
    """Preflight's items for the runbook's databases with these sizes (each call its own execution: the
    item list is written once per execution)."""
    databases = [{**db, "size_gib": sizes.get(db["id"])} for db in wave_databases(runbook)]
    execution = f"{EXECUTION}-{'-'.join(f'{k}{v}' for k, v in sorted(sizes.items())) or 'default'}"
    event = {"execution": execution, "residency": residency(runbook), "databases": databases}
    items, _ = written_items(event)
    return {db["id"]: db for db in items}


def test_an_aurora_cluster_without_size_gib_is_planned_at_the_default_size(cloud, example_runbook):
    # Given the runbook says nothing about the ledger cluster's size (Aurora reports 1 GiB)
    # When preflight plans it
    items = preflight_items(example_runbook)
    # Then it is planned at the default cluster size, and the orders instance at its allocated storage
    assert items["ledger"]["size_gib"] == DEFAULT_CLUSTER_GIB
    assert items["orders"]["size_gib"] == 100


def test_a_2_tib_cluster_is_polled_within_the_budget_when_the_runbook_gives_its_size(cloud, example_runbook):
    # Given the ledger cluster is 2 TiB, as the runbook says, and its snapshot takes as long as planned
    ledger = preflight_items(example_runbook, ledger=2048)["ledger"]
    driver = Driver(example_runbook)
    job = driver.call("create_snapshot", ledger)
    planned = expected_seconds("snapshot", "cluster", 2048)
    assert job["expected_seconds"] == planned > expected_seconds("snapshot", "cluster", DEFAULT_CLUSTER_GIB)
    snapshot = rds_backend(SOURCE, "eu-west-1").cluster_snapshots[job["id"]]
    snapshot.status = "creating"
    job = {**job, "ready": False}
    # When the wait loop polls until the snapshot is available (waits added up, not slept)
    while not job["ready"]:
        if job["waited_seconds"] + job["wait_seconds"] >= planned:
            snapshot.status = "available"
        job = handler.poll({"execution": EXECUTION, "job": job}, None)
    # Then the snapshot was seen within 5% of its duration in no more polls than the budget
    assert job["polls"] <= POLL_BUDGET
    assert job["waited_seconds"] - planned <= 0.05 * planned


def test_a_cluster_of_guessed_size_gets_a_day_before_its_waits_give_up(cloud, example_runbook):
    # Given the ledger cluster planned at the default size, and again with the runbook's 2 TiB
    guessed = preflight_items(example_runbook)["ledger"]
    sized = preflight_items(example_runbook, ledger=2048)["ledger"]
    # When their snapshots start
    guessed_job = Driver(example_runbook).call("create_snapshot", guessed)
    sized_job = Driver(example_runbook, execution="exec-sized").call("create_snapshot", sized)
    # Then the guess is not trusted for giving up (it may really be TiBs), the runbook's size is
    assert guessed["size_guessed"] and not sized["size_guessed"]
    assert guessed_job["deadline_seconds"] == GUESSED_SIZE_MIN_DEADLINE_SECONDS
    assert sized_job["deadline_seconds"] == DEADLINE_FACTOR * sized_job["expected_seconds"]


def test_size_gib_also_overrides_an_instances_allocated_storage(cloud, example_runbook):
    # Given the orders instance's data is known to be 40 GiB of its 100 GiB allocation
    # When preflight plans it
    orders = preflight_items(example_runbook, orders=40)["orders"]
    # Then its waits are planned for 40 GiB
    assert orders["size_gib"] == 40
