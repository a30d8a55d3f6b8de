"""The acceptance gate's summary of a db-snapshot-copy wave stays readable (and within Slack's 50 blocks)
whatever the number of databases: those not verified first, the rest counted and found in evidence."""

from __future__ import annotations

from tasks.approvals.readable import summary_blocks
from tasks.db_snapshot_copy.evidence import MAX_LISTED, acceptance_text

KEY = "waves/orders-db/run-1/copies.json"


def copy(number: int, status: str = "verified") -> dict:
    name = f"db-{number:03d}"
    return {"database": name, "status": status, "summary": f"{name} (instance, eu-west-1): 7/7 checks passed"}


def test_a_500_database_summary_lists_the_unverified_first_and_counts_the_rest():
    # Given 500 databases, of which 250 and 499 were not verified
    copies = [copy(n, "not verified" if n in (250, 499) else "verified") for n in range(1, 501)]

    # When the gate's summary is written and turned into Block Kit
    text = acceptance_text(copies, KEY)
    blocks = summary_blocks(text)

    # Then it names all 500, lists the two not verified first, then verified ones up to the limit,
    # says how many more there are and where they are, and fits one Slack message
    assert text.startswith("500 database(s) restored into the target and verified")
    listed = [b["text"]["text"] for b in blocks[1:-1]]
    assert len(listed) == MAX_LISTED and listed[0].startswith("• db-250") and listed[1].startswith("• db-499")
    assert f"{500 - MAX_LISTED} more database(s), all verified, are in the evidence record {KEY}." in text
    assert len(blocks) <= 50


def test_unverified_databases_beyond_the_listed_ones_are_counted_as_not_verified():
    # Given 45 databases none of which was verified
    text = acceptance_text([copy(n, "not verified") for n in range(1, 46)], KEY)
    # Then the closing sentence does not call the five unlisted ones verified
    assert "5 more database(s), 5 of them not verified, are in the evidence record" in text


def test_a_small_wave_lists_every_database_in_runbook_order():
    # Given two verified databases
    text = acceptance_text([copy(1), copy(2)], KEY)
    # Then both are listed, in order, and nothing is said to be elsewhere
    assert [b["text"]["text"][:8] for b in summary_blocks(text)[1:3]] == ["• db-001", "• db-002"]
    assert "more database(s)" not in text
