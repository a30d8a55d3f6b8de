"""Throughput and peak memory of `wavectl bridge` on large extracts (CSV and pain.001.001.03).

Generates valid payment files (IBANs from schwifty, unique end-to-end ids, EUR and JPY amounts),
runs `python -m wavectl bridge FILE --out DIR` as a separate process for each, and reports records/s
and the process's peak RSS (`os.wait4`: the rusage of that one child). Inputs are streamed, so peak
RSS must stay flat as the input grows: the 1M-record CSV within 1.2x of the 100k one, and the
200k-transaction pain.001 within 1.2x of the 20k one.

    .venv/bin/python benchmarks/bridge.py            # 100k + 1M CSV, 20k + 200k pain.001
    .venv/bin/python benchmarks/bridge.py --quick    # 10k + 100k CSV, 2k + 20k pain.001
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.contracts import CANONICAL_PAYMENT_FIELDS  # noqa: E402

FLATNESS_LIMIT = 1.2
TX_PER_BLOCK = 1000


def iban_pool(count: int) -> list[str]:
    from schwifty import IBAN

    return [
        IBAN.generate("DE", bank_code="37040044", account_code=f"{n:010d}").compact
        for n in range(1, count + 1)
    ]


def write_csv(path: Path, records: int, ibans: list[str]) -> None:
    rng = random.Random(7)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(CANONICAL_PAYMENT_FIELDS) + "\n")
        for n in range(records):
            jpy = n % 10 == 0
            amount = str(rng.randint(1, 5_000_000)) if jpy else f"{rng.randint(1, 99_999_999) / 100:.2f}"
            out.write(
                f"BENCH-{n:09d},{amount},{'JPY' if jpy else 'EUR'},{ibans[n % len(ibans)]},COBADEFFXXX,"
                f"Acme Investments GmbH,{ibans[(n * 7 + 3) % len(ibans)]},,Creditor {n % 977},2026-11-30,"
                f"SETTLED,Invoice {n}\n"
            )


def write_pain001(path: Path, transactions: int, ibans: list[str]) -> None:
    rng = random.Random(9)
    amounts = [Decimal(rng.randint(1, 9_999_999)) / 100 for _ in range(transactions)]
    ns = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
    with path.open("w", encoding="utf-8") as out:
        out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{ns}"><CstmrCdtTrfInitn>')
        out.write(
            f"<GrpHdr><MsgId>BENCH-1</MsgId><CreDtTm>2026-11-30T06:00:00</CreDtTm><NbOfTxs>{transactions}</NbOfTxs>"
            f"<CtrlSum>{sum(amounts)}</CtrlSum><InitgPty><Nm>Acme Investments GmbH</Nm></InitgPty></GrpHdr>\n"
        )
        for start in range(0, transactions, TX_PER_BLOCK):
            block = amounts[start : start + TX_PER_BLOCK]
            out.write(
                f"<PmtInf><PmtInfId>BENCH-PI-{start}</PmtInfId><PmtMtd>TRF</PmtMtd><NbOfTxs>{len(block)}</NbOfTxs>"
                f"<ReqdExctnDt>2026-11-30</ReqdExctnDt><Dbtr><Nm>Acme Investments GmbH</Nm></Dbtr>"
                f"<DbtrAcct><Id><IBAN>{ibans[start % len(ibans)]}</IBAN></Id></DbtrAcct>"
                f"<DbtrAgt><FinInstnId><BIC>COBADEFFXXX</BIC></FinInstnId></DbtrAgt>\n"
            )
            for offset, amount in enumerate(block):
                n = start + offset
                out.write(
                    f"<CdtTrfTxInf><PmtId><EndToEndId>BENCH-X-{n:09d}</EndToEndId></PmtId>"
                    f'<Amt><InstdAmt Ccy="EUR">{amount}</InstdAmt></Amt>'
                    f"<Cdtr><Nm>Creditor {n % 977}</Nm></Cdtr>"
                    f"<CdtrAcct><Id><IBAN>{ibans[(n * 7 + 3) % len(ibans)]}</IBAN></Id></CdtrAcct>"
                    f"<RmtInf><Ustrd>Invoice {n}</Ustrd></RmtInf></CdtTrfTxInf>\n"
                )
            out.write("</PmtInf>\n")
        out.write("</CstmrCdtTrfInitn></Document>\n")


def run_bridge(path: Path, out_dir: Path) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds, peak RSS in KiB, first stdout line) of one `wavectl bridge` process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TZ": "UTC"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "wavectl", "bridge", str(path), "--out", str(out_dir)],
        cwd=path.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = process.stdout.read(), process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"wavectl bridge failed on {path.name} ({process.returncode}):\n{stderr}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, stdout.strip().splitlines()[0]


def main() -> int:
    quick = "--quick" in sys.argv
    csv_sizes = (10_000, 100_000) if quick else (100_000, 1_000_000)
    pain_sizes = (2_000, 20_000) if quick else (20_000, 200_000)
    ibans = iban_pool(5000)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bridge-bench-") as tmp:
        folder = Path(tmp)
        for kind, sizes, writer, suffix in (
            ("CSV", csv_sizes, write_csv, "csv"),
            ("pain.001.001.03", pain_sizes, write_pain001, "xml"),
        ):
            for size in sizes:
                path = folder / f"bench-{size}.{suffix}"
                writer(path, size, ibans)
                seconds, cpu, peak_kib, line = run_bridge(path, folder / f"out-{size}-{suffix}")
                rows.append((kind, size, path.stat().st_size, seconds, cpu, peak_kib, line))
                path.unlink()
    # records/s is wall clock (includes ~2 s of interpreter start and imports); per CPU second is
    # what the process itself used, the fairer figure on a machine shared with other work.
    header = f"{'input':<16}{'records':>10}{'MiB':>5}{'wall s':>8}{'rec/s':>8}"
    print(f"{header}{'rec/CPU-s':>10}{'peak RSS MiB':>13}")
    for kind, size, size_bytes, seconds, cpu, peak_kib, _ in rows:
        print(
            f"{kind:<16}{size:>10,}{size_bytes / 2**20:>5.0f}{seconds:>8.1f}"
            f"{size / seconds:>8,.0f}{size / cpu:>10,.0f}{peak_kib / 1024:>13.1f}"
        )
    failures = 0
    for kind in ("CSV", "pain.001.001.03"):
        small, large = [r for r in rows if r[0] == kind]
        ratio = large[5] / small[5]
        verdict = "flat" if ratio <= FLATNESS_LIMIT else "NOT FLAT"
        failures += ratio > FLATNESS_LIMIT
        sizes = f"{large[1]:,} / {small[1]:,} records"
        print(f"{kind}: peak RSS {sizes} = {ratio:.2f}x ({verdict}, limit {FLATNESS_LIMIT}x)")
    for kind, size, *_, line in rows:
        print(f"  {kind} {size:,}: {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
