"""Payment reconciliation: `wavectl reconcile` against a pandas outer merge and a bare DuckDB full join.

For each size (payments per side; default 1M and 10M) it generates an old and a new canonical CSV with
known differences (payments missing in new, extra in new, amount / status / creditor-name breaks, keys
duplicated on the old side), then runs, each in its own process so a blow-up only kills that process:
- `wavectl reconcile OLD NEW --out DIR` (every output file written), unpartitioned and with 16 partitions;
- pandas: read both files as text, outer merge on the key, count missing, extra and rows with any
  differing field (its address space is capped, default 12 GB, so it fails alone instead of taking the
  shared machine down: reported as "killed");
- bare DuckDB: one full outer join over the two CSVs counting the same three numbers.
It prints JSON: wall time, rows/s (both sides' rows over wall time), peak RSS of each process, the ratios
(pandas / engine, engine / bare DuckDB, partitioned / unpartitioned), whether every run found the
expected counts, and whether the targets hold (>= 5x pandas, <= 1.5x bare DuckDB, <= 3 GB at 10M).

    .venv/bin/python benchmarks/reconcile.py                      # 1M and 10M per side
    .venv/bin/python benchmarks/reconcile.py --sizes 1000000      # 1M only
    .venv/bin/python benchmarks/reconcile.py --memory-limit 2GB   # the engine's DuckDB limit
    .venv/bin/python benchmarks/reconcile.py --sizes 10000000 --skip pandas,partitioned
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.contracts import CANONICAL_PAYMENT_FIELDS  # noqa: E402

KEY = "end_to_end_id"
PARTITIONS = 16
TARGET_PANDAS_SPEEDUP, TARGET_DUCKDB_RATIO, TARGET_RSS_GB_AT_10M = 5.0, 1.5, 3.0

# Which generated payments differ (i is the payment's index on the old side).
MISSING = "i % 2000 = 1"
AMOUNT_BREAK = "i % 1000 = 3"
STATUS_BREAK = "i % 1500 = 7"
NAME_BREAK = "i % 3000 = 11"
DUPLICATED_OLD = "i % 100000 = 13"
EXTRA_EVERY = 2000

PAYMENT_SQL = """
SELECT printf('E2E%012d', i) AS end_to_end_id,
       CASE WHEN currency = 'JPY' THEN printf('%d', minor)
            ELSE printf('%d.%02d', minor // 100, minor % 100) END AS amount,
       currency,
       printf('DE%02d37040044%010d', i % 97, i) AS debtor_iban, 'COBADEFFXXX' AS debtor_bic,
       printf('Debtor %d GmbH', i % 50000) AS debtor_name,
       printf('FR76300060000%014d', i) AS creditor_iban, 'AGRIFRPPXXX' AS creditor_bic,
       printf('Creditor %d SA', i % 70000) || {name_suffix} AS creditor_name,
       printf('2026-11-%02d', 1 + i % 28) AS requested_execution_date,
       {status} AS status, printf('INV-%d', i) AS remittance_info
FROM (SELECT i, CASE WHEN i % 10 = 0 THEN 'JPY' ELSE 'EUR' END AS currency,
             (i * 7919) % 5000000 + 1 + {amount_bump} AS minor FROM range({n}) t(i))
"""


def generate(n: int, folder: Path) -> tuple[Path, Path, dict[str, int]]:
    """old.csv and new.csv for n payments per side, and the counts a correct reconciliation finds."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    old, new = folder / "old.csv", folder / "new.csv"
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    plain = PAYMENT_SQL.format(n=n, amount_bump="0", status="'ACSC'", name_suffix="''")
    changed = PAYMENT_SQL.format(
        n=n,
        amount_bump=f"CASE WHEN {AMOUNT_BREAK} THEN 1 ELSE 0 END",
        status=f"CASE WHEN {STATUS_BREAK} THEN 'RJCT' ELSE 'ACSC' END",
        name_suffix=f"CASE WHEN {NAME_BREAK} THEN ' Ltd' ELSE '' END",
    )
    duplicated = plain.replace(f"FROM range({n}) t(i))", f"FROM range({n}) t(i) WHERE {DUPLICATED_OLD})")
    con.execute(f"COPY ({plain} UNION ALL {duplicated}) TO '{old}' (HEADER)")
    kept = changed.replace(f"FROM range({n}) t(i))", f"FROM range({n}) t(i) WHERE NOT ({MISSING}))")
    extra = plain.replace("printf('E2E%012d', i)", "printf('NEW%012d', i)").replace(
        f"range({n})", f"range({n // EXTRA_EVERY})"
    )
    # the new owner's file comes in another order
    con.execute(
        f"COPY (SELECT * FROM ({kept} UNION ALL {extra}) ORDER BY hash(end_to_end_id)) TO '{new}' (HEADER)"
    )
    expected = con.execute(
        f"SELECT count(*) FILTER (WHERE {MISSING}), "
        f"count(*) FILTER (WHERE NOT ({MISSING}) AND ({AMOUNT_BREAK} OR {STATUS_BREAK} OR {NAME_BREAK})), "
        f"count(*) FILTER (WHERE {DUPLICATED_OLD}) FROM range({n}) t(i)"
    ).fetchone()
    con.close()
    assert expected is not None
    return (
        old,
        new,
        {
            "missing_in_new": expected[0],
            "extra_in_new": n // EXTRA_EVERY,
            "differing": expected[1],
            "duplicates_old": expected[2],
        },
    )


PANDAS_SCRIPT = """
import json, sys
import pandas as pd
fields = {fields!r}
read = lambda p: pd.read_csv(p, dtype=str, keep_default_na=False)
merged = read(sys.argv[1]).merge(read(sys.argv[2]), on={key!r}, how="outer", suffixes=("_o", "_n"),
                                 indicator=True)
both = merged[merged["_merge"] == "both"]
differs = None
for f in fields:
    d = both[f + "_o"] != both[f + "_n"]
    differs = d if differs is None else differs | d
print(json.dumps({{"missing_in_new": int((merged["_merge"] == "left_only").sum()),
                  "extra_in_new": int((merged["_merge"] == "right_only").sum()),
                  "differing": int(differs.sum())}}))
"""

DUCKDB_SCRIPT = """
import json, sys
import duckdb
fields = {fields!r}
scan = lambda p: f"read_csv('{{p}}', header=true, all_varchar=true)"
differs = " OR ".join(f'o."{{f}}" IS DISTINCT FROM n."{{f}}"' for f in fields)
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
row = con.execute(
    f"SELECT count(*) FILTER (WHERE n.{key} IS NULL), count(*) FILTER (WHERE o.{key} IS NULL), "
    f"count(*) FILTER (WHERE o.{key} IS NOT NULL AND n.{key} IS NOT NULL AND ({{differs}})) "
    f"FROM {{scan(sys.argv[1])}} o FULL JOIN {{scan(sys.argv[2])}} n ON o.{key} = n.{key}"
).fetchone()
print(json.dumps({{"missing_in_new": row[0], "extra_in_new": row[1], "differing": row[2]}}))
"""


def run_measured(command: list[str], memory_cap_bytes: int | None = None) -> dict[str, Any]:
    """Run one process; its wall time, its own peak RSS (wait4), its stdout, or how it died."""

    def cap() -> None:
        if memory_cap_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (memory_cap_bytes, memory_cap_bytes))

    env = {**os.environ, "PYTHONPATH": str(ROOT), "TZ": "UTC"}
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr, preexec_fn=cap)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage, not all children's
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0), stderr.seek(0)
        return {
            "wall_s": round(wall, 2),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "returncode": process.returncode,
            "stdout": stdout.read().decode(),
            "stderr_tail": stderr.read().decode()[-400:],
        }


def measure_engine(
    old: Path, new: Path, out: Path, partitions: int, memory_limit: str = "1GB"
) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "wavectl", "reconcile", str(old), str(new), "--out", str(out)]
    command += ["--memory-limit", memory_limit]
    if partitions > 1:
        command += ["--partitions", str(partitions)]
    result = run_measured(command)
    if result["returncode"] not in (0, 1):
        return {**result, "status": "failed"}
    summary = json.loads((out / "summary.json").read_text())
    counts = {
        "missing_in_new": summary["missing_in_new"],
        "extra_in_new": summary["extra_in_new"],
        "differing": summary["payments_with_breaks"],
        "duplicates_old": summary["duplicates_old"],
    }
    files = sorted(p.name for p in out.iterdir())
    return {**_trim(result), "status": "ok", "counts": counts, "outputs": files}


def measure_script(script: str, old: Path, new: Path, cap_gb: float | None = None) -> dict[str, Any]:
    code = script.format(fields=[f for f in CANONICAL_PAYMENT_FIELDS if f != KEY], key=KEY)
    cap = int(cap_gb * 1024**3) if cap_gb else None
    result = run_measured([sys.executable, "-c", code, str(old), str(new)], memory_cap_bytes=cap)
    if result["returncode"] != 0:
        died = "MemoryError" in result["stderr_tail"] or result["returncode"] < 0
        return {**result, "status": f"killed (out of memory, cap {cap_gb} GB)" if died else "failed"}
    return {**_trim(result), "status": "ok", "counts": json.loads(result["stdout"])}


def _trim(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("stdout", "stderr_tail", "returncode")}


def ratio(numerator: dict[str, Any], denominator: dict[str, Any], of: str = "wall_s") -> float | None:
    if numerator.get("status") != "ok" or denominator.get("status") != "ok":
        return None
    return round(numerator[of] / denominator[of], 2)


def bench_size(
    n: int, workdir: Path, pandas_cap_gb: float, memory_limit: str = "1GB", skip: frozenset[str] = frozenset()
) -> dict[str, Any]:
    folder = workdir / str(n)
    started = time.perf_counter()
    old, new, expected = generate(n, folder)
    generated_s = round(time.perf_counter() - started, 1)
    skipped = {"status": "skipped"}
    runs = {
        "wavectl_reconcile": measure_engine(old, new, folder / "out", 1, memory_limit),
        f"wavectl_reconcile_{PARTITIONS}_partitions": skipped
        if "partitioned" in skip
        else measure_engine(old, new, folder / "out-p", PARTITIONS, memory_limit),
        "bare_duckdb_join": measure_script(DUCKDB_SCRIPT, old, new),
        "pandas_outer_merge": skipped
        if "pandas" in skip
        else measure_script(PANDAS_SCRIPT, old, new, pandas_cap_gb),
    }
    rows = 2 * n + expected["duplicates_old"] - expected["missing_in_new"] + expected["extra_in_new"]
    for run in runs.values():
        if run["status"] == "ok":
            run["rows_per_s"] = round(rows / run["wall_s"])
    engine, partitioned = runs["wavectl_reconcile"], runs[f"wavectl_reconcile_{PARTITIONS}_partitions"]
    shared = ("missing_in_new", "extra_in_new", "differing")
    agree = {
        name: run["status"] == "ok" and all(run["counts"][k] == expected[k] for k in shared)
        for name, run in runs.items()
        if run is not skipped
    }
    identical = None if "partitioned" in skip else _same_outputs(folder / "out", folder / "out-p")
    ratios = {
        "pandas_over_engine": ratio(runs["pandas_outer_merge"], engine),
        "engine_over_bare_duckdb": ratio(engine, runs["bare_duckdb_join"]),
        "partitioned_over_unpartitioned": ratio(partitioned, engine),
        # CPU seconds: what the shared 2-core machine cannot distort as much as wall time
        "cpu_pandas_over_engine": ratio(runs["pandas_outer_merge"], engine, "cpu_s"),
        "cpu_engine_over_bare_duckdb": ratio(engine, runs["bare_duckdb_join"], "cpu_s"),
    }
    targets = {
        "at_least_5x_faster_than_pandas": (
            ratios["pandas_over_engine"] >= TARGET_PANDAS_SPEEDUP
            if ratios["pandas_over_engine"]
            else runs["pandas_outer_merge"]["status"]
        ),
        "within_1_5x_of_bare_duckdb": bool(
            ratios["engine_over_bare_duckdb"] and ratios["engine_over_bare_duckdb"] <= TARGET_DUCKDB_RATIO
        ),
    }
    if n >= 10_000_000:
        targets["peak_rss_at_most_3gb"] = engine.get("peak_rss_mb", 1e9) <= TARGET_RSS_GB_AT_10M * 1024
    return {
        "payments_per_side": n,
        "engine_memory_limit": memory_limit,
        "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
        "rows_read_both_sides": rows,
        "generated_in_s": generated_s,
        "input_mb": round((old.stat().st_size + new.stat().st_size) / 1024**2),
        "expected": expected,
        "runs": runs,
        "ratios": ratios,
        "counts_agree": agree,
        "all_agree": all(agree.values()) or {k: v for k, v in agree.items() if not v},
        "partitioned_outputs_identical": identical,
        "targets": targets,
    }


def _same_outputs(one: Path, other: Path) -> bool:
    if not one.exists() or not other.exists():
        return False
    names = sorted(p.name for p in one.iterdir())
    return names == sorted(p.name for p in other.iterdir()) and all(
        (one / name).read_bytes() == (other / name).read_bytes() for name in names
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="payments per side, comma-separated")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/wavectl-bench-reconcile"))
    parser.add_argument("--pandas-memory-cap-gb", type=float, default=12.0)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--memory-limit", default="1GB", help="wavectl reconcile's DuckDB memory limit")
    parser.add_argument(
        "--skip",
        default="",
        help="runs to leave out, comma-separated: partitioned, pandas (for 10M on a busy box)",
    )
    args = parser.parse_args()
    skip = frozenset(filter(None, args.skip.split(",")))
    if not skip <= {"partitioned", "pandas"}:
        parser.error(f"--skip takes partitioned and/or pandas, not {', '.join(sorted(skip))}")
    results = []
    for n in (int(s.replace("_", "")) for s in args.sizes.split(",")):
        results.append(bench_size(n, args.workdir, args.pandas_memory_cap_gb, args.memory_limit, skip))
        print(json.dumps(results[-1], indent=2), flush=True)
        if not args.keep:
            shutil.rmtree(args.workdir / str(n), ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
