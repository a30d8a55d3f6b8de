"""The demo estate of a `payment-dual-run` wave in the embedded AWS."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from wavectl.kinds.payment_dual_run import PaymentDualRunWave
from wavectl.local.seeders.common import bucket, client

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud

FIRST_BUSINESS_DAY = date(2026, 11, 2)
PAYMENTS_PER_DAY = 40


def payment_days(days: int, first: date = FIRST_BUSINESS_DAY) -> list[date]:
    found, day = [], first
    while len(found) < days:
        if day.weekday() < 5:
            found.append(day)
        day += timedelta(days=1)
    return found


def payment_file(day: date, count: int = PAYMENTS_PER_DAY) -> bytes:
    """One day's payments as the old platform writes them (deterministic per day)."""
    rng = random.Random(day.toordinal())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["payment_id", "value_date", "amount_cents", "currency", "debtor_iban", "creditor_iban"])
    for n in range(count):
        writer.writerow(
            [
                f"PAY-{day:%Y%m%d}-{n:05d}",
                day.isoformat(),
                rng.randint(100, 5_000_000),
                "EUR",
                f"IE{rng.randint(10, 99)}ACME{rng.randint(10**13, 10**14 - 1)}",
                f"DE{rng.randint(10, 99)}{rng.randint(10**17, 10**18 - 1)}",
            ]
        )
    return out.getvalue().encode()


def seed(cloud: LocalCloud, wave: PaymentDualRunWave) -> dict[str, Any]:
    """`days` business days of payment files in the old platform's bucket (source account), the same
    files from the new pipeline (target account), and the empty secure-transfer bucket."""
    feed = wave.payments
    source = client(cloud, cloud.accounts.source, "s3", feed.region)
    target = client(cloud, cloud.accounts.target, "s3", feed.region)
    bucket(source, feed.old_bucket, feed.region)
    bucket(target, feed.new_bucket, feed.region)
    bucket(target, feed.transfer_bucket, feed.region)
    keys = []
    for day in payment_days(feed.days):
        key = f"{feed.prefix}{day:%Y/%m/%d}/payments.{feed.format}"
        body = payment_file(day) if feed.format == "csv" else _as_jsonl(payment_file(day))
        source.put_object(Bucket=feed.old_bucket, Key=key, Body=body)
        target.put_object(Bucket=feed.new_bucket, Key=key, Body=body)
        keys.append(key)
    return {"old_bucket": feed.old_bucket, "new_bucket": feed.new_bucket, "keys": keys}


def _as_jsonl(csv_bytes: bytes) -> bytes:
    rows = csv.DictReader(io.StringIO(csv_bytes.decode()))
    return "".join(json.dumps(row) + "\n" for row in rows).encode()
