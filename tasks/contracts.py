"""The contract between the state machines (stacks/) and the task Lambdas (tasks/).

Standard library only: this module is imported by the CDK app at synth time and by the
Lambda runtime, so it must not pull in either side's dependencies.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import json
import zlib
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any, NotRequired, TypedDict


class WaveKind(StrEnum):
    DB_SNAPSHOT_COPY = "db-snapshot-copy"
    DNS_CUTOVER = "dns-cutover"
    PAYMENT_DUAL_RUN = "payment-dual-run"
    DECOMMISSION = "decommission"


# The canonical payment record (payment bridge output, reconciliation input): CSV header, in this order.
# `amount` is a decimal string in the currency's minor units ("1234.56", "1500" for JPY), never a float;
# `requested_execution_date` is YYYY-MM-DD.
CANONICAL_PAYMENT_FIELDS: tuple[str, ...] = (
    "end_to_end_id",
    "amount",
    "currency",
    "debtor_iban",
    "debtor_bic",
    "debtor_name",
    "creditor_iban",
    "creditor_bic",
    "creditor_name",
    "requested_execution_date",
    "status",
    "remittance_info",
)


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
    ALARM_TRIPPED = "Wavectl.AlarmTripped"  # dns-cutover: an alarm or a new target's health check
    ABORTED = "Wavectl.Aborted"  # decommission: `wavectl abort` during the cool-off (resources restored)
    REQUESTER_PENDING = "Wavectl.RequesterPending"  # CloudTrail has not delivered StartExecution yet
    REQUESTER_UNKNOWN = "Wavectl.RequesterUnknown"  # nobody authenticated is known to have started it
    COMPENSATION_FAILED = "Wavectl.CompensationFailed"
    FILES_MISSING = "Wavectl.FilesMissing"  # payment-dual-run: a day's file not there by the deadline
    RECONCILIATION_FAILED = "Wavectl.ReconciliationFailed"  # payment-dual-run: breaks rejected, never clean


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    PENDING = "pending"
    EXECUTION_ENDED = "execution_ended"  # the execution stopped or ended while the gate was open


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
# Where the frame's requester step puts who started the execution (tasks/frame/requester.py):
# {"verified": bool, "source": cloudtrail|input|unknown|dry_run, "principal": {...} when verified}.
REQUESTER_PATH = "$.request.requester"
REQUESTER_VERIFIED, REQUESTER_UNVERIFIED = "verified", "unverified"  # a wave's `requester:` setting
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
ENV_WORKLOAD_EXTERNAL_ID = "WAVECTL_WORKLOAD_EXTERNAL_ID"  # sts:ExternalId of the source/target roles
ENV_APPROVERS = "WAVECTL_APPROVERS"
# db-snapshot-copy: the wave's databases and residency, zlib+base64 JSON (keeps the ASL size constant).
ENV_DB_WAVE_SPEC = "WAVECTL_DB_WAVE_SPEC"
# db-snapshot-copy: optional "module:function" running the runbook's verify queries.
ENV_DB_VERIFY_HOOK = "WAVECTL_DB_VERIFY_HOOK"
# dns-cutover: the wave's zone, records, steps and alarms (encode_spec JSON; keeps the ASL size constant).
ENV_DNS_WAVE_SPEC = "WAVECTL_DNS_WAVE_SPEC"

LIVE_ALIAS = "live"

# Program-level task functions of the control plane, named <program>-<task>.
APPROVAL_REQUEST_TASK = "approval-request"
APPROVAL_CALLBACK_TASK = "approval-callback"
APPROVAL_REMINDERS_TASK = "approval-reminders"

# ----------------------------------------------------------------------------- approvals table
# Shared by tasks.approvals (writes) and wavectl.approvals / status (reads).
APPROVALS_STATUS_INDEX = "by-status"  # GSI: status (S) + expires_at (S, ISO 8601)
APPROVAL_PK_PREFIX = "approval#"  # pk of an approval record: approval#<approval id>
APPROVAL_SK = "approval"
EXECUTION_PK_PREFIX = "execution#"  # pk of a gate index record: execution#<execution arn>
GATE_SK_PREFIX = "gate#"  # sk of a gate index record: gate#<gate>
# The root of an execution's Slack thread (its "started" message): thread#<execution arn> / "thread".
THREAD_PK_PREFIX = "thread#"
THREAD_SK = "thread"
# Actions of the approval request function besides a gate's request and timeout: notes in the
# execution's Slack thread (tasks/approvals/thread.py), posted by the frame's note states.
ACTION_STARTED = "started"
ACTION_STEP = "step"

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

# What readers of the table may see: every attribute but the task token, which resumes a wave and
# stays with the functions that send task results. Operators' reads (`wavectl approvals`, status,
# the local demo) name the attributes they fetch (ProjectionExpression), and the by-status index
# projects only STATUS_INDEX_ATTRIBUTES, so a query of the index cannot return the token either.
TOKEN_ATTRIBUTE = "task_token"

# An approval record without its token (tasks/approvals/request.py new_record, identity.requester_fields,
# and what the callback and reminders add later).
RECORD_ATTRIBUTES: tuple[str, ...] = (
    "approval_id",
    "status",
    "execution",
    "state_machine",
    "gate",
    "wave",
    "kind",
    "runbook_version",
    "policy",
    "summary",
    "requester",
    "requester_source",
    "requester_input",
    "requester_principal",
    "requester_ids",
    "requester_identities_differ",
    "requester_resolved_at",
    "execution_started_at",
    "input_digest",
    "definition_digest",
    "definition_digest_source",
    "created_at",
    "expires_at",
    "votes",
    "voided_votes",
    "late_votes",
    "channel",
    "message_ts",
    "thread_ts",  # the root of the execution's Slack thread the gate's message replies in
    "decided_at",
    "decided_via",
    "approvers",
    "rejected_by",
    "reason",
    "evidence_key",
    "evidence_error",
    "reminded_at",
    "escalated_at",
    "post_error",
    "post_failed_at",
    "execution_status",
)

# The record's fields that are evidence of a decision (everything but bookkeeping of the sweeper and
# of the evidence write itself; the task token is never a record attribute a reader sees).
EVIDENCE_ATTRIBUTES: tuple[str, ...] = tuple(
    name
    for name in RECORD_ATTRIBUTES
    if name
    not in ("evidence_key", "evidence_error", "reminded_at", "escalated_at", "post_error", "post_failed_at")
)

# The (execution, gate) index records: which approval a gate has, and when it was reached.
GATE_ATTRIBUTES: tuple[str, ...] = ("pk", "sk", "approval_id", "created_at")

# Non-key attributes of the by-status index (its keys status/expires_at and the table keys pk/sk are
# always projected): what `wavectl approvals` lists. The reminder sweeper reads the full record by key.
STATUS_INDEX_ATTRIBUTES: tuple[str, ...] = (
    "approval_id",
    "execution",
    "gate",
    "wave",
    "kind",
    "policy",
    "requester",
    "requester_source",
    "votes",
    "created_at",
    "message_ts",  # with post_error: whether the gate's Slack message exists (`wavectl approvals`)
    "post_error",
)

# What `wavectl approvals` reads from the index.
PENDING_ATTRIBUTES: tuple[str, ...] = ("pk", "sk", "status", "expires_at", *STATUS_INDEX_ATTRIBUTES)

# The CLI fallback's route on the approvals API (IAM-authorised; the caller ARN is the identity).
APPROVALS_CLI_PATH = "/cli/approvals/{approval_id}/{action}"
APPROVER_ROLE_NAME = "WavectlApprover"  # its trust pins sts:RoleSessionName to ${aws:username}
APPROVALS_API_OUTPUT = "ApprovalsApiUrl"  # control-plane stack output: base URL of the approvals API
ENV_APPROVALS_API_URL = "WAVECTL_APPROVALS_API_URL"

# ----------------------------------------------------------------------------- typed payloads
# Builders (stacks/) write these, handlers (tasks/) read them, wavectl/ readers use the same names.


class ApprovalPolicy(TypedDict):
    """A gate's approval policy as the state machine passes it (from the wave's `approval:`)."""

    group: str
    required: int  # distinct approvals needed (M of the group's N)
    timeout: int  # seconds
    remind_after: int | None
    escalate_after: int | None
    escalate_to: str | None


def required_approvals(policy: Mapping[str, Any]) -> int:
    """How many distinct approvals a gate needs (the policy's `required`, however it was stored)."""
    return int(policy["required"])


class WaveRef(TypedDict):
    name: str
    kind: str
    version: int


class ApprovalRequest(TypedDict):
    """What an approval gate sends the request function (`action: request`), JSONPath fields resolved."""

    action: str
    task_token: str
    gate: str
    wave: WaveRef
    policy: ApprovalPolicy
    execution: str
    execution_started_at: str
    state_machine: str
    execution_input: Any
    entered_at: str
    requested_by: str | None
    requested_by_source: str | None
    summary: str
    requester: NotRequired[dict[str, Any]]  # the frame's resolved requester (REQUESTER_PATH)
    requester_policy: NotRequired[str]  # the wave's `requester:` (verified | unverified)


class MapItem(TypedDict):
    """One resource a wave's Map iterates over: its id plus the kind's own fields."""

    id: str
    region: NotRequired[str]


# ----------------------------------------------------------------------------- spec encoding
# A wave's resource list travels in a task function's environment, not in the definition, so the
# definition stays the same size for 1 or 500 resources. One encoding for both rooms.


def encode_spec(payload: Mapping[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.b64encode(zlib.compress(raw, 9)).decode()


def decode_spec(encoded: str) -> dict[str, Any]:
    return json.loads(zlib.decompress(base64.b64decode(encoded)))


# ----------------------------------------------------------------------------- function environment
# On AWS each function's environment is its own process environment. The embedded runner calls many
# functions in one process (some concurrently), so it installs the invoked function's environment in
# this context variable for the call; `tasks.common.settings.setting()` looks here first.

FUNCTION_ENVIRONMENT: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "wavectl_function_environment", default=None
)


@contextlib.contextmanager
def function_environment(environment: Mapping[str, str]) -> Iterator[None]:
    """Make `environment` the settings of the code run inside the block (this thread only)."""
    token = FUNCTION_ENVIRONMENT.set(dict(environment))
    try:
        yield
    finally:
        FUNCTION_ENVIRONMENT.reset(token)


# ----------------------------------------------------------------------------- payment bridge (pipeline)
# Columns the bridge appends after CANONICAL_PAYMENT_FIELDS in its output chunks (enrichment): the new
# owner's ledger code (runbook mapping of the old account) and where/when/by what each record came in.
BRIDGE_METADATA_FIELDS: tuple[str, ...] = (
    "ledger_code",
    "source_file",
    "source_location",
    "received_at",
    "bridge_version",
)
# Environment of the inbound (validate/enrich) function.
ENV_BRIDGE_OUTBOUND_BUCKET = "WAVECTL_BRIDGE_OUTBOUND_BUCKET"
ENV_BRIDGE_QUARANTINE_BUCKET = "WAVECTL_BRIDGE_QUARANTINE_BUCKET"
# The pipeline settings as compact JSON of a BridgePipelineSpec: wavectl.bridge_model.pipeline_spec(settings)
# writes it (the stack, wavectl bridge), tasks.payments.pipeline.PipelineSettings.from_json reads it.
ENV_BRIDGE_PIPELINE_SPEC = "WAVECTL_BRIDGE_PIPELINE_SPEC"


class BridgePipelineSpec(TypedDict):
    """What the payment pipeline takes from the runbook's `payment_bridge:` section."""

    input_formats: list[str]  # of csv, jsonl, pain.001.001.03, pain.001.001.09
    output_format: str  # csv | jsonl
    chunk_size: int  # records per output file, at most
    accounts: dict[str, str]  # old account id (or debtor IBAN) -> new ledger code
    statuses: dict[str, str]  # old status code -> new status code


# Every processed input gets one batch manifest in outbound, written last: <batch>/BRIDGE_MANIFEST_NAME.
BRIDGE_MANIFEST_NAME = "manifest.json"

# ------------------------------------------------------------------------- payment bridge (infrastructure)
# Names of what the bridge stack creates, derived from the program name so the dual-run wave, the
# tool and the embedded AWS find them without lookups: <program>-payment-bridge-<what>.
BRIDGE_INBOUND_RULE = "inbound"  # the on/off switch: events:EnableRule / events:DisableRule on this rule
BRIDGE_OUTBOUND_RULE = "outbound"  # outbound batch manifest written -> transfer function
BRIDGE_TRANSFER_RESULT_RULE = "transfer-result"  # SFTP Connector File Send Completed/Failed -> transfer
BRIDGE_ACKS_RULE = "acknowledgements"  # listing or acknowledgement object arrived -> acks function
BRIDGE_ACK_POLL_RULE = "ack-poll"  # schedule: list the new owner's acknowledgement directory
BRIDGE_ACK_POLL_MINUTES = 5
BRIDGE_INGEST_TASK = "payment-bridge-ingest"
BRIDGE_TRANSFER_TASK = "payment-bridge-transfer"
BRIDGE_ACKS_TASK = "payment-bridge-acks"


def bridge_resource_name(program: str, what: str) -> str:
    """`acme-to-globex-payment-bridge-inbound`: rules, table and roles of the program's bridge."""
    return f"{program}-payment-bridge-{what}"


# Acknowledgement bucket layout: connector listings, retrieved acknowledgement files, their index.
BRIDGE_ACK_LISTINGS_PREFIX = "listings/"
BRIDGE_ACK_RECEIVED_PREFIX = "received/"
BRIDGE_ACK_INDEX_PREFIX = "index/"
# Environment of the transfer and acknowledgement functions.
ENV_BRIDGE_TABLE = "WAVECTL_BRIDGE_TABLE"  # deliveries and acknowledgements (pk, sk)
ENV_BRIDGE_CONNECTOR_ID = "WAVECTL_BRIDGE_CONNECTOR_ID"
ENV_BRIDGE_REMOTE_OUTBOUND = "WAVECTL_BRIDGE_REMOTE_OUTBOUND"
ENV_BRIDGE_REMOTE_ACKNOWLEDGEMENTS = "WAVECTL_BRIDGE_REMOTE_ACKNOWLEDGEMENTS"
ENV_BRIDGE_ACK_BUCKET = "WAVECTL_BRIDGE_ACK_BUCKET"


# ----------------------------------------------------------------------------- decommission
# The wave's decommission section for its task functions, zlib+base64 JSON (tasks.decommission.spec).
ENV_DECOMMISSION_SPEC = "WAVECTL_DECOMMISSION_SPEC"
# `wavectl abort WAVE`: the callback (same identity rules as a rejection) stores one signal record
# {pk: abort#<execution arn>, sk: ABORT_SK} in the approvals table; the cool-off loop reads it.
ABORT_ACTION = "abort"
ABORT_PK_PREFIX = "abort#"
ABORT_SK = "abort"
ABORT_GATE = "decommission"  # the gate whose approvers may abort the cool-off that follows it
# Where a decommission execution's output keeps its counts for status.json:
# output["decommission"]["counts"] = {in_scope, retained, disabled, deleted, left}.
DECOMMISSION_OUTPUT_KEY = "decommission"

# ----------------------------------------------------------------------------- evidence archive
# On every execution end an EventBridge rule invokes the archive function; it writes one bundle per
# execution under ARCHIVE_PREFIX/<wave>/<execution name>/ in the evidence bucket (write-once, Object
# Lock), indexed by EVIDENCE_INDEX. `wavectl evidence` fetches and verifies it.
EVIDENCE_ARCHIVE_TASK = "evidence-archive"
ARCHIVE_PREFIX = "archive"
EVIDENCE_INDEX = "evidence.json"
ENV_EVIDENCE_RETENTION_DAYS = "WAVECTL_EVIDENCE_RETENTION_DAYS"
EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"  # the EventBridge detail-type
ENDED_STATUSES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
APPROVAL_METRICS_TASK = "approval-metrics"  # scheduled: pending approvals and their age, as metrics
METRICS_NAMESPACE = "Wavectl"
ENV_DASHBOARD_WAVES = "WAVECTL_DASHBOARD_WAVES"  # JSON list of the program's wave names

# ----------------------------------------------------------------------------- db-snapshot-copy children
# The per-database workflow every database of a db-snapshot-copy wave runs in (its own execution):
# its state machine name, and the longest timeout of its task functions (compensation waits that long
# after a child execution ended abnormally, so none of its Lambdas can still be creating something).
ENV_DB_CHILD_STATE_MACHINE = "WAVECTL_DB_CHILD_STATE_MACHINE"
ENV_DB_CHILD_TASK_TIMEOUT = "WAVECTL_DB_CHILD_TASK_TIMEOUT"
# The Distributed Map's items and results live in the evidence bucket, not in the wave's state (a
# state carries at most 256 KiB: 500 databases' items are more). Preflight writes the item list to
# waves/<wave>/<execution>/<DB_ITEMS_FILE>, the Map reads it (ItemReader), its ResultWriter writes
# under waves/<wave>/<DB_MAP_RESULTS_PREFIX>/, and the summary task writes <DB_COPIES_FILE>.
DB_ITEMS_FILE = "databases.json"
DB_COPIES_FILE = "copies.json"
DB_MAP_RESULTS_PREFIX = "map-results"


# ----------------------------------------------------------------------------- warm functions
# A Lambda container keeps module state (cached sessions) between invocations while it is warm. The
# embedded runner keeps every function in one process across embedded clouds: a new cloud (new
# accounts, new credentials) is a cold start of every function, and state kept while warm is keyed
# by this generation so none of it outlives the cloud it was made in.
_generation = [0]


def cold_start_all() -> None:
    _generation[0] += 1


def warm_generation() -> int:
    return _generation[0]


# ----------------------------------------------------------------------------- payment-dual-run
# The wave's payments section and the program's bridge names, zlib+base64 JSON (tasks.payment_dual_run.spec).
ENV_DUAL_RUN_SPEC = "WAVECTL_DUAL_RUN_SPEC"
PRIMARY_OLD, PRIMARY_NEW = "old", "new"  # the values of the primary flag (SSM parameter)
# Where a dual-run execution's output keeps its cycles for status.json: output["dual_run"]["cycles"].
DUAL_RUN_OUTPUT_KEY = "dual_run"
# A cycle's wait for its two files (the callback the S3 events resume), in the approvals table:
# filewait#<execution arn> / cycle#<nn> holds the task token and which files arrived; one index record
# per awaited object, file#s3://<bucket>/<key> / wait#<execution arn>#<nn>, finds it from an S3 event.
FILE_WAIT_PK_PREFIX = "filewait#"
FILE_WAIT_SK_PREFIX = "cycle#"
FILE_INDEX_PK_PREFIX = "file#"
FILE_INDEX_SK_PREFIX = "wait#"
DUAL_RUN_ARRIVAL_TASK = "dual-run-arrival"  # the function the S3 events of a day's files invoke
# The dual run's partitioned path: the wave's work bucket (hash partitions and their outputs, expired
# after a few days) and the Distributed Map's item: {index, prefix, execution}.
ENV_DUAL_RUN_WORK_BUCKET = "WAVECTL_DUAL_RUN_WORK_BUCKET"
DUAL_RUN_WORK_BUCKET_SUFFIX = "work"  # <program>-<wave>-work
