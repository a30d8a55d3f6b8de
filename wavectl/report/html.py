"""The status page: one self-contained HTML file (no scripts, no external resources) a risk officer can
open offline. Waves in dependency order with coloured states, each wave's executions, approvals with
names, times and reasons, links to the evidence archive, and an inline SVG timeline per execution."""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import Any

from wavectl.report.table import duration, short_time
from wavectl.status import shown_status

esc = html.escape

_CSS = """
*{box-sizing:border-box}td,th{overflow-wrap:anywhere}
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5rem;color:#1d2330;max-width:1400px}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin:1.6rem 0 .4rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{border:1px solid #d6dae3;padding:.35rem .5rem;text-align:left;vertical-align:top;font-size:.88rem}
th{background:#f2f4f8}.state{font-weight:600;border-radius:4px;padding:.1rem .4rem;white-space:nowrap}
.SUCCEEDED{background:#e6f4ea;color:#137333}.FAILED,.TIMED_OUT{background:#fce8e6;color:#b3261e}
.RUNNING{background:#e8f0fe;color:#0b57d0}.ABORTED{background:#fef7e0;color:#a56300}
.NOT_STARTED{background:#f1f3f4;color:#5f6368}.dry{background:#f3e8fd;color:#7627bb}
.meta{color:#5f6368;font-size:.85rem}code{font-size:.78rem;word-break:break-all}
.wave{border-top:2px solid #d6dae3;margin-top:1rem}.reason{font-style:italic}
.person{border-bottom:1px dotted #5f6368}svg{max-width:100%;height:auto;display:block}
@media (max-width:900px){td,th{font-size:.8rem;padding:.25rem}.wide{display:none}}
"""
_BAR_COLOURS = {"done": "#34a853", "running": "#4285f4"}
_GATE_COLOUR = "#fbbc04"


def person(name: str | None, slack: str | None) -> str:
    """A runbook name, with the Slack id on hover."""
    if not name:
        return "-"
    title = f' title="{esc(slack)}"' if slack and slack != name else ""
    return f'<span class="person"{title}>{esc(name)}</span>'


def state_badge(entry: dict[str, Any], *, summary: bool = True) -> str:
    """The coloured state; a dry run's success is marked as one."""
    css = "dry" if entry.get("dry_run") and entry["status"] != "NOT_STARTED" else entry["status"]
    return f'<span class="state {esc(css)}">{esc(shown_status(entry))}</span>'


def _slack_of(document: dict[str, Any], name: str | None) -> str | None:
    return next((slack for slack, known in (document.get("people") or {}).items() if known == name), None)


def approvals_html(approvals: list[dict[str, Any]], document: dict[str, Any]) -> str:
    if not approvals:
        return "-"
    rows = []
    for approval in approvals:
        votes = [
            f"{person(v.get('name'), v.get('user'))} at {esc(short_time(v.get('at')))}"
            + (f' <span class="reason">“{esc(v["reason"])}”</span>' if v.get("reason") else "")
            for v in approval.get("votes") or []
        ]
        text = f"<b>{esc(str(approval.get('gate')))}</b>: {esc(str(approval.get('decision')))}"
        if votes:
            text += " — " + ", ".join(votes)
        if approval.get("decision") == "rejected" and approval.get("rejected_by"):
            text += (
                f" — rejected by {person(approval.get('rejected_by_name'), approval['rejected_by'])}"
                f" at {esc(short_time(approval.get('decided_at')))}"
            )
            if approval.get("reason"):
                text += f' <span class="reason">“{esc(approval["reason"])}”</span>'
        if approval.get("decision") == "pending":
            policy = approval.get("policy") or {}
            text += (
                f" — {len(approval.get('votes') or [])} of {esc(str(approval.get('required') or '?'))} "
                f"from {esc(str(policy.get('group', '?')))}, "
                f"due {esc(short_time(approval.get('expires_at')))}"
                f" <code>{esc(str(approval.get('approval_id')))}</code>"
            )
        rows.append(text)
    return "<br>".join(rows)


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def timeline_svg(execution: dict[str, Any], width: int = 900) -> str:
    """One bar per state on a shared time axis; gates (approval waits) in amber, failures in red."""
    steps = execution.get("steps") or []
    start, end = _parse(execution.get("started_at")), _parse(execution.get("stopped_at"))
    if not steps or start is None:
        return ""
    last = max([_parse(s["exited_at"] or s["entered_at"]) for s in steps] + [end or start])
    span = max((last - start).total_seconds(), 1.0)
    label, row, plot = 230, 16, width - 240
    parts = []
    for index, step in enumerate(steps):
        entered = _parse(step["entered_at"])
        exited = _parse(step["exited_at"]) or last
        x = label + plot * (entered - start).total_seconds() / span
        w = max(plot * (exited - entered).total_seconds() / span, 2)
        y = 4 + index * row
        colour = _BAR_COLOURS.get(step["outcome"], "#ea4335")
        if "approval" in step["state"].lower() or step["state"].lower().startswith("gate"):
            colour = _GATE_COLOUR
        tip = f"{step['state']}: {duration(step['duration_s'])} ({step['outcome']})"
        parts.append(
            f'<text x="0" y="{y + 11}" font-size="11">{esc(step["state"][:34])}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="12" fill="{colour}" rx="2">'
            f"<title>{esc(tip)}</title></rect>"
        )
    height = 8 + len(steps) * row + 14
    axis = (
        f'<text x="{label}" y="{height - 2}" font-size="10" fill="#5f6368">'
        f"{esc(short_time(iso(start)))}</text>"
        f'<text x="{width - 10}" y="{height - 2}" font-size="10" text-anchor="end" fill="#5f6368">'
        f"+{esc(duration(span))}</text>"
    )
    title = f"timeline of {execution['name']}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{esc(title)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f"<title>{esc(title)}</title>{''.join(parts)}{axis}</svg>"
    )


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def evidence_link(execution: dict[str, Any], wave: str) -> str:
    evidence = execution.get("evidence") or {}
    if not evidence:
        return "-"
    folder = f"evidence/{wave}/{execution['name']}"
    return (
        f'<a href="{esc(folder)}/summary.md" title="s3: {esc(evidence["index"])}">evidence</a>'
        f'<div class="meta">wavectl evidence {esc(wave)} --execution {esc(execution["name"])} '
        f"--out {esc(folder)}</div>"
    )


def _wave_row(wave: dict[str, Any], document: dict[str, Any]) -> str:
    version = esc(wave.get("version_live") or wave["version"])
    if wave.get("version_running") and wave["version_running"] != wave.get("version_live"):
        version = f"{esc(wave['version_running'])} running, {version} live"
    detail = ""
    if wave.get("error"):
        detail = esc(f"{wave['error']['name']}: {wave['error']['message']}")
    elif wave.get("current_state"):
        detail = esc(wave["current_state"])
    elif wave.get("outcome"):
        detail = esc(wave["outcome"])
    blocked = [d["reason"] for d in wave.get("dependencies") or [] if not d.get("met")]
    if blocked:
        detail += "".join(f'<div class="meta">blocked: {esc(reason)}</div>' for reason in blocked)
    return (
        f'<tr><td><a href="#wave-{esc(wave["wave"])}">{esc(wave["wave"])}</a></td>'
        f"<td>{esc(wave['kind'])}</td>"
        f"<td>{version}</td><td>{state_badge(wave)}</td>"
        f"<td>{person(wave.get('requester'), wave.get('requester_slack'))}</td>"
        f"<td>{esc(wave.get('ticket') or '-')}</td><td>{esc(short_time(wave.get('started_at')))}</td>"
        f"<td>{esc(duration(wave.get('duration_s')))}</td>"
        f"<td>{approvals_html(wave.get('approvals') or [], document)}</td><td>{detail or '-'}</td></tr>"
    )


def _execution_block(execution: dict[str, Any], wave: str, document: dict[str, Any]) -> str:
    error = execution.get("error")
    error_html = f"<p>{esc(error['name'])}: {esc(error['message'])}</p>" if error else ""
    return (
        f"<tr><td><code>{esc(execution['name'])}</code></td><td>{state_badge(execution, summary=False)}</td>"
        f"<td>{esc(execution.get('version') or '-')}</td>"
        f"<td>{person(execution.get('requester'), execution.get('requester_slack'))}</td>"
        f"<td>{esc(execution.get('ticket') or '-')}</td>"
        f"<td>{esc(short_time(execution.get('started_at')))}</td>"
        f"<td>{esc(duration(execution.get('duration_s')))}</td>"
        f"<td>{approvals_html(execution.get('approvals') or [], document)}{error_html}</td>"
        f"<td>{evidence_link(execution, wave)}</td></tr>"
        f'<tr><td colspan="9">{timeline_svg(execution)}</td></tr>'
    )


def _wave_section(wave: dict[str, Any], document: dict[str, Any]) -> str:
    executions = wave.get("executions") or []
    verdict = wave.get("unlocks_dependents") or {}
    head = "".join(
        f"<th>{c}</th>"
        for c in ("execution", "state", "version", "started by", "ticket", "started", "took", "approvals",
                  "evidence")
    )  # fmt: skip
    body = "".join(_execution_block(e, wave["wave"], document) for e in executions)
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>" if executions else ""
    after = (
        f'<p class="meta">waves after it: {"may start" if verdict.get("met") else "may not start"}'
        f" ({esc(verdict.get('reason', ''))})</p>"
        if verdict
        else ""
    )
    return (
        f'<section class="wave" id="wave-{esc(wave["wave"])}"><h2>{esc(wave["wave"])} '
        f"{state_badge(wave, summary=False)}</h2>"
        f'<p class="meta">{len(executions)} execution(s), newest first</p>{after}{table}</section>'
    )


def _meta_text(value: Any) -> str:
    """`{"wall_seconds": 12.3, "speed": "fast"}` -> `wall seconds 12.3 · speed fast` (nested: JSON)."""
    if not isinstance(value, dict):
        return json.dumps(value) if not isinstance(value, str) else value
    parts = []
    for key, item in value.items():
        shown = ", ".join(f"{k} {v}" for k, v in item.items()) if isinstance(item, dict) else item
        parts.append(f"{str(key).replace('_', ' ')} {shown}")
    return " · ".join(parts)


def program_page(document: dict[str, Any]) -> str:
    title = esc(f"{document['program']}: wave status")
    head = "".join(
        f"<th>{c}</th>"
        for c in ("wave", "kind", "version", "status", "started by", "ticket", "started", "took",
                  "approvals", "state / error")
    )  # fmt: skip
    rows = "".join(_wave_row(w, document) for w in document["waves"])
    sections = "".join(_wave_section(w, document) for w in document["waves"])
    extra = "".join(
        f'<p class="meta">{esc(key)}: {esc(_meta_text(value))}</p>'
        for key, value in document.items()
        if key not in ("program", "generated_at", "waves", "people")
    )
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body><h1>{title}</h1>"
        f'<p class="meta">generated {esc(document["generated_at"])} (times UTC)</p>{extra}'
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{sections}</body></html>\n"
    )
