"""The payment bridge end to end in the embedded AWS: how long from a file in inbound to its chunks on
the new owner's SFTP server, and to their acknowledgements back in the acknowledgement bucket.

Synthesises the example program (its `payment_bridge:`, chunks of `--chunk-size` records), starts
the embedded AWS with the local SFTP server and counterparty, drops one generated CSV of `--records`
payments into inbound and measures (real seconds):

- inbound -> every chunk on the SFTP server (ingest, manifest, verify_batch, claims, SFTP upload);
- -> every acknowledgement indexed (counterparty, directory listing, retrieval, index).

    .venv/bin/python benchmarks/bridge_transfer.py [--records 20000] [--chunk-size 5000]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--chunk-size", type=int, default=5_000)
    args = parser.parse_args()

    from benchmarks.bridge import iban_pool, write_csv
    from wavectl.bridge_model import BridgeOutput
    from wavectl.local.engine import LocalCloud
    from wavectl.runbook import load_runbook
    from wavectl.synth import synthesize

    runbook = load_runbook(ROOT / "runbooks")
    output = BridgeOutput(format="csv", chunk_size=args.chunk_size)
    settings = runbook.program.payment_bridge.model_copy(update={"output": output})
    runbook = dataclasses.replace(
        runbook, program=runbook.program.model_copy(update={"payment_bridge": settings})
    )
    work = Path(tempfile.mkdtemp(prefix="bridge-transfer-"))
    started = time.perf_counter()
    synthesize(runbook, work / "cdk.out", bundle=False)
    print(f"synth {time.perf_counter() - started:.1f}s")
    extract = work / "extract.csv"
    write_csv(extract, args.records, iban_pool(200))
    chunks = -(-args.records // args.chunk_size)
    with LocalCloud(runbook, work / "cdk.out", seed_estate=False) as cloud:
        s3 = cloud.session.client("s3")
        started = time.perf_counter()
        s3.put_object(
            Bucket=settings.buckets.inbound.name, Key="extracts/bench.csv", Body=extract.read_bytes()
        )
        delivered = _wait(
            lambda: len(cloud.bridge.server.received) >= chunks and cloud.events.wait_idle(0.01)
        )
        to_sftp = time.perf_counter() - started
        cloud.bridge.counterparty.wait_idle(120)
        cloud.bridge.poll_now(cloud)
        _wait(lambda: _indexed(s3, settings.buckets.acknowledgements.name) >= chunks)
        to_acks = time.perf_counter() - started
        size = sum(f.size for f in cloud.bridge.server.received)
    print(f"records {args.records:,} in {chunks} chunks of {args.chunk_size:,}; {size / 2**20:.1f} MiB sent")
    print(
        f"inbound -> all chunks on the SFTP server: {to_sftp:.1f}s ({args.records / to_sftp:,.0f} records/s)"
    )
    print(f"inbound -> all acknowledgements indexed:  {to_acks:.1f}s")
    if not delivered:
        print("NOT every chunk was delivered within the timeout")


def _wait(condition, timeout: float = 600.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _indexed(s3, bucket: str) -> int:
    return len(s3.list_objects_v2(Bucket=bucket, Prefix="index/").get("Contents", []))


if __name__ == "__main__":
    main()
