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


class CompensationStatus(StrEnum):
    """What a compensation round reports; the workflow loops on IN_PROGRESS."""

    DONE = "done"  # nothing pending, nothing left
    IN_PROGRESS = "in-progress"  # deletions still running: wait and compensate again
    INCOMPLETE = "incomplete"  # rounds exhausted with something pending, or a deletion refused


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
# db-snapshot-copy: the wave's databases and residency, zlib+base64 JSON (keeps the ASL size constant).
ENV_DB_WAVE_SPEC = "WAVECTL_DB_WAVE_SPEC"
# db-snapshot-copy: optional "module:function" running the runbook's verify queries.
ENV_DB_VERIFY_HOOK = "WAVECTL_DB_VERIFY_HOOK"

LIVE_ALIAS = "live"

# ----------------------------------------------------------------------------- approvals table
# Shared by tasks.approvals (writes) and wavectl.approvals / status (reads).
APPROVALS_STATUS_INDEX = "by-status"  # GSI: status (S) + expires_at (S, ISO 8601)
APPROVAL_PK_PREFIX = "approval#"  # pk of an approval record: approval#<approval id>
APPROVAL_SK = "approval"
EXECUTION_PK_PREFIX = "execution#"  # pk of a gate index record: execution#<execution arn>
GATE_SK_PREFIX = "gate#"  # sk of a gate index record: gate#<gate>

# Attributes of an approval record a reader may rely on (the task token is never read outside tasks/).
APPROVAL_ID = "approval_id"
APPROVAL_STATUS = "status"  # a Decision value
APPROVAL_GATE = "gate"
APPROVAL_WAVE = "wave"
APPROVAL_EXECUTION = "execution"
APPROVAL_APPROVERS = "approvers"  # Slack ids of the approving votes, in the order they came
APPROVAL_REJECTED_BY = "rejected_by"
APPROVAL_DECIDED_AT = "decided_at"
APPROVAL_EXPIRES_AT = "expires_at"
APPROVAL_REQUESTER = "requester"
APPROVAL_REASON = "reason"
APPROVAL_SUMMARY = "summary"
APPROVAL_POLICY = "policy"
APPROVAL_CREATED_AT = "created_at"
APPROVAL_RUNBOOK_VERSION = "runbook_version"
APPROVAL_EVIDENCE_KEY = "evidence_key"

# The CLI fallback's route on the approvals API (IAM-authorised; the caller ARN is the identity).
APPROVALS_CLI_PATH = "/cli/approvals/{approval_id}/{action}"
APPROVALS_API_OUTPUT = "ApprovalsApiUrl"  # control-plane stack output: base URL of the approvals API
ENV_APPROVALS_API_URL = "WAVECTL_APPROVALS_API_URL"
