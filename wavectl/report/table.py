"""Terminal tables that fit 80 columns: ids and wave names are never wrapped or cut; other cells are
cut with an ellipsis, and long text (errors, approvals, reasons) goes to detail lines under the table."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from wavectl.status import shown_status

STATUS_STYLES = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "TIMED_OUT": "red",
    "ABORTED": "yellow",
    "RUNNING": "cyan",
    "NOT_STARTED": "dim",
}


def short_time(value: str | None) -> str:
    """`2026-11-29T13:30:05Z` -> `11-29 13:30` (UTC)."""
    return f"{value[5:10]} {value[11:16]}" if value else "-"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    return f"{hours // 24}d{hours % 24:02d}h"


def _style(entry: dict[str, Any]) -> str:
    return STATUS_STYLES.get(entry["status"], "")


def _table(title: str, columns: list[tuple[str, dict[str, Any]]]) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    for name, options in columns:
        table.add_column(name, **{"no_wrap": True, "overflow": "ellipsis", **options})
    return table


def people_text(names: list[str | None]) -> str:
    return ", ".join(n for n in names if n) or "-"


def approval_line(approval: dict[str, Any]) -> str:
    """`start-copy approved by bob (11-29 13:31), carol (11-29 13:32: "checked lag")`."""
    decision = approval.get("decision", "?")
    votes = approval.get("votes") or []
    if decision == "pending":
        policy = approval.get("policy") or {}
        required = approval.get("required") or policy.get("required", "?")
        text = (
            f"{approval.get('gate')} waiting: {len(votes)} of {required} from {policy.get('group', '?')}"
            f", due {short_time(approval.get('expires_at'))} ({approval.get('approval_id')})"
        )
    else:
        text = f"{approval.get('gate')} {decision}"
    shown = [
        f"{v.get('name') or v.get('user')} ({short_time(v.get('at'))}"
        + (f': "{v["reason"]}"' if v.get("reason") else "")
        + ")"
        for v in votes
    ]
    if decision == "rejected" and approval.get("rejected_by"):
        who = approval.get("rejected_by_name") or approval["rejected_by"]
        reason = f': "{approval["reason"]}"' if approval.get("reason") else ""
        shown.append(f"{who} rejected at {short_time(approval.get('decided_at'))}{reason}")
    if shown:
        text += (" by " if decision == "approved" else "; ") + ", ".join(shown)
    return text


def detail_lines(entry: dict[str, Any]) -> list[str]:
    """What does not fit a row: step, approvals, ticket, versions, error, blocked dependencies."""
    lines = []
    if entry.get("current_state"):
        lines.append(f"step: {entry['current_state']}")
    lines += [f"approval: {approval_line(a)}" for a in entry.get("approvals") or []]
    facts = []
    if entry.get("requester"):
        facts.append(f"by {entry['requester']}")
    if entry.get("version") and "executions" not in entry:  # one execution: the version it ran
        facts.append(f"ran {entry['version']}")
    if entry.get("ticket"):
        facts.append(f"ticket {entry['ticket']}")
    if entry.get("version_running") and entry.get("version_running") != entry.get("version_live"):
        facts.append(f"running {entry['version_running']}, live {entry['version_live']}")
    if entry.get("execution_name"):  # a wave's row: which execution it shows
        facts.append(f"execution {entry['execution_name']}")
    if facts:
        lines.append(" · ".join(facts))
    if entry.get("outcome"):
        lines.append(f"outcome: {entry['outcome']}")
    if entry.get("error"):
        lines.append(f"error: {entry['error']['name']}: {entry['error']['message']}")
    lines += [f"blocked: {d['reason']}" for d in entry.get("dependencies") or [] if not d.get("met")]
    return lines


def program_table(document: dict[str, Any]) -> Table:
    width = max([len(w["wave"]) for w in document["waves"]] + [4])
    table = _table(
        f"{document['program']}: waves in dependency order",
        [
            ("wave", {"min_width": width}),
            ("kind", {"max_width": 16}),
            ("ver", {}),
            ("state", {"min_width": 9}),
            ("by", {"max_width": 10}),
            ("started", {}),
            ("took", {}),
        ],
    )
    for wave in document["waves"]:
        version = wave.get("version_live") or wave["version"]
        if wave.get("version_running") and wave["version_running"] != version:
            version = f"{wave['version_running']}→{version}"
        table.add_row(
            wave["wave"],
            wave["kind"],
            version,
            Text(shown_status(wave), style=_style(wave)),
            wave.get("requester") or "-",
            short_time(wave.get("started_at")),
            duration(wave.get("duration_s")),
        )
    return table


def print_program(document: dict[str, Any], console: Console) -> None:
    console.print(program_table(document))
    for wave in document["waves"]:
        for line in detail_lines(wave):
            console.print(f"{wave['wave']}: {line}", highlight=False, markup=False)


def print_wave(document: dict[str, Any], console: Console) -> None:
    """`wavectl status WAVE`: every execution newest first, dry runs marked, then the details."""
    executions = document.get("executions") or []
    width = max([len(e["name"]) for e in executions] + [9])
    state_width = max([len(shown_status(e)) for e in executions] + [9])
    table = _table(
        f"{document['wave']} ({document['kind']}): {len(executions)} execution(s), newest first",
        [("execution", {"min_width": width}), ("state", {"min_width": state_width}), ("started", {}),
         ("took", {})],
    )  # fmt: skip
    for item in executions:
        table.add_row(
            item["name"],
            Text(shown_status(item), style=_style(item)),
            short_time(item.get("started_at")),
            duration(item.get("duration_s")),
        )
    console.print(table)
    verdict = document.get("unlocks_dependents") or {}
    if verdict:
        console.print(
            f"waves after it: {'may start' if verdict['met'] else 'may not start'} ({verdict['reason']})",
            highlight=False,
            markup=False,
        )
    for item in executions:
        for line in detail_lines(item):
            console.print(f"{item['name']}: {line}", highlight=False, markup=False)


def print_execution(detail: dict[str, Any], console: Console) -> None:
    """`wavectl status WAVE --execution NAME`: each state's times and duration, then the approvals."""
    console.print(
        f"{detail['name']}: {shown_status(detail)}, {detail.get('version') or '-'}, "
        f"by {detail.get('requester') or '-'}, ticket {detail.get('ticket') or '-'}, "
        f"started {short_time(detail.get('started_at'))}, took {duration(detail.get('duration_s'))}",
        highlight=False,
        markup=False,
    )
    width = max([len(s["state"]) for s in detail["steps"]] + [5])
    table = _table(
        "steps",
        [("state", {"min_width": min(width, 40)}), ("entered", {}), ("exited", {}), ("took", {}), ("", {})],
    )
    for step in detail["steps"]:
        outcome = "" if step["outcome"] == "done" else step["outcome"]
        table.add_row(
            step["state"],
            (step["entered_at"] or "-")[11:19],
            (step["exited_at"] or "-")[11:19],
            duration(step["duration_s"]),
            outcome,
        )
    console.print(table)
    for line in detail_lines(detail):
        console.print(line, highlight=False, markup=False)
