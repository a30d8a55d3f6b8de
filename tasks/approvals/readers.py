"""What readers of the approvals table may see: every attribute but the task token.

The task token resumes a wave, so it stays with the functions that send task results. Operators'
reads (`wavectl approvals`, status, the local demo) name the attributes they fetch
(`ProjectionExpression`), and the `by-status` index projects only `STATUS_INDEX_ATTRIBUTES`, so a
query of the index cannot return the token either. No imports: the CDK app and wavectl use it too.
"""

from __future__ import annotations

from typing import Any

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
    "channel",
    "message_ts",
    "decided_at",
    "decided_via",
    "approvers",
    "rejected_by",
    "reason",
    "evidence_key",
    "evidence_error",
    "reminded_at",
    "escalated_at",
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
)

# What `wavectl approvals` reads from the index.
PENDING_ATTRIBUTES: tuple[str, ...] = ("pk", "sk", "status", "expires_at", *STATUS_INDEX_ATTRIBUTES)


def projection(attributes: tuple[str, ...]) -> dict[str, Any]:
    """ProjectionExpression + ExpressionAttributeNames for `attributes` (all aliased: many are
    DynamoDB reserved words, e.g. status, reason, kind)."""
    assert TOKEN_ATTRIBUTE not in attributes
    names = {f"#p{i}": name for i, name in enumerate(attributes)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
