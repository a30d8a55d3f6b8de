"""Gate summaries as an approver reads them: no JSON dump, and a query that could not run flagged as not
verified with its reason, never counted as matched."""

from __future__ import annotations

import json

from tasks.approvals.readable import summary_blocks

UNVERIFIED = (
    "ledger (instance, eu-central-1): 9/9 checks passed, 1/2 queries matched, 1 not verified "
    "(journal entries: not verified: no Data API on this engine; order count: source at snapshot 7 = "
    "target 7), key arn:aws:kms:eu-central-1:333333333333:key/k"
)
VERIFIED = "orders (cluster, eu-central-1): 9/9 checks passed, 1/1 queries matched (order count: source at "
VERIFIED += "snapshot 7 = target 7), key arn:aws:kms:eu-central-1:333333333333:key/k"


def texts(blocks: list[dict]) -> list[str]:
    return [block["text"]["text"] for block in blocks]


def test_summary_list_becomes_one_section_per_database_with_unverified_queries_flagged():
    # Given the acceptance summary a workflow builds with States.JsonToString over one line per database
    summary = f"Restored and verified: {json.dumps([UNVERIFIED, VERIFIED])}. Approve to keep them."

    # When it is turned into Block Kit
    ledger, orders = texts(summary_blocks(summary))[1:3]

    # Then no section pastes JSON; the unverified query is flagged with its reason on a line of its own,
    # and the matched one keeps its numbers
    assert not [t for t in texts(summary_blocks(summary)) if '["' in t]
    assert ledger.startswith("• ledger (instance, eu-central-1): 9/9 checks passed, 1/2 queries matched, ")
    assert "1 not verified (order count: source at snapshot 7 = target 7)" in ledger
    assert ledger.endswith(":warning: *not verified*: journal entries (no Data API on this engine)")
    assert orders == f"• {VERIFIED}"


def test_a_check_that_did_not_run_is_not_counted_as_matched():
    # Given a summary in the "(<check> not run: <reason>)" form
    blocks = summary_blocks("orders: 0/1 queries matched (order count not run: no secret for the cluster)")

    # Then the count leaves it out, and it is flagged as not verified with its reason
    [text] = texts(blocks)
    assert text.startswith("orders: 0/0 queries matched, 1 not verified")
    assert ":warning: *not verified*: order count (no secret for the cluster)" in text
