"""`wavectl approvals`, `wavectl approve`, `wavectl reject`: the fallback when Slack is down.
`wavectl rollback WAVE` rejects the open "close-rollback-window" gate of a DNS cutover.

On AWS the decision goes to the approvals API's IAM-authorised route, signed with your credentials;
the callback function maps your verified ARN to an approver of the runbook and applies the same rules
as a Slack click (group, four eyes, one vote each) and writes the same evidence. With `--local`, the
same callback function of a running `wavectl local up` is invoked as `--as NAME` (the CLI assumes the
role WavectlApprover with that session name, as an approver would on AWS).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated, Any

import boto3
import typer
from rich import box
from rich.table import Table

from tasks.contracts import ABORT_ACTION, ABORT_GATE, APPROVAL_CALLBACK_TASK
from wavectl import approvals
from wavectl.cli_common import err, load_or_exit, out, session_for
from wavectl.runbook import Runbook

APPROVER_ROLE = "WavectlApprover"

RunbookOption = Annotated[Path, typer.Option("--runbooks", help="runbooks folder (program.yaml + waves/)")]
LocalOption = Annotated[
    bool, typer.Option("--local", help="use the running `wavectl local up` instead of AWS")
]
PortOption = Annotated[int | None, typer.Option("--port", help="port of `wavectl local up` (default 4599)")]
Reason = Annotated[str | None, typer.Option("--reason", help="why; recorded in the evidence")]
ActAs = Annotated[
    str | None, typer.Option("--as", help="with --local: approver name (or Slack id) to act as")
]
ApprovalId = Annotated[
    str, typer.Argument(help="the approval id (in the Slack message or `wavectl approvals`)")
]
ApiUrl = Annotated[
    str | None, typer.Option("--api-url", help="approvals API base URL (default: control-plane stack output)")
]


def register(app: typer.Typer) -> None:
    app.command("approvals")(list_approvals)
    app.command("approve")(approve)
    app.command("reject")(reject)
    app.command("rollback")(rollback)
    app.command("abort")(abort)


def _runbook(path: Path) -> Runbook:
    return load_or_exit(path)


def _session(runbook: Runbook, local: bool, port: int | None) -> boto3.Session:
    return session_for(runbook, local, port)


def list_approvals(
    runbooks: RunbookOption = Path("runbooks"),
    local: LocalOption = False,
    port: PortOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List pending approvals across all waves (soonest deadline first).

    Example: wavectl approvals --local
    """
    runbook = _runbook(runbooks)
    items = approvals.pending(_session(runbook, local, port), runbook.approvals_table_name())
    if as_json:
        out.print_json(json.dumps(items, default=str))
        return
    names = {m.slack: m.name or m.slack for ms in runbook.program.approvers.values() for m in ms}
    table = Table(title=f"{runbook.program.program}: pending approvals", box=box.SIMPLE_HEAD)
    id_width = max([len(item["approval_id"]) for item in items] + [11])
    table.add_column("approval id", no_wrap=True, min_width=id_width)  # copied whole into `approve`
    for column in ("wave / gate", "votes", "deadline"):  # text may wrap inside its cell; ids never
        table.add_column(column, overflow="fold")
    for item in items:
        policy = item.get("policy") or {}
        requester = str(item.get("requester") or "unknown")
        expires = str(item.get("expires_at") or "")
        table.add_row(
            item["approval_id"],
            f"{item['wave']} / {item['gate']}\nby {names.get(requester, requester)}",
            f"{len(item.get('votes') or {})} of {policy.get('required', '?')}\n{policy.get('group', '?')}",
            (f"{expires[5:10]}\n{expires[11:16]}" if expires else "-") + _slack_line(item),
        )
    out.print(table)


def _slack_line(item: dict[str, Any]) -> str:
    """Below the deadline: only a gate whose Slack message is missing says so (approvers do not know)."""
    state = approvals.slack_state(item)
    return (
        ""
        if state == "posted"
        else f"\n{state}" + (f": {item['post_error']}" if item.get("post_error") else "")
    )


def _approver_session(session: boto3.Session, runbook: Runbook, who: str) -> boto3.Session:
    """Locally: become approver `who` by assuming WavectlApprover with their name as session name."""
    member = next(
        (m for ms in runbook.program.approvers.values() for m in ms if who in (m.name, m.slack)), None
    )
    if member is None:
        err.print(f"--as {who}: no approver with that name or Slack id in the runbook", style="red")
        raise typer.Exit(1)
    iam = session.client("iam")
    account = runbook.program.accounts.tooling
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Condition": {"StringEquals": {"sts:RoleSessionName": "${aws:username}"}},
            }
        ],
    }  # as on AWS
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):  # the embedded AWS only
        iam.create_role(RoleName=APPROVER_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    creds = session.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{APPROVER_ROLE}", RoleSessionName=member.name or member.slack
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=session.region_name,
    )


def _decide_locally(
    session: boto3.Session,
    runbook: Runbook,
    approval_id: str,
    action: str,
    reason: str | None,
    who: str | None,
) -> tuple[int, dict[str, Any]]:
    if not who:
        err.print("with --local, say which approver you are: --as NAME", style="red")
        raise typer.Exit(1)
    approver = _approver_session(session, runbook, who)
    event = approvals.cli_event(approval_id, action, reason, approvals.caller_arn(approver))
    response = session.client("lambda").invoke(
        FunctionName=runbook.control_function_name(APPROVAL_CALLBACK_TASK), Payload=json.dumps(event).encode()
    )
    return approvals.parse_response(json.loads(response["Payload"].read() or b"{}"))


def _decide_on_aws(
    session: boto3.Session,
    runbook: Runbook,
    approval_id: str,
    action: str,
    reason: str | None,
    api_url: str | None,
) -> tuple[int, dict[str, Any]]:
    url = api_url or approvals.api_url_from_stack(session, f"{runbook.program.program}-control-plane")
    if not url:
        err.print("approvals API URL not found; pass --api-url (control-plane output ApprovalsApiUrl)")
        raise typer.Exit(1)
    return approvals.send_signed(session, url, approval_id, action, reason)


def _decide(action: str, approval_id: str, reason: str | None, runbooks: Path, local: bool, port: int | None,
            who: str | None, api_url: str | None) -> None:  # fmt: skip
    runbook = _runbook(runbooks)
    session = _session(runbook, local, port)
    if local:
        status, body = _decide_locally(session, runbook, approval_id, action, reason, who)
    else:
        status, body = _decide_on_aws(session, runbook, approval_id, action, reason, api_url)
    message = body.get("message", "")
    if status == 200:
        out.print(f"{approval_id}: {message}", highlight=False)
        return
    err.print(f"{approval_id}: refused ({status}): {message}", style="red", highlight=False)
    raise typer.Exit(1)


def approve(
    approval_id: ApprovalId,
    reason: Reason = None,
    runbooks: RunbookOption = Path("runbooks"),
    local: LocalOption = False,
    port: PortOption = None,
    act_as: ActAs = None,
    api_url: ApiUrl = None,
) -> None:
    """Approve a gate as yourself (your IAM identity must be an approver's `iam` ARN in the runbook).

    Example: wavectl approve apr_Jx3... --reason "Slack outage, checked the change ticket"
    """
    _decide("approve", approval_id, reason, runbooks, local, port, act_as, api_url)


def reject(
    approval_id: ApprovalId,
    reason: Reason = None,
    runbooks: RunbookOption = Path("runbooks"),
    local: LocalOption = False,
    port: PortOption = None,
    act_as: ActAs = None,
    api_url: ApiUrl = None,
) -> None:
    """Reject a gate: the wave stops and compensates (Wavectl.Rejected).

    Example: wavectl reject apr_Jx3... --reason "ledger replication lag too high"
    """
    _decide("reject", approval_id, reason, runbooks, local, port, act_as, api_url)


ROLLBACK_WINDOW_GATE = "close-rollback-window"  # the dns-cutover wave's window gate


def open_rollback_window(session: boto3.Session, runbook: Runbook, wave: str) -> str | None:
    """The approval id of `wave`'s pending close-rollback-window gate, if its window is open."""
    for item in approvals.pending(session, runbook.approvals_table_name()):
        if item.get("wave") == wave and item.get("gate") == ROLLBACK_WINDOW_GATE:
            return item["approval_id"]
    return None


def rollback(
    wave: Annotated[str, typer.Argument(help="the dns-cutover wave whose rollback window is open")],
    reason: Reason = None,
    runbooks: RunbookOption = Path("runbooks"),
    local: LocalOption = False,
    port: PortOption = None,
    act_as: ActAs = None,
    api_url: ApiUrl = None,
) -> None:
    """Roll a DNS cutover back during its rollback window: rejects its "close rollback window" gate
    (same identity rules as `wavectl reject`); the wave puts every record back on the old targets.

    Example: wavectl rollback api-dns --reason "checkout errors since the switch"
    """
    runbook = _runbook(runbooks)
    try:
        runbook.wave(wave)
    except KeyError as exc:
        err.print(str(exc), style="red", highlight=False)
        raise typer.Exit(2) from None
    approval_id = open_rollback_window(_session(runbook, local, port), runbook, wave)
    if approval_id is None:
        err.print(f"{wave}: no open rollback window (no pending {ROLLBACK_WINDOW_GATE} gate)", style="red")
        raise typer.Exit(1)
    _decide("reject", approval_id, reason or "rollback requested", runbooks, local, port, act_as, api_url)


def abort(
    wave: Annotated[str, typer.Argument(help="the decommission wave whose cool-off to abort")],
    reason: Reason = None,
    runbooks: RunbookOption = Path("runbooks"),
    local: LocalOption = False,
    port: PortOption = None,
    act_as: ActAs = None,
    api_url: ApiUrl = None,
) -> None:
    """Abort a decommission during its cool-off: every disabled resource is restored to its
    recorded state and the wave fails Wavectl.Aborted. Same rules as a rejection (an approver of
    the wave's decommission gate, identified by IAM).

    Example: wavectl abort decommission-acme --reason "the FX team still reads the reports bucket"
    """
    runbook = _runbook(runbooks)
    found = approvals.running_gate(_session(runbook, local, port), runbook, wave, ABORT_GATE)
    if found is None:
        err.print(f"{wave}: no running execution past its {ABORT_GATE} gate; nothing to abort", style="red")
        raise typer.Exit(1)
    _decide(ABORT_ACTION, found[1], reason, runbooks, local, port, act_as, api_url)
