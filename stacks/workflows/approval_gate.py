"""An approval gate: one call in a workflow builder adds a Slack-approved `waitForTaskToken` step.

The gate invokes the control plane's approval request function with the task token, the gate, the
wave, the runbook's approval policy and a human summary; the execution waits until the callback
function sends the decision (M distinct approvals) or a rejection, or until the policy's timeout.

    Approval: <gate> ──approved──► next state (decision at $.approval)
       │ Wavectl.Rejected ─────────────────────────────► on_failure   ($.error)
       │ States.Timeout ──► Record timeout: <gate> ────► on_failure   ($.error = Wavectl.ApprovalTimedOut)
       │ anything else ────────────────────────────────► on_failure   ($.error)
"""

from __future__ import annotations

import re

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn

from stacks.constructs.lambda_step import lambda_step
from stacks.constructs.nag import acknowledge
from stacks.names import request_function_export
from stacks.workflows.context import WaveContext
from tasks.contracts import REQUEST_PATH, REQUESTER_PATH, ApprovalPolicy, ErrorName
from wavectl.model import ApprovalPolicy as ApprovalPolicyModel

APPROVAL_RESULT_PATH = "$.approval"  # the last gate's decision: {decision, approvers, decided_at}
ERROR_PATH = "$.error"
_GATE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def policy_payload(policy: ApprovalPolicyModel) -> ApprovalPolicy:
    return {
        "group": policy.group,
        "required": policy.required,
        "timeout": policy.timeout,
        "remind_after": policy.remind_after,
        "escalate_after": policy.escalate_after,
        "escalate_to": policy.escalate_to,
    }


def request_payload(
    ctx: WaveContext,
    gate: str,
    summary: str | None,
    summary_path: str | None,
    *,
    gate_path: str | None = None,
    timeout: int | None = None,
) -> dict:
    wave = ctx.wave
    policy = policy_payload(wave.approval)
    if timeout is not None:
        policy["timeout"] = timeout
    payload: dict[str, object] = {
        "action": "request",
        "task_token": sfn.JsonPath.task_token,
        **_gate_field(gate, gate_path),
        "wave": {"name": wave.wave, "kind": wave.kind, "version": wave.version},
        "policy": policy,
        "execution.$": "$$.Execution.Id",
        "execution_started_at.$": "$$.Execution.StartTime",  # the CloudTrail lookup's time window
        "state_machine.$": "$$.StateMachine.Id",
        "execution_input.$": "$$.Execution.Input",
        "entered_at.$": "$$.State.EnteredTime",
        "requested_by.$": f"{REQUEST_PATH}.requested_by",
        "requested_by_source.$": f"{REQUEST_PATH}.requested_by_source",
        "requester.$": REQUESTER_PATH,  # resolved by the frame before any gate (tasks/frame/requester.py)
        "requester_policy": wave.requester,
    }
    if summary_path is not None:
        payload["summary.$"] = summary_path
    else:
        payload["summary"] = summary or f"{wave.wave} ({wave.kind}) v{wave.version}: {gate}"
    return payload


def _gate_field(gate: str, gate_path: str | None) -> dict[str, str]:
    """The gate's name: fixed, or read from the state (a gate state reached once per loop iteration,
    e.g. `shift-to-50` then `shift-to-100`, since the approvals table keeps one approval per gate)."""
    return {"gate.$": gate_path} if gate_path is not None else {"gate": gate}


def request_function(ctx: WaveContext) -> lambda_.IFunction:
    function = ctx.control.approval_request_function
    if function is None:
        raise ValueError("approval gates need ControlPlaneRefs.approval_request_function (the control plane)")
    acknowledge(
        ctx.scope,
        f"AwsSolutions-IAM5[Resource::{request_function_export(ctx.program.program)}:*]",
        "lambda:InvokeFunction on the approval request function's own versions and aliases (ARN:*), "
        "as the Step Functions lambda:invoke integration requires.",
    )
    return function


def _record_timeout(
    ctx: WaveContext, gate: str, on_failure: sfn.IChainable, gate_path: str | None = None
) -> sfn.IChainable:
    """Mark the approval timed_out (table, Slack, evidence) and set $.error to ApprovalTimedOut."""
    record = lambda_step(
        ctx.scope,
        f"Record timeout: {gate}",
        request_function(ctx),
        {
            "action": "timed_out",
            **_gate_field(gate, gate_path),
            "execution.$": "$$.Execution.Id",
            "error.$": ERROR_PATH,
        },
        result_path=ERROR_PATH,
        comment="approval timed out: close it, say so in Slack, write evidence",
    )
    fallback = sfn.Pass(
        ctx.scope,
        f"Timed out: {gate}",
        comment="recording the timeout failed; the outcome is still a timeout",
        parameters={"Error": ErrorName.APPROVAL_TIMED_OUT.value, "Cause": f"approval gate {gate} timed out"},
        result_path=ERROR_PATH,
    )
    fallback.next(on_failure)
    record.add_catch(fallback, errors=[sfn.Errors.ALL], result_path="$.record_error")
    return record.next(on_failure)


def approval_gate(
    ctx: WaveContext,
    gate: str,
    *,
    summary: str | None = None,
    summary_path: str | None = None,
    on_failure: sfn.IChainable,
    gate_path: str | None = None,
    timeout: int | None = None,
    on_timeout: sfn.IChainable | None = None,
) -> sfn.TaskStateBase:
    """A `lambda:invoke.waitForTaskToken` approval step named `Approval: <gate>`.

    `summary` is static text; `summary_path` a JSONPath into the state (e.g. a field built by a Pass
    with States.Format) saying what will happen. `on_failure` is the wave's compensation path; it
    receives the error at `$.error` (`Wavectl.Rejected`, `Wavectl.ApprovalTimedOut`, or other).
    `gate_path` reads the gate's name from the state (the state is then `Approval: <gate>`);
    `timeout` (seconds) replaces the policy's; `on_timeout` is where a timeout goes once recorded
    (default: `on_failure`, as Wavectl.ApprovalTimedOut), e.g. a window that closes by itself.
    """
    if not _GATE.match(gate):
        raise ValueError(f"gate name {gate!r} must match {_GATE.pattern}")
    if summary is not None and summary_path is not None:
        raise ValueError("give summary or summary_path, not both")
    policy = ctx.wave.approval
    step = lambda_step(
        ctx.scope,
        f"Approval: {gate}",
        request_function(ctx),
        request_payload(ctx, gate, summary, summary_path, gate_path=gate_path, timeout=timeout),
        wait_for_token=Duration.seconds(timeout or policy.timeout),
        result_path=APPROVAL_RESULT_PATH,
        comment=f"{policy.required} of {policy.group} approve in Slack (Wavectl.Rejected / States.Timeout)",
    )
    step.add_catch(on_failure, errors=[ErrorName.REJECTED.value], result_path=ERROR_PATH)
    step.add_catch(
        _record_timeout(ctx, gate, on_timeout or on_failure, gate_path),
        errors=[sfn.Errors.TIMEOUT],
        result_path=ERROR_PATH,
    )
    step.add_catch(on_failure, errors=[sfn.Errors.ALL], result_path=ERROR_PATH)
    return step
