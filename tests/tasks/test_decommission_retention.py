"""Retention copies of the decommission wave: final DB snapshots and Object Lock S3 copies, verified."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tasks.common.errors import VerificationFailed
from tasks.db_snapshot_copy.naming import STAGE_SHARED, STAGE_SOURCE, STAGE_TARGET, Run
from tasks.decommission import inventory, retention
from tests.tasks.decommission_support import EXECUTION, PROGRAM, RETENTION, SOURCE, WAVE, session_for

RUN = Run(program=PROGRAM, wave=WAVE, execution=EXECUTION)


def retain_all(estate) -> dict:
    items = inventory.take(estate.reach, estate.spec)["items"]
    state = retention.plan({**estate.spec, "wave": WAVE}, items)
    for _ in range(10):
        state = retention.advance(estate.reach, RUN, state)
        if state["status"] == retention.STATUS_DONE:
            return state
    raise AssertionError(f"retention did not finish: {state}")


def test_retention_copies_the_final_snapshot_into_the_retention_account_under_its_key(estate):
    # Given the orders instance in scope (data class eu-personal: Globex account, eu-west-1, 5 years)
    # When the retention rounds run to the end and are verified
    state = retain_all(estate)
    verified = retention.verify(estate.reach, RUN, state)

    # Then the retention account holds the final snapshot, encrypted under its own key, tagged with
    # its retain-until date, and no intermediate snapshot is left in the source account
    rds = session_for(RETENTION, "eu-west-1").client("rds")
    name = RUN.snapshot_name("orders", STAGE_TARGET)
    snapshot = rds.describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"][0]
    key = session_for(RETENTION, "eu-west-1").client("kms").describe_key(KeyId="alias/globex-rds")
    assert snapshot["KmsKeyId"] == key["KeyMetadata"]["Arn"] and snapshot["Status"] == "available"
    tags = {t["Key"]: t["Value"] for t in snapshot["TagList"]}
    assert tags[retention.RETAIN_UNTIL_TAG][:4] == str(datetime.now(UTC).year + 5)
    source = session_for(SOURCE, "eu-west-1").client("rds").describe_db_snapshots(SnapshotType="manual")
    leftovers = {RUN.snapshot_name("orders", s) for s in (STAGE_SOURCE, STAGE_SHARED)}
    assert leftovers.isdisjoint(s["DBSnapshotIdentifier"] for s in source["DBSnapshots"])
    assert verified["databases"][0]["status"] == "available"


def test_retention_copies_bucket_objects_under_compliance_lock_until_now_plus_the_period(estate):
    # Given the reports bucket (eu-personal, 5 years) with three objects
    started = datetime.now(UTC)

    # When retained and verified
    verified = retention.verify(estate.reach, RUN, retain_all(estate))

    # Then each object is in the retention bucket, locked COMPLIANCE until now + 5 years, same checksum
    s3 = session_for(RETENTION, "eu-west-1").client("s3")
    (bucket,) = verified["buckets"]
    assert bucket["objects"] == 3 and bucket["ok"]
    copies = s3.list_objects_v2(Bucket="globex-retention-eu-personal", Prefix=bucket["prefix"])["Contents"]
    assert len(copies) == 3
    for copy in copies:
        head = s3.head_object(Bucket="globex-retention-eu-personal", Key=copy["Key"], ChecksumMode="ENABLED")
        assert head["ObjectLockMode"] == "COMPLIANCE"
        until = head["ObjectLockRetainUntilDate"]
        # the lock date is whole seconds, so it may sit a fraction of a second before started + 5 years
        assert until.year == started.year + 5
        assert abs((until.replace(year=started.year) - started).total_seconds()) < 86_400
        assert head["ChecksumSHA256"]


def test_a_retention_copy_whose_checksum_mismatches_fails_verification_naming_it(estate, monkeypatch):
    # Given a fault: the copy of one report arrives with different bytes (and their own checksum)
    real_put = retention.put_retained

    def corrupting_put(s3, bucket, key, body, checksum):
        if key.endswith("report-1.pdf"):
            body = body + b" tampered"
            checksum = retention.sha256_b64(body)
        real_put(s3, bucket, key, body, checksum)

    monkeypatch.setattr(retention, "put_retained", corrupting_put)
    state = retain_all(estate)

    # When verified, Then verification fails naming the object and the checksum mismatch
    with pytest.raises(VerificationFailed, match="report-1.pdf: checksum .* is not the source's"):
        retention.verify(estate.reach, RUN, state)


def test_retention_rounds_are_idempotent(estate):
    # Given retention already done
    state = retain_all(estate)

    # When a round runs again from the start (a retried task)
    again = retention.advance(
        estate.reach,
        RUN,
        retention.plan({**estate.spec, "wave": WAVE}, inventory.take(estate.reach, estate.spec)["items"]),
    )

    # Then nothing is copied twice: the objects are found with the same checksum
    (bucket,) = again["buckets"]
    assert bucket["copied"] == 0 and bucket["skipped"] == 3
    assert again["status"] == retention.STATUS_DONE
    assert state["databases"][0]["snapshot"]["name"] == again["databases"][0]["snapshot"]["name"]


def _seed_ledger_database(gib: int) -> None:
    """A second instance in scope, `gib` large, under the same keys as orders."""
    rds = session_for(SOURCE, "eu-west-1").client("rds")
    orders = rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]
    rds.create_db_instance(
        DBInstanceIdentifier="ledger",
        DBInstanceClass="db.r6g.large",
        Engine="postgres",
        MasterUsername="acme",
        MasterUserPassword="local-only-password",
        AllocatedStorage=gib,
        StorageEncrypted=True,
        KmsKeyId=orders["KmsKeyId"],
        Tags=orders["TagList"],
    )


def test_databases_of_different_sizes_share_rounds_and_each_counts_only_the_time_that_passed(
    estate, monkeypatch
):
    # Given orders (20 GiB) and ledger (400 GiB) in scope, and RDS that takes its planning durations
    # (simulated, on a clock the test moves by each round's wait, as the Wait state would)
    from wavectl.local.rds_durations import RdsDurations, patches

    _seed_ledger_database(400)
    clock = [0.0]
    durations = RdsDurations(now=lambda: clock[0])
    for target, attribute, replacement in patches(durations):
        monkeypatch.setattr(target, attribute, replacement, raising=False)
    durations.start()
    items = inventory.take(estate.reach, estate.spec)["items"]
    state = retention.plan({**estate.spec, "wave": WAVE}, items)
    step_started: dict[str, float] = {}
    polls: dict[str, int] = {}  # database/step -> polls so far

    # When the retention rounds run to the end
    rounds = 0
    while state["status"] != retention.STATUS_DONE:
        clock[0] += state["wait_seconds"]
        state = retention.advance(estate.reach, RUN, state)
        rounds += 1
        assert rounds < 200, "retention never finished"
        for db in (db for db in state["databases"] if db["step"] != "done"):
            step = f"{db['id']}/{db['step']}"
            step_started.setdefault(step, clock[0])
            polls[step] = db["job"]["polls"]
            # Then a database polled in the other's round counts only the simulated time that passed
            assert db["job"]["waited_seconds"] <= clock[0] - step_started[step]

    # Then both copies are retained, in fewer rounds than the two databases' polls added up
    assert {db["id"]: db["step"] for db in state["databases"]} == {"orders": "done", "ledger": "done"}
    assert rounds < sum(polls.values())
