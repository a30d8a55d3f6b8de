"""The demo estate of a `payment-dual-run` wave in the embedded AWS.

- the old platform's bucket (source account) with its settled payments of each business day the
  wave needs when every day is clean (`required_clean_cycles + shadow_cycles`), canonical CSV,
  status SETTLED;
- the new owner's acknowledgements of the same payments, one file a day in the bridge's
  acknowledgements bucket, answered by the bridge's counterparty simulator (`cloud.bridge.counterparty`):
  its answer to each payment with the faults a test set on it (a dropped payment, an altered amount, a
  duplicate, a wrong status), its own status code (ACSC) in the status column. The day's payments are
  handed to it in one piece rather than as bridge chunks over SFTP: the demo compresses days into
  seconds, and the chunk path (SFTP, connector retrieval) is the bridge's own, tested on its own;
- the primary flag (SSM parameter, tooling account) = `old`, and the bridge switched off (its
  inbound rule disabled), as the wave's preflight requires;
- the old platform's side of the file-arrival contract: its bucket sends S3 events to EventBridge, and
  a rule of its account forwards the "Object Created" events of the settled files to the tooling
  account's default bus, where the wave's rule resumes the cycle's wait.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from tasks.contracts import BRIDGE_INBOUND_RULE, CANONICAL_PAYMENT_FIELDS, bridge_resource_name
from wavectl.kinds.payment_dual_run import PaymentDualRunWave
from wavectl.local.counterparty import ACK_FIELDS
from wavectl.local.seeders.common import bucket, client

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud

PAYMENTS_PER_DAY = 40


def business_days(first: date, count: int) -> list[date]:
    found, day = [], first
    while len(found) < count:
        if day.weekday() < 5:
            found.append(day)
        day += timedelta(days=1)
    return found


def settled_payments(day: date, count: int = PAYMENTS_PER_DAY) -> list[dict[str, str]]:
    """One day's settled payments of the old platform (deterministic per day), canonical fields."""
    rng = random.Random(day.toordinal())
    rows = []
    for n in range(count):
        cents = rng.randint(100, 5_000_000)
        rows.append(
            {
                "end_to_end_id": f"E2E-{day:%Y%m%d}-{n:05d}",
                "amount": f"{cents // 100}.{cents % 100:02d}",
                "currency": "EUR",
                "debtor_iban": "DE89370400440532013000",
                "debtor_bic": "COBADEFFXXX",
                "debtor_name": "Acme Investments",
                "creditor_iban": "DE36500105175407324396",
                "creditor_bic": "INGDDEFFXXX",
                "creditor_name": f"Supplier {rng.randint(1, 500)}",
                "requested_execution_date": day.isoformat(),
                "status": "SETTLED",
                "remittance_info": f"invoice {rng.randint(10_000, 99_999)}",
            }
        )
    return rows


def acknowledgements(cloud: LocalCloud, rows: Iterable[dict[str, str]], day: date) -> list[dict[str, str]]:
    """The new owner's acknowledgement of each payment of `day`, from the counterparty simulator (faults
    included): the record as it understood it, with its own status code as the record's status."""
    if cloud.bridge is None:
        raise RuntimeError("a payment dual run needs the program's payment bridge and its counterparty")
    answered = cloud.bridge.counterparty.answer(list(rows), processed_at=f"{day}T18:00:00Z")
    return [{**ack, "status": ack["ack_status"]} for ack in answered]


def to_csv(rows: Iterable[dict[str, str]], fields: Iterable[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def put_old_file(cloud: LocalCloud, wave: PaymentDualRunWave, day: date, rows: list[dict[str, str]]) -> str:
    p = wave.payments
    key = p.old_key.replace("{date}", day.isoformat())
    s3 = client(cloud, cloud.accounts.source, "s3", p.region)
    s3.put_object(Bucket=p.old_bucket, Key=key, Body=to_csv(rows, CANONICAL_PAYMENT_FIELDS))
    return key


def put_ack_file(cloud: LocalCloud, wave: PaymentDualRunWave, day: date, rows: list[dict[str, str]]) -> str:
    acks = cloud.runbook.program.payment_bridge.buckets.acknowledgements
    key = wave.payments.ack_key.replace("{date}", day.isoformat())
    s3 = cloud.session.client("s3", region_name=acks.region)
    s3.put_object(Bucket=acks.name, Key=key, Body=to_csv(rows, ACK_FIELDS))
    return key


def seed_day(cloud: LocalCloud, wave: PaymentDualRunWave, day: date, *, ack: bool = True) -> None:
    """Both files of one business day, the acknowledgements answered by the counterparty simulator;
    `ack` False: no acknowledgement file at all."""
    rows = settled_payments(day)
    put_old_file(cloud, wave, day, rows)
    if ack:
        put_ack_file(cloud, wave, day, acknowledgements(cloud, rows, day))


def forward_settlement_events(cloud: LocalCloud, wave: PaymentDualRunWave) -> None:
    """The source account's part of the contract: settled files' S3 events to the tooling account's bus."""
    p, program = wave.payments, cloud.runbook.program
    s3 = client(cloud, cloud.accounts.source, "s3", p.region)
    s3.put_bucket_notification_configuration(
        Bucket=p.old_bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    events = client(cloud, cloud.accounts.source, "events", p.region)
    name = f"{wave.wave}-settled-files-to-tooling"
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [p.old_bucket]},
            "object": {"key": [{"prefix": p.old_key.split("{date}", 1)[0]}]},
        },
    }
    events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
    bus = f"arn:aws:events:{program.home_region}:{cloud.accounts.tooling}:event-bus/default"
    events.put_targets(Rule=name, Targets=[{"Id": "tooling-default-bus", "Arn": bus}])


def seed(cloud: LocalCloud, wave: PaymentDualRunWave) -> dict[str, Any]:
    p = wave.payments
    program = cloud.runbook.program
    bucket(client(cloud, cloud.accounts.source, "s3", p.region), p.old_bucket, p.region)
    forward_settlement_events(cloud, wave)
    days = business_days(p.first_business_day, p.required_clean_cycles + p.shadow_cycles)
    for day in days:
        seed_day(cloud, wave, day)
    cloud.session.client("ssm", region_name=program.home_region).put_parameter(
        Name=p.primary_flag, Value="old", Type="String", Overwrite=True
    )
    rule = bridge_resource_name(program.program, BRIDGE_INBOUND_RULE)
    cloud.session.client("events", region_name=program.home_region).disable_rule(Name=rule)
    return {"old_bucket": p.old_bucket, "days": [d.isoformat() for d in days], "primary_flag": p.primary_flag}
