"""The contract between the state machines (stacks/) and the task Lambdas (tasks/).

Standard library only: this module is imported by the CDK app at synth time and by the
Lambda runtime, so it must not pull in either side's dependencies.
"""

from __future__ import annotations

from enum import StrEnum


class WaveKind(StrEnum):
    DB_SNAPSHOT_COPY = "db-snapshot-copy"
    DNS_CUTOVER = "dns-cutover"
    PAYMENT_DUAL_RUN = "payment-dual-run"
    DECOMMISSION = "decommission"


class ErrorName(StrEnum):
    """Named errors a wave execution can fail with (the Lambda `errorType` and ASL `Error`)."""

    INVALID_INPUT = "Wavectl.InvalidInput"
    FROZEN = "Wavectl.Frozen"
    DEPENDENCY_NOT_MET = "Wavectl.DependencyNotMet"
    PREFLIGHT_FAILED = "Wavectl.PreflightFailed"
    REJECTED = "Wavectl.Rejected"
    APPROVAL_TIMED_OUT = "Wavectl.ApprovalTimedOut"
    TASK_FAILED = "Wavectl.TaskFailed"
    NOT_READY = "Wavectl.NotReady"
    VERIFICATION_FAILED = "Wavectl.VerificationFailed"
    COMPENSATED = "Wavectl.Compensated"


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    PENDING = "pending"


class ExecutionStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    RUNNING = "RUNNING"
    ABORTED = "ABORTED"
    TIMED_OUT = "TIMED_OUT"
    NOT_STARTED = "NOT_STARTED"


# Keys of the execution input a person may pass (anything else is Wavectl.InvalidInput).
INPUT_FIELDS: dict[str, type] = {"requested_by": str, "change_ticket": str, "dry_run": bool}

# Where the common frame keeps its results in the execution state.
REQUEST_PATH = "$.request"
WAVE_PATH = "$.wave"

# Payload keys the frame's guard task receives.
GUARD_INPUT = "input"
GUARD_WAVE = "wave"
GUARD_FREEZE = "freeze"
GUARD_DEPENDS_ON = "depends_on"
GUARD_EXECUTION = "execution"

# Environment variables the stacks set on task functions (read lazily by tasks.common.settings).
ENV_PROGRAM = "WAVECTL_PROGRAM"
ENV_WAVE = "WAVECTL_WAVE"
ENV_APPROVALS_TABLE = "WAVECTL_APPROVALS_TABLE"
ENV_EVIDENCE_BUCKET = "WAVECTL_EVIDENCE_BUCKET"
ENV_KMS_KEY = "WAVECTL_KMS_KEY"
ENV_SLACK_CHANNEL = "WAVECTL_SLACK_CHANNEL"
ENV_SLACK_BOT_TOKEN_SECRET = "WAVECTL_SLACK_BOT_TOKEN_SECRET"
ENV_SLACK_SIGNING_SECRET = "WAVECTL_SLACK_SIGNING_SECRET"
ENV_SLACK_API_URL = "WAVECTL_SLACK_API_URL"
ENV_SOURCE_ROLE_ARN = "WAVECTL_SOURCE_ROLE_ARN"
ENV_TARGET_ROLE_ARN = "WAVECTL_TARGET_ROLE_ARN"
ENV_APPROVERS = "WAVECTL_APPROVERS"

LIVE_ALIAS = "live"
