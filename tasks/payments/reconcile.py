"""Reconcile one business day of payments: the old platform's settlements against the new owner's acks.

Pure logic (no environment, no AWS client): the task Lambda and `wavectl reconcile` run this same code.
DuckDB does the work, bounded by `EngineLimits.memory_limit` and spilling to `temp_directory`, so a day
bigger than memory reconciles. Amounts never touch a float: each is parsed from its decimal text into
integer minor units (DECIMAL(38,0)) exactly, compared and summed as integers.

Rules, per field of the canonical record (`tasks.contracts.CANONICAL_PAYMENT_FIELDS`):
- amount: minor units of the row's currency, equal within `tolerance_minor`;
- currency, remittance_info: exactly (an empty value equals a missing one);
- requested_execution_date: as a date, whatever the accepted spelling (2026-11-29, 20261129, 29.11.2026);
- status: the old code through the runbook's mapping (old code -> accepted new codes), case-insensitive;
- names, IBANs, BICs: ignoring case and whitespace.
A key that occurs more than once on either side is reported in duplicates.csv and left out of matching,
of missing/extra and of breaks, on both sides.

Scale-out: `partition` splits a side by a hash of the key into N Parquet partitions (all rows of a key
land in the same partition), `reconcile` runs per partition pair, `merge_results` combines them; the
merged outputs are byte-identical to one unpartitioned run.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from tasks.contracts import CANONICAL_PAYMENT_FIELDS

OUTPUT_FILES = ("breaks.csv", "missing_in_new.csv", "extra_in_new.csv", "duplicates.csv")
SUMMARY_JSON, SUMMARY_TEXT = "summary.json", "summary.txt"
SUMMARY_SAMPLE_BREAKS = 5
SIDES = ("old", "new")

# ISO 4217 minor units that are not 2 (the table pycountry lacks; from the ISO 4217 list, 2026).
CURRENCY_EXPONENTS: Mapping[int, tuple[str, ...]] = {
    0: (
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
        "XAF", "XOF", "XPF",
    ),
    3: ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"),
    4: ("CLF", "UYW"),
}  # fmt: skip
DEFAULT_EXPONENT = 2

SPACELESS_FIELDS = (
    "debtor_iban",
    "debtor_bic",
    "debtor_name",
    "creditor_iban",
    "creditor_bic",
    "creditor_name",
)
EXACT_FIELDS = ("currency", "remittance_info")  # and every other field not listed above
DATE_FIELDS = ("requested_execution_date",)
DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ")

PREPARED_KEY, PREPARED_MINOR = "__key", "__amount_minor"  # columns of a prepared (partitioned) file
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}


class ReconcileInputError(ValueError):
    """An input file cannot be reconciled (unknown format, missing column, floating-point amounts)."""


@dataclass(frozen=True)
class ReconcileRules:
    """What counts as agreeing; from the runbook's payment-dual-run `payments:` block."""

    key: str = "end_to_end_id"
    tolerance_minor: int = 0
    status_mapping: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    compare: tuple[str, ...] = tuple(name for name in CANONICAL_PAYMENT_FIELDS if name != "end_to_end_id")

    def __post_init__(self) -> None:
        if self.key not in CANONICAL_PAYMENT_FIELDS:
            raise ReconcileInputError(f"key {self.key!r} is not a canonical payment field")
        unknown = [name for name in self.compare if name not in CANONICAL_PAYMENT_FIELDS]
        if unknown:
            raise ReconcileInputError(f"cannot compare unknown field(s): {', '.join(unknown)}")
        if self.tolerance_minor < 0:
            raise ReconcileInputError("tolerance_minor must be zero or more")

    @property
    def compared_fields(self) -> tuple[str, ...]:
        return tuple(name for name in CANONICAL_PAYMENT_FIELDS if name in self.compare and name != self.key)


@dataclass(frozen=True)
class EngineLimits:
    """DuckDB's budget: memory it may use before spilling to temp_directory, and threads."""

    memory_limit: str = "1GB"
    threads: int | None = None
    temp_directory: Path | None = None
    # DuckDB's CSV reader takes 32 MB buffers unless told; a limit of a few dozen MB needs smaller ones
    csv_buffer_bytes: int | None = None


# ---------------------------------------------------------------------------------------------- SQL helpers


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _per_currency_sql(currency: str, value: Callable[[int], int]) -> str:
    whens = " ".join(
        f"WHEN {currency} IN ({', '.join(map(_literal, codes))}) THEN {value(exponent)}"
        for exponent, codes in CURRENCY_EXPONENTS.items()
    )
    return f"(CASE {whens} ELSE {value(DEFAULT_EXPONENT)} END)"


def _minor_units_sql(amount_text: str, currency: str) -> str:
    """Integer minor units of a decimal text, or NULL when it is not an amount of that currency.

    DuckDB parses the text as DECIMAL(38,4) (exact; no float) and the product with 10^exponent is an
    integer because the fraction may not be longer than the currency's exponent (<= 4): '12.5' EUR -> 1250,
    '1500' JPY -> 1500; '12.345' EUR, '1e5', '' and 'abc' are not amounts.
    """
    text = f"trim({amount_text})"
    exponent, scale = _per_currency_sql(currency, lambda e: e), _per_currency_sql(currency, lambda e: 10**e)
    return (
        f"(CASE WHEN length(split_part({text}, '.', 2)) <= {exponent} "
        f"AND NOT contains({text}, 'e') AND NOT contains({text}, 'E') "
        f"THEN CAST(TRY_CAST({text} AS DECIMAL(38,4)) * {scale} AS DECIMAL(38,0)) END)"
    )


def _spaceless(expr: str) -> str:
    return f"upper(regexp_replace(coalesce({expr}, ''), '\\s+', '', 'g'))"


def _date(expr: str) -> str:
    formats = "[" + ", ".join(map(_literal, DATE_FORMATS)) + "]"
    return f"coalesce(strftime(try_strptime(trim({expr}), {formats})::DATE, '%Y-%m-%d'), trim({expr}), '')"


def _maybe_differs_sql(name: str, rules: ReconcileRules) -> str:
    """A cheap superset of `_differs_sql`: the raw values differ (or, for status, not a mapped pair)."""
    old, new = f"o.{_ident(name)}", f"n.{_ident(name)}"
    if name == "status" and rules.status_mapping:
        return f"NOT coalesce({_status_settled_raw(old, new, rules.status_mapping)}, false)"
    return f"{old} IS DISTINCT FROM {new}"


def _status_settled_raw(old: str, new: str, mapping: Mapping[str, tuple[str, ...]]) -> str:
    """True when the raw codes agree as spelled: a mapped pair, or the same unmapped code."""
    keys = ", ".join(_literal(code) for code in sorted(mapping))
    exact = " OR ".join(
        f"({old} = {_literal(code)} AND {new} IN ({', '.join(map(_literal, accepted))}))"
        for code, accepted in sorted(mapping.items())
        if accepted
    )
    return f"({exact or 'false'} OR ({old} = {new} AND {old} NOT IN ({keys})))"


def _status_differs(old: str, new: str, mapping: Mapping[str, tuple[str, ...]]) -> str:
    """The old code through the mapping (unmapped codes map to themselves), trimmed and case-insensitive.

    Pairs spelled exactly as in the mapping (the usual case) are settled on the raw values first.
    """
    old_code, new_code = f"upper(trim(coalesce({old}, '')))", f"upper(trim(coalesce({new}, '')))"
    same_raw = f"coalesce({old}, '') = coalesce({new}, '')"
    if not mapping:
        return f"(CASE WHEN {same_raw} THEN false ELSE {old_code} <> {new_code} END)"
    whens = " ".join(
        f"WHEN {_literal(code.strip().upper())} THEN NOT list_contains("
        f"[{', '.join(_literal(c.strip().upper()) for c in accepted)}]::VARCHAR[], {new_code})"
        for code, accepted in sorted(mapping.items())
    )
    return (
        f"(CASE WHEN {_status_settled_raw(old, new, mapping)} THEN false "
        f"ELSE (CASE {old_code} {whens} ELSE {old_code} <> {new_code} END) END)"
    )


def _differs_sql(name: str, rules: ReconcileRules, minors: tuple[str, str]) -> str:
    """True when a matched payment's field differs under the field's rule (o./n. are the two sides).

    Normalisation runs only where the raw values differ (a CASE evaluates its branch on those rows only).
    """
    old, new = f"o.{_ident(name)}", f"n.{_ident(name)}"
    same_raw = f"coalesce({old}, '') = coalesce({new}, '')"
    if name == "amount":
        old_minor, new_minor = minors
        return (
            f"(CASE WHEN {same_raw} AND o.currency IS NOT DISTINCT FROM n.currency THEN false "
            f"WHEN {old_minor} IS NULL OR {new_minor} IS NULL THEN NOT ({same_raw})"
            f" ELSE abs({old_minor} - {new_minor}) > {rules.tolerance_minor} END)"
        )
    if name == "status":
        return _status_differs(old, new, rules.status_mapping)
    if name in SPACELESS_FIELDS:
        return f"(CASE WHEN {same_raw} THEN false ELSE {_spaceless(old)} <> {_spaceless(new)} END)"
    if name in DATE_FIELDS:
        return f"(CASE WHEN {same_raw} THEN false ELSE {_date(old)} <> {_date(new)} END)"
    return f"(NOT ({same_raw}))"


# ---------------------------------------------------------------------------------------------- reading


def input_format(path: Path) -> str:
    """csv, jsonl or parquet from the file name (csv/jsonl may be .gz); a folder holds Parquet files."""
    if path.is_dir():
        return "parquet"
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    found = SUFFIXES.get(suffixes[-1]) if suffixes else None
    if found is None:
        raise ReconcileInputError(f"{path}: unknown format (expected .csv, .jsonl, .ndjson or .parquet)")
    return found


def _source_sql(con: duckdb.DuckDBPyConnection, path: Path, limits: EngineLimits) -> tuple[str, bool]:
    """A SELECT over the file giving the canonical columns as text; and whether it is a prepared file."""
    fmt, where = input_format(path), _literal(str(path / "*.parquet" if path.is_dir() else path))
    if fmt == "csv":
        buffer = f", buffer_size={int(limits.csv_buffer_bytes)}" if limits.csv_buffer_bytes else ""
        scan = f"read_csv({where}, header=true, all_varchar=true, delim=',', quote='\"', escape='\"'{buffer})"
    elif fmt == "jsonl":
        columns = ", ".join(
            f"{_literal(name)}: {_literal('JSON' if name == 'amount' else 'VARCHAR')}"
            for name in CANONICAL_PAYMENT_FIELDS
        )
        scan = f"read_json({where}, format='newline_delimited', columns={{{columns}}})"
    else:
        scan = f"read_parquet({where})"
    types = {row[0]: str(row[1]) for row in con.execute(f"SELECT * FROM {scan} LIMIT 0").description}
    if PREPARED_KEY in types:
        return f"SELECT * FROM {scan}", True
    missing = [name for name in CANONICAL_PAYMENT_FIELDS if name not in types]
    if missing:
        raise ReconcileInputError(f"{path}: missing column(s) {', '.join(missing)}")
    if types["amount"].upper() in {"FLOAT", "DOUBLE", "REAL"}:
        raise ReconcileInputError(f"{path}: amount is a floating-point column; expected decimal text")
    columns = [f"CAST({_ident(name)} AS VARCHAR) AS {_ident(name)}" for name in CANONICAL_PAYMENT_FIELDS]
    if fmt == "jsonl":  # a JSON number has already been through a double: keep it, but never parse it
        columns[1] = (
            "(CASE WHEN json_type(amount) = 'VARCHAR' THEN amount->>'$' ELSE CAST(amount AS VARCHAR) END)"
        )
        columns[1] += " AS amount, json_type(amount) = 'VARCHAR' AS __amount_is_text"
    else:
        columns[1] += ", true AS __amount_is_text"
    return f"SELECT {', '.join(columns)} FROM {scan}", False


@dataclass(frozen=True)
class Side:
    """One side as a SELECT: trimmed key `__key`, the canonical columns as text, and either the stored
    minor units (a prepared partition) or whether the amount was text (JSON numbers are not amounts)."""

    sql: str
    prepared: bool

    def minor(self, alias: str) -> str:
        """The amount in integer minor units for rows of `alias` (NULL when it is not an amount)."""
        if self.prepared:
            return f"{alias}.{PREPARED_MINOR}"
        units = _minor_units_sql(f"{alias}.amount", f"{alias}.currency")
        return f"(CASE WHEN {alias}.__amount_is_text THEN {units} END)"


def _side(con: duckdb.DuckDBPyConnection, path: Path, rules: ReconcileRules, limits: EngineLimits) -> Side:
    canonical = ", ".join(_ident(name) for name in CANONICAL_PAYMENT_FIELDS)
    if path.is_file() and path.stat().st_size == 0:
        empty = ", ".join(f"NULL::VARCHAR AS {_ident(name)}" for name in CANONICAL_PAYMENT_FIELDS)
        minor = f"NULL::DECIMAL(38,0) AS {PREPARED_MINOR}"
        return Side(f"SELECT NULL::VARCHAR AS {PREPARED_KEY}, {minor}, {empty} LIMIT 0", True)
    source, prepared = _source_sql(con, path, limits)
    if prepared:
        return Side(f"SELECT {PREPARED_KEY}, {PREPARED_MINOR}, {canonical} FROM ({source})", True)
    key = f"nullif(trim({_ident(rules.key)}), '') AS {PREPARED_KEY}"
    return Side(f"SELECT {key}, {canonical}, __amount_is_text FROM ({source})", False)


def _prepared_sql(side: Side, alias: str) -> str:
    """The side as stored in a partition: key, minor units (DECIMAL(38,0) in Parquet too), canonical text."""
    canonical = ", ".join(f"{alias}.{_ident(name)}" for name in CANONICAL_PAYMENT_FIELDS)
    return (
        f"SELECT {alias}.{PREPARED_KEY}, {side.minor(alias)} AS {PREPARED_MINOR}, "
        f"{canonical} FROM ({side.sql}) {alias}"
    )


def _connect(limits: EngineLimits, workdir: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")  # it stores only aggregates and candidates; operators spill to workdir
    spill = limits.temp_directory or workdir
    con.execute(f"SET memory_limit = {_literal(limits.memory_limit)}")
    con.execute(f"SET temp_directory = {_literal(str(spill))}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    if limits.threads:
        con.execute(f"SET threads = {int(limits.threads)}")
    return con


# ---------------------------------------------------------------------------------------------- reconcile


def reconcile(
    old: Path,
    new: Path,
    out_dir: Path,
    rules: ReconcileRules | None = None,
    limits: EngineLimits | None = None,
) -> dict[str, Any]:
    """Reconcile OLD against NEW into out_dir (summary.json/.txt and the four CSVs); return the summary."""
    rules, limits = rules or ReconcileRules(), limits or EngineLimits()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="reconcile-", dir=limits.temp_directory) as work:
        con = _connect(limits, Path(work))
        try:
            sides = {"old": _side(con, Path(old), rules, limits), "new": _side(con, Path(new), rules, limits)}
            counts = _reconcile_sides(con, sides, rules)
            _write_outputs(con, out_dir, rules)
        finally:
            con.close()
    return _finish(out_dir, counts, rules)


def _reconcile_sides(
    con: duckdb.DuckDBPyConnection, sides: Mapping[str, Side], rules: ReconcileRules
) -> dict[str, Any]:
    """One aggregate pass per side (per-currency totals and duplicated keys together), then one full join
    of the files keeping only the payments that disagree. Each input is read twice, never stored whole."""
    key = PREPARED_KEY
    for name, side in sides.items():
        con.execute(f"CREATE VIEW {name} AS {side.sql}")
        con.execute(f"CREATE TABLE stats_{name} AS {_stats_sql(name, side)}")
        con.execute(
            f"CREATE TABLE dup_{name} AS SELECT {key}, n AS occurrences FROM stats_{name} "
            f"WHERE NOT by_currency AND {key} IS NOT NULL"
        )
    con.execute(f"CREATE TABLE dup_keys AS SELECT {key} FROM dup_old UNION SELECT {key} FROM dup_new")
    fields = rules.compared_fields
    minors = (sides["old"].minor("o"), sides["new"].minor("n"))
    flags = ", ".join(f"{_differs_sql(name, rules, minors)} AS {_ident('d_' + name)}" for name in fields)
    tolerated = f"({minors[0]} <> {minors[1]} AND abs({minors[0]} - {minors[1]}) <= {rules.tolerance_minor})"
    columns = ", ".join(
        f"{alias}.{_ident(name)} AS {_ident(prefix + name)}"
        for alias, prefix in (("o", "o_"), ("n", "n_"))
        for name in CANONICAL_PAYMENT_FIELDS
    )
    unique = f"(SELECT * FROM {{0}} WHERE {PREPARED_KEY} IS NOT NULL)"
    if con.execute("SELECT count(*) FROM dup_keys").fetchone() != (0,):
        unique = f"(SELECT * FROM {{0}} WHERE {PREPARED_KEY} NOT IN (SELECT {PREPARED_KEY} FROM dup_keys))"
    unmatched = f"o.{PREPARED_KEY} IS NULL OR n.{PREPARED_KEY} IS NULL"
    maybe_differs = " OR ".join([unmatched, *(_maybe_differs_sql(name, rules) for name in fields)])
    # Two steps, so the optimiser cannot fold the rules into the cheap filter: the candidates (unmatched,
    # or some raw value differs) keep each side's row as a struct `o` / `n`; the rules then run on them only.
    con.execute(
        f"CREATE TABLE candidates AS SELECT coalesce(o.{PREPARED_KEY}, n.{PREPARED_KEY}) AS k, "
        f"o.{PREPARED_KEY} IS NOT NULL AS in_old, n.{PREPARED_KEY} IS NOT NULL AS in_new, o, n "
        f"FROM {unique.format('old')} o FULL JOIN {unique.format('new')} n "
        f"ON o.{PREPARED_KEY} = n.{PREPARED_KEY} WHERE {maybe_differs}"
    )
    con.execute(
        f"CREATE TABLE joined AS SELECT * FROM (SELECT k, in_old, in_new, {flags}{', ' if flags else ''}"
        f"coalesce({tolerated}, false) AS tolerated, {columns} FROM candidates) "
        f"WHERE NOT (in_old AND in_new) OR tolerated OR {_any_break(fields)}"
    )
    return _counts(con, rules)


def _stats_sql(name: str, side: Side) -> str:
    """One read of a side: rows per key that occur more than once (or have no key), and per currency
    the count, the sum of minor units and the rows whose amount is not one (`by_currency`).

    The read keeps only the key, currency and amount (a MATERIALIZED CTE) for two aggregates: GROUPING
    SETS would run the amount sums in the per-key aggregate too (a million DECIMAL(38) sums for nothing;
    measured 7% of the pass).
    """
    key = PREPARED_KEY
    narrow = f"SELECT {key}, currency, amount, __amount_is_text FROM {name}"
    if side.prepared:
        narrow = f"SELECT {key}, currency, {PREPARED_MINOR} FROM {name}"
    return (
        f"WITH s AS MATERIALIZED ({narrow}) "
        f"SELECT false AS by_currency, {key}, NULL::VARCHAR AS currency, count(*) AS n, "
        f"NULL::DECIMAL(38,0) AS total, NULL::BIGINT AS invalid FROM s GROUP BY {key} "
        f"HAVING count(*) > 1 OR {key} IS NULL "
        f"UNION ALL SELECT true, NULL, currency, n, total, invalid FROM ({_totals_sql('s', side)})"
    )


def _totals_sql(name: str, side: Side) -> str:
    """Per currency of a side: the row count, the sum of minor units, and the rows whose amount is not one.

    A prepared side carries its minor units. A file's amounts are summed as DECIMAL(38,4) grouped by
    currency, fraction length and exponent notation, so the currency's rule (a fraction no longer than
    its exponent, no exponent notation) is decided once per group instead of once per row; a valid
    group's sum times 10^exponent is exactly the sum of its rows' minor units.
    """
    if side.prepared:
        return (
            f"SELECT currency, count(*) AS n, coalesce(sum(m), 0::DECIMAL(38,0)) AS total, "
            f"count(*) FILTER (WHERE m IS NULL) AS invalid "
            f"FROM (SELECT coalesce(currency, '') AS currency, {side.minor(name)} AS m FROM {name}) "
            f"GROUP BY currency"
        )
    text = "trim(amount)"
    groups = (
        f"SELECT currency, text_amount, fraction, exp_notation, "
        f"count(*) AS n, sum(d) AS total_decimal, count(d) AS parsed "
        f"FROM (SELECT coalesce(currency, '') AS currency, __amount_is_text AS text_amount, "
        f"(CASE WHEN strpos({text}, '.') > 0 THEN length({text}) - strpos({text}, '.') ELSE 0 END) "
        f"AS fraction, "
        f"(contains(amount, 'e') OR contains(amount, 'E')) AS exp_notation, "
        f"(CASE WHEN __amount_is_text THEN TRY_CAST({text} AS DECIMAL(38,4)) END) AS d FROM {name}) "
        f"GROUP BY currency, text_amount, fraction, exp_notation"
    )
    exponent = _per_currency_sql("currency", lambda e: e)
    scale = _per_currency_sql("currency", lambda e: 10**e)
    valid = f"(text_amount AND coalesce(fraction <= {exponent}, true) AND NOT coalesce(exp_notation, false))"
    return (
        f"SELECT currency, sum(n)::BIGINT AS n, coalesce(sum(CASE WHEN {valid} THEN "
        f"CAST(total_decimal * {scale} AS DECIMAL(38,0)) END), 0::DECIMAL(38,0)) AS total, "
        f"sum(CASE WHEN {valid} THEN n - parsed ELSE n END)::BIGINT AS invalid "
        f"FROM ({groups}) GROUP BY currency"
    )


def _any_break(fields: Sequence[str]) -> str:
    return " OR ".join(_ident("d_" + name) for name in fields) or "false"


def _counts(con: duckdb.DuckDBPyConnection, rules: ReconcileRules) -> dict[str, Any]:
    def one(sql: str) -> Any:
        return con.execute(sql).fetchone()[0]  # type: ignore[index]

    fields = rules.compared_fields
    break_sums = ", ".join(
        f"count(*) FILTER (WHERE in_old AND in_new AND {_ident('d_' + n)})" for n in fields
    )
    row = con.execute(
        "SELECT count(*) FILTER (WHERE in_old AND NOT in_new), "
        "count(*) FILTER (WHERE in_new AND NOT in_old), "
        f"count(*) FILTER (WHERE in_old AND in_new AND tolerated), "
        f"count(*) FILTER (WHERE in_old AND in_new AND ({_any_break(fields)})){', ' if fields else ''}"
        f"{break_sums} FROM joined"
    ).fetchone()
    assert row is not None
    missing, extra, tolerated, with_breaks, *per_field = row
    rows = {side: one(f"SELECT coalesce(sum(n), 0) FROM stats_{side} WHERE by_currency") for side in SIDES}
    unkeyed = {
        side: one(
            f"SELECT coalesce(sum(n), 0) FROM stats_{side} WHERE NOT by_currency AND {PREPARED_KEY} IS NULL"
        )
        for side in SIDES
    }
    matched = (
        rows["old"] - unkeyed["old"] - one("SELECT coalesce(sum(occurrences), 0) FROM dup_old") - missing
    )
    only_new_duplicates = f"SELECT {PREPARED_KEY} FROM dup_new EXCEPT SELECT {PREPARED_KEY} FROM dup_old"
    if one(f"SELECT count(*) FROM ({only_new_duplicates})"):  # their single old row is left out too
        matched -= one(f"SELECT count(*) FROM old WHERE {PREPARED_KEY} IN ({only_new_duplicates})")
    counts: dict[str, Any] = {
        "key": rules.key,
        "rows_old": rows["old"],
        "rows_new": rows["new"],
        "matched": matched,
        "breaks": dict(zip(fields, per_field, strict=True)),
        "payments_with_breaks": with_breaks,
        "amount_within_tolerance": tolerated,
        "tolerance_minor": rules.tolerance_minor,
        "missing_in_new": missing,
        "extra_in_new": extra,
        "duplicates_old": one("SELECT count(*) FROM dup_old"),
        "duplicates_new": one("SELECT count(*) FROM dup_new"),
        "without_key": unkeyed,
        "invalid_amounts": {
            side: one(f"SELECT coalesce(sum(invalid), 0) FROM stats_{side} WHERE by_currency")
            for side in SIDES
        },
        "control_totals": {s: _control_totals(con, s) for s in ("old", "new")},
    }
    return counts


def _control_totals(con: duckdb.DuckDBPyConnection, side: str) -> dict[str, dict[str, int]]:
    rows = con.execute(
        f"SELECT currency, n, total FROM stats_{side} WHERE by_currency ORDER BY currency"
    ).fetchall()
    return {currency: {"count": int(count), "sum_minor": int(total)} for currency, count, total in rows}


# ---------------------------------------------------------------------------------------------- outputs


def _copy_csv(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    con.execute(f"COPY ({query}) TO {_literal(str(target))} (FORMAT csv, HEADER true, DELIMITER ',')")


def _nullif_empty(expr: str, alias: str) -> str:
    return f"nullif({expr}, '') AS {_ident(alias)}"


def _write_outputs(con: duckdb.DuckDBPyConnection, out_dir: Path, rules: ReconcileRules) -> None:
    fields = rules.compared_fields
    unpivot = (
        " UNION ALL ".join(
            f"SELECT k, {_literal(name)} AS field, {_ident('o_' + name)} AS o, {_ident('n_' + name)} AS n "
            f"FROM joined WHERE in_old AND in_new AND {_ident('d_' + name)}"
            for name in fields
        )
        or "SELECT NULL::VARCHAR AS k, NULL::VARCHAR AS field, NULL::VARCHAR AS o, NULL::VARCHAR AS n LIMIT 0"
    )
    _copy_csv(con, _breaks_query(f"({unpivot})", rules), out_dir / "breaks.csv")
    for name, present in (
        ("missing_in_new.csv", "in_old AND NOT in_new"),
        ("extra_in_new.csv", "in_new AND NOT in_old"),
    ):
        prefix = "o_" if name.startswith("missing") else "n_"
        columns = ", ".join(_nullif_empty(_ident(prefix + f), f) for f in CANONICAL_PAYMENT_FIELDS)
        _copy_csv(con, f"SELECT {columns} FROM joined WHERE {present} ORDER BY k", out_dir / name)
    duplicates = " UNION ALL ".join(
        f"SELECT '{side}' AS side, {PREPARED_KEY} AS k, occurrences FROM dup_{side}"
        for side in ("old", "new")
    )
    _copy_csv(con, _duplicates_query(f"({duplicates})", rules), out_dir / "duplicates.csv")


def _field_rank(expr: str) -> str:
    return f"list_position([{', '.join(map(_literal, CANONICAL_PAYMENT_FIELDS))}], {expr})"


def _breaks_query(source: str, rules: ReconcileRules) -> str:
    """breaks.csv rows from a relation (k, field, o, n), in key then canonical field order."""
    return (
        f"SELECT k AS {_ident(rules.key)}, field, nullif(o, '') AS old_value, nullif(n, '') AS new_value "
        f"FROM {source} ORDER BY k, {_field_rank('field')}"
    )


def _duplicates_query(source: str, rules: ReconcileRules) -> str:
    return f"SELECT side, k AS {_ident(rules.key)}, occurrences FROM {source} ORDER BY side, k"


# ---------------------------------------------------------------------------------------------- summary


def _finish(out_dir: Path, counts: dict[str, Any], rules: ReconcileRules) -> dict[str, Any]:
    summary = {**counts, "control_totals_agree": _totals_agree(counts["control_totals"], rules)}
    summary["clean"] = is_clean(summary)
    (out_dir / SUMMARY_JSON).write_text(json.dumps(summary, indent=2) + "\n")
    (out_dir / SUMMARY_TEXT).write_text(summary_text(summary, _sample_breaks(out_dir / "breaks.csv")))
    return summary


def _totals_agree(totals: Mapping[str, Mapping[str, Mapping[str, int]]], rules: ReconcileRules) -> bool:
    """Same currencies, same counts, sums apart by no more than the tolerance allows for that many rows."""
    old, new = totals["old"], totals["new"]
    if old.keys() != new.keys():
        return False
    return all(
        old[c]["count"] == new[c]["count"]
        and abs(old[c]["sum_minor"] - new[c]["sum_minor"]) <= rules.tolerance_minor * old[c]["count"]
        for c in old
    )


def is_clean(summary: Mapping[str, Any]) -> bool:
    """Nothing missing or extra, no duplicates, no breaks, every row keyed and priced, totals agreeing."""
    return (
        summary["missing_in_new"] == 0
        and summary["extra_in_new"] == 0
        and summary["duplicates_old"] == 0
        and summary["duplicates_new"] == 0
        and not any(summary["breaks"].values())
        and not any(summary["without_key"].values())
        and not any(summary["invalid_amounts"].values())
        and bool(summary["control_totals_agree"])
    )


def _sample_breaks(breaks_csv: Path, limit: int = SUMMARY_SAMPLE_BREAKS) -> list[dict[str, str]]:
    with breaks_csv.open(newline="") as handle:
        rows = csv.DictReader(handle)
        return [row for _, row in zip(range(limit), rows, strict=False)]


def format_minor(minor: int, currency: str) -> str:
    """1234567 EUR -> '12,345.67'; integer arithmetic only."""
    exponent = next((e for e, codes in CURRENCY_EXPONENTS.items() if currency in codes), DEFAULT_EXPONENT)
    sign, whole, fraction = "-" if minor < 0 else "", *divmod(abs(minor), 10**exponent)
    return f"{sign}{whole:,}" + (f".{fraction:0{exponent}d}" if exponent else "")


def summary_text(summary: Mapping[str, Any], sample: Sequence[Mapping[str, str]] = ()) -> str:
    """A few plain sentences for the wave's Slack thread (and the terminal)."""
    verdict = "CLEAN" if summary["clean"] else "NOT CLEAN"
    lines = [
        f"Reconciliation {verdict}: {summary['matched']:,} payments matched on {summary['key']} "
        f"({summary['rows_old']:,} old rows, {summary['rows_new']:,} new rows).",
        f"Missing in new: {summary['missing_in_new']:,}. Extra in new: {summary['extra_in_new']:,}. "
        f"Duplicate keys: {summary['duplicates_old']:,} old, {summary['duplicates_new']:,} new.",
    ]
    breaks = [f"{name} {count:,}" for name, count in summary["breaks"].items() if count]
    lines.append("Field breaks: " + (", ".join(breaks) if breaks else "none") + ".")
    if summary["amount_within_tolerance"]:
        lines.append(
            f"Amounts within tolerance ({summary['tolerance_minor']} minor units): "
            f"{summary['amount_within_tolerance']:,}."
        )
    for label, key in (("without a key", "without_key"), ("with an unreadable amount", "invalid_amounts")):
        if any(summary[key].values()):
            lines.append(f"Rows {label}: {summary[key]['old']:,} old, {summary[key]['new']:,} new.")
    lines.append("Control totals " + ("agree:" if summary["control_totals_agree"] else "DIFFER:"))
    lines.extend(_totals_lines(summary["control_totals"]))
    if sample:
        lines.append("First breaks:")
        key = summary["key"]
        lines.extend(
            f"  {row[key]} {row['field']}: {row['old_value'] or '(empty)'} -> {row['new_value'] or '(empty)'}"
            for row in sample
        )
    return "\n".join(lines) + "\n"


def _totals_lines(totals: Mapping[str, Mapping[str, Mapping[str, int]]]) -> Iterable[str]:
    for currency in sorted(set(totals["old"]) | set(totals["new"])):
        parts = []
        for side in ("old", "new"):
            entry = totals[side].get(currency)
            amount = (
                f"{entry['count']:,} for {format_minor(entry['sum_minor'], currency)}" if entry else "none"
            )
            parts.append(f"{side} {amount}")
        yield f"  {currency or '(no currency)'}: " + ", ".join(parts)


# ---------------------------------------------------------------------------------------------- scale-out


def partition_path(folder: Path, index: int) -> Path:
    return folder / f"part-{index:05d}"


def partition(
    source: Path,
    out_dir: Path,
    partitions: int,
    rules: ReconcileRules | None = None,
    limits: EngineLimits | None = None,
) -> list[Path]:
    """Split a side into `partitions` prepared Parquet folders by a hash of the key; return them in order.

    Every partition folder exists (an empty one holds a zero-row file), so partition i of one side always
    pairs with partition i of the other. The key and minor units are computed here once, as in `reconcile`.
    """
    if partitions < 1:
        raise ReconcileInputError("partitions must be 1 or more")
    rules, limits = rules or ReconcileRules(), limits or EngineLimits()
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / "_staging"
    with tempfile.TemporaryDirectory(prefix="partition-", dir=limits.temp_directory) as work:
        con = _connect(limits, Path(work))
        try:
            stored = _prepared_sql(_side(con, source, rules, limits), "s")
            con.execute(
                f"COPY (SELECT *, hash(coalesce({PREPARED_KEY}, '')) % {partitions} AS p FROM ({stored})) "
                f"TO {_literal(str(staging))} (FORMAT parquet, PARTITION_BY (p), OVERWRITE_OR_IGNORE true)"
            )
            paths = []
            for index in range(partitions):
                target = partition_path(out_dir, index)
                if target.exists():
                    shutil.rmtree(target)
                produced = staging / f"p={index}"
                if produced.exists():
                    produced.rename(target)
                else:
                    target.mkdir()
                    con.execute(
                        f"COPY (SELECT * FROM ({stored}) LIMIT 0) "
                        f"TO {_literal(str(target / 'empty.parquet'))} (FORMAT parquet)"
                    )
                paths.append(target)
        finally:
            con.close()
            shutil.rmtree(staging, ignore_errors=True)
    return paths


def merge_results(
    partition_outputs: Sequence[Path],
    out_dir: Path,
    rules: ReconcileRules | None = None,
    limits: EngineLimits | None = None,
) -> dict[str, Any]:
    """Combine per-partition output folders into one set of outputs, identical to an unpartitioned run."""
    rules, limits = rules or ReconcileRules(), limits or EngineLimits()
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries = [json.loads((folder / SUMMARY_JSON).read_text()) for folder in partition_outputs]
    with tempfile.TemporaryDirectory(prefix="merge-", dir=limits.temp_directory) as work:
        con = _connect(limits, Path(work))
        try:
            _merge_csvs(con, partition_outputs, out_dir, rules)
        finally:
            con.close()
    return _finish(out_dir, merge_counts(summaries, rules), rules)


def _merge_csvs(
    con: duckdb.DuckDBPyConnection, folders: Sequence[Path], out_dir: Path, rules: ReconcileRules
) -> None:
    def scan(name: str) -> str:
        files = "[" + ", ".join(_literal(str(folder / name)) for folder in folders) + "]"
        return f"read_csv({files}, header=true, all_varchar=true, delim=',', quote='\"', escape='\"')"

    key = _ident(rules.key)
    breaks = f"(SELECT {key} AS k, field, old_value AS o, new_value AS n FROM {scan('breaks.csv')})"
    _copy_csv(con, _breaks_query(breaks, rules), out_dir / "breaks.csv")
    for name in ("missing_in_new.csv", "extra_in_new.csv"):
        _copy_csv(con, f"SELECT * FROM {scan(name)} ORDER BY {key}", out_dir / name)
    duplicates = f"(SELECT side, {key} AS k, occurrences FROM {scan('duplicates.csv')})"
    _copy_csv(con, _duplicates_query(duplicates, rules), out_dir / "duplicates.csv")


def merge_counts(summaries: Sequence[Mapping[str, Any]], rules: ReconcileRules) -> dict[str, Any]:
    """Add partition summaries up (counts, per-field breaks, per-currency control totals)."""
    scalar = (
        "rows_old", "rows_new", "matched", "payments_with_breaks", "amount_within_tolerance",
        "missing_in_new", "extra_in_new",
        "duplicates_old", "duplicates_new",
    )  # fmt: skip
    merged: dict[str, Any] = {"key": rules.key, **{name: 0 for name in scalar}}
    merged["breaks"] = {name: 0 for name in rules.compared_fields}
    merged["tolerance_minor"] = rules.tolerance_minor
    for pair in ("without_key", "invalid_amounts"):
        merged[pair] = {"old": 0, "new": 0}
    merged["control_totals"] = {"old": {}, "new": {}}
    for summary in summaries:
        for name in scalar:
            merged[name] += summary[name]
        for name, count in summary["breaks"].items():
            merged["breaks"][name] += count
        for side in ("old", "new"):
            merged["without_key"][side] += summary["without_key"][side]
            merged["invalid_amounts"][side] += summary["invalid_amounts"][side]
            for currency, entry in summary["control_totals"][side].items():
                into = merged["control_totals"][side].setdefault(currency, {"count": 0, "sum_minor": 0})
                into["count"] += entry["count"]
                into["sum_minor"] += entry["sum_minor"]
    order = (
        "key", "rows_old", "rows_new", "matched", "breaks", "payments_with_breaks", "amount_within_tolerance",
        "tolerance_minor",
    )  # fmt: skip
    ordered = {name: merged[name] for name in order}
    ordered.update({name: merged[name] for name in merged if name not in ordered})
    for side in ("old", "new"):
        ordered["control_totals"][side] = dict(sorted(ordered["control_totals"][side].items()))
    return ordered


def reconcile_partitioned(
    old: Path,
    new: Path,
    out_dir: Path,
    partitions: int,
    rules: ReconcileRules | None = None,
    limits: EngineLimits | None = None,
) -> dict[str, Any]:
    """Partition both sides, reconcile each pair, merge: what the Distributed Map does, on one machine."""
    rules, limits = rules or ReconcileRules(), limits or EngineLimits()
    with tempfile.TemporaryDirectory(prefix="partitioned-", dir=limits.temp_directory) as work:
        root = Path(work)
        old_parts = partition(old, root / "old", partitions, rules, limits)
        new_parts = partition(new, root / "new", partitions, rules, limits)
        outputs = []
        for index, (old_part, new_part) in enumerate(zip(old_parts, new_parts, strict=True)):
            outputs.append(reconcile(old_part, new_part, partition_path(root / "out", index), rules, limits))
        folders = [partition_path(root / "out", index) for index in range(partitions)]
        return merge_results(folders, out_dir, rules, limits)
