"""Wave status: the `status.json` contract, a terminal table and a self-contained HTML page.

The contract (later versions add keys, never remove or rename them):

    {"program": "...", "generated_at": "ISO-8601",
     "waves": [{"wave", "kind", "version", "status", "execution_arn", "started_at", "stopped_at",
                "current_state", "approvals": [{"gate", "decision", "approvers", "decided_at"}],
                "error": null | {"name", "message", "cause"},
                "state_machine_version_arn", "definition_sha256", "pending_gates",
                "placeholder"}]}

`placeholder` is true for a wave whose kind has no workflow yet: its execution ran one gate and a Pass
state and did nothing else, so its `SUCCEEDED` is never shown as a plain success.

`version` is the runbook version of the state machine version the execution ran (read from the
version's description `<wave> v<N> sha256:<digest>`), so an execution started before a change
keeps showing the version it ran.
"""

from __future__ import annotations

import html
import importlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import boto3
from rich.console import Console
from rich.table import Table
from rich.text import Text

from wavectl.local.history import execution_error, history_events, position
from wavectl.planning import PLACEHOLDER_NOTE, is_placeholder
from wavectl.runbook import Runbook, Wave

_VERSION_DESCRIPTION = re.compile(r"\bv(?P<version>\d+)\s+sha256:(?P<digest>[0-9a-f]{64})")
STATUS_STYLES = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "TIMED_OUT": "red",
    "ABORTED": "yellow",
    "RUNNING": "cyan",
    "NOT_STARTED": "dim",
}


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return str(value)


def build_status(
    session: boto3.Session,
    runbook: Runbook,
    *,
    approvals_table: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The `status.json` document for every wave, in dependency order, read through `session`."""
    sfn = session.client("stepfunctions")
    table = approvals_table or runbook.approvals_table_name()
    waves = [wave_status(session, sfn, runbook, wave, table) for wave in runbook.ordered_waves()]
    document = {
        "program": runbook.program.program,
        "generated_at": _iso(datetime.now(UTC)),
        "waves": waves,
    }
    document.update(extra or {})
    return document


def wave_status(session: boto3.Session, sfn: Any, runbook: Runbook, wave: Wave, table: str) -> dict[str, Any]:
    entry = _not_started(wave)
    latest = _latest_execution(sfn, runbook, wave, session.region_name)
    if latest is None:
        return entry
    description = sfn.describe_execution(executionArn=latest["executionArn"])
    events = history_events(sfn, latest["executionArn"])
    where = position(events) if description["status"] == "RUNNING" else None
    error = execution_error(description, events) if description["status"] != "SUCCEEDED" else None
    entry.update(
        status=description["status"],
        execution_arn=description["executionArn"],
        started_at=_iso(description.get("startDate")),
        stopped_at=_iso(description.get("stopDate")),
        current_state=where.current_state if where else None,
        pending_gates=list(where.pending_gates) if where else [],
        approvals=approvals_for(session, table, description["executionArn"]),
        error=error.as_dict() if error else None,
    )
    entry.update(_version_of(sfn, description, wave))
    return entry


def _not_started(wave: Wave) -> dict[str, Any]:
    return {
        "wave": wave.wave,
        "kind": wave.kind,
        "version": f"v{wave.version}",
        "status": "NOT_STARTED",
        "execution_arn": None,
        "started_at": None,
        "stopped_at": None,
        "current_state": None,
        "approvals": [],
        "error": None,
        "state_machine_version_arn": None,
        "definition_sha256": None,
        "pending_gates": [],
        "placeholder": is_placeholder(wave),
    }


def _latest_execution(sfn: Any, runbook: Runbook, wave: Wave, region: str | None) -> dict[str, Any] | None:

    try:
        executions = sfn.list_executions(stateMachineArn=runbook.state_machine_arn(wave.wave, region))[
            "executions"
        ]
    except sfn.exceptions.StateMachineDoesNotExist:
        return None
    return max(executions, key=lambda e: e["startDate"], default=None)


def _version_of(sfn: Any, description: dict[str, Any], wave: Wave) -> dict[str, Any]:
    version_arn = description.get("stateMachineVersionArn")
    if not version_arn:
        return {}
    text = sfn.describe_state_machine(stateMachineArn=version_arn).get("description", "")
    match = _VERSION_DESCRIPTION.search(text or "")
    found: dict[str, Any] = {"state_machine_version_arn": version_arn}
    if match:
        found.update(version=f"v{match['version']}", definition_sha256=match["digest"])
    return found


def approvals_for(session: boto3.Session, table: str, execution_arn: str) -> list[dict[str, Any]]:
    """The execution's gate decisions from `wavectl.approvals` (empty until that module exists)."""
    try:
        approvals = importlib.import_module("wavectl.approvals")
    except ModuleNotFoundError as exc:
        if exc.name != "wavectl.approvals":
            raise
        return []
    decisions = getattr(approvals, "decisions_for_execution", None)
    return list(decisions(session, table, execution_arn)) if decisions else []


# ----------------------------------------------------------------------------- rendering


def _deciders(item: dict[str, Any]) -> str:
    """Who decided: the approvers, or for a rejection the person who rejected."""
    if item.get("decision") == "rejected" and item.get("rejected_by"):
        return str(item["rejected_by"])
    return ", ".join(item.get("approvers") or []) or "-"


def _approvals_text(approvals: list[dict[str, Any]]) -> str:
    parts = [
        f"{item.get('gate', '?')}: {item.get('decision', '?')} ({_deciders(item)})" for item in approvals
    ]
    return "; ".join(parts) or "-"


def _detail_text(wave: dict[str, Any]) -> str:
    detail = _state_or_error(wave)
    if wave.get("placeholder"):
        return f"{PLACEHOLDER_NOTE}; {detail}" if detail else PLACEHOLDER_NOTE
    return detail


def _state_or_error(wave: dict[str, Any]) -> str:
    if wave.get("error"):
        error = wave["error"]
        return f"{error['name']}: {error['message']}"
    if wave.get("pending_gates"):
        return f"waiting for approval at {', '.join(wave['pending_gates'])}"
    return wave.get("current_state") or ""


def shown_status(wave: dict[str, Any]) -> str:
    """The status as people should read it: a placeholder's run is marked, never a plain SUCCEEDED."""
    if wave.get("placeholder") and wave["status"] != "NOT_STARTED":
        return f"{wave['status']} (placeholder)"
    return str(wave["status"])


def _status_style(wave: dict[str, Any]) -> str:
    return "yellow" if wave.get("placeholder") else STATUS_STYLES.get(wave["status"], "")


def status_table(document: dict[str, Any]) -> Table:
    table = Table(title=f"{document['program']}: wave status", show_lines=True)
    for column in ("wave", "kind", "version", "status", "started", "stopped", "approvals", "state / error"):
        table.add_column(column, overflow="fold")
    for wave in document["waves"]:
        table.add_row(
            wave["wave"],
            wave["kind"],
            wave["version"],
            Text(shown_status(wave), style=_status_style(wave)),
            wave["started_at"] or "-",
            wave["stopped_at"] or "-",
            _approvals_text(wave["approvals"]),
            _detail_text(wave),
        )
    return table


def print_status(document: dict[str, Any], console: Console) -> None:
    console.print(status_table(document))
    for wave in document["waves"]:
        if wave.get("error"):  # the full message, unwrapped, for copying into a ticket
            error = wave["error"]
            console.print(
                f"{wave['wave']} {wave['status']}: {error['name']}: {error['message']}",
                style="red",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )


def status_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#1d2330}
h1{font-size:1.4rem}table{border-collapse:collapse;width:100%}
th,td{border:1px solid #d6dae3;padding:.45rem .6rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f2f4f8}.SUCCEEDED{color:#137333;font-weight:600}.FAILED,.TIMED_OUT{color:#b3261e;font-weight:600}
.RUNNING{color:#0b57d0;font-weight:600}.placeholder{color:#a56300;font-style:italic}.ABORTED{color:#a56300;font-weight:600}.NOT_STARTED{color:#6b7280}
code{font-size:.8rem;word-break:break-all}.meta{color:#6b7280;font-size:.85rem}
"""


def _meta_text(value: Any) -> str:
    """`{"wall_seconds": 12.3, "speed": "fast"}` -> `wall seconds 12.3 · speed fast` (nested: JSON)."""
    if not isinstance(value, dict):
        return json.dumps(value) if not isinstance(value, str) else value
    parts = []
    for key, item in value.items():
        shown = ", ".join(f"{k} {v}" for k, v in item.items()) if isinstance(item, dict) else item
        parts.append(f"{str(key).replace('_', ' ')} {shown}")
    return " · ".join(parts)


def status_html(document: dict[str, Any]) -> str:
    """A self-contained page (no scripts, no external resources) for reviewers and evidence."""
    esc = html.escape
    rows = []
    for wave in document["waves"]:
        approvals = (
            "<br>".join(
                esc(f"{a.get('gate')}: {a.get('decision')} by {_deciders(a)} at {a.get('decided_at') or '-'}")
                for a in wave["approvals"]
            )
            or "-"
        )
        rows.append(
            "<tr>"
            f"<td>{esc(wave['wave'])}</td><td>{esc(wave['kind'])}</td><td>{esc(wave['version'])}</td>"
            f'<td class="{"placeholder" if wave.get("placeholder") else esc(wave["status"])}">'
            f"{esc(shown_status(wave))}</td>"
            f"<td>{esc(wave['started_at'] or '-')}</td><td>{esc(wave['stopped_at'] or '-')}</td>"
            f"<td>{approvals}</td><td>{esc(_detail_text(wave) or '-')}</td>"
            f"<td><code>{esc(wave['execution_arn'] or '-')}</code></td>"
            "</tr>"
        )
    extra = "".join(
        f'<p class="meta">{esc(key)}: {esc(_meta_text(value))}</p>'
        for key, value in document.items()
        if key not in ("program", "generated_at", "waves")
    )
    head = "".join(
        f"<th>{c}</th>"
        for c in (
            "wave",
            "kind",
            "version",
            "status",
            "started",
            "stopped",
            "approvals",
            "state / error",
            "execution",
        )
    )
    title = esc(f"{document['program']}: wave status")
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body><h1>{title}</h1>"
        f'<p class="meta">generated {esc(document["generated_at"])}</p>{extra}'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></body></html>\n"
    )
