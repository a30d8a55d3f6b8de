"""What reviewers get from an execution on the embedded AWS: the evidence archive (fetched and verified
by `wavectl evidence`), and the status page in headless Chromium at 1400 and 800 px."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wavectl import approvals, cli_approvals
from wavectl.approvals import caller_arn
from wavectl.cli_approvals import _approver_session
from wavectl.evidence import fetch_bundle, verify_folder
from wavectl.local.archive import deliver_execution_end
from wavectl.local.engine import LocalCloud
from wavectl.local.runner import WaveRun, run_wave
from wavectl.status import build_status, status_html

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
REASONS = {"bob": "replication lag under 2 s", "carol": "change ticket CHG-42 checked"}


def _answer_with_reasons(cloud: LocalCloud, stop: threading.Event) -> None:
    """bob and carol approve every gate of orders-db through the CLI path, each with a reason."""
    table = cloud.runbook.approvals_table_name()
    answered: set[str] = set()
    while not stop.wait(0.2):
        for item in approvals.pending(cloud.session, table):
            if item["wave"] != "orders-db" or item["approval_id"] in answered:
                continue
            for who in ("bob", "carol"):
                cli_approvals._decide_locally(
                    cloud.session, cloud.runbook, item["approval_id"], "approve", REASONS[who], who
                )
            answered.add(item["approval_id"])


def _start_as(cloud: LocalCloud, who: str, wave: str, **options) -> WaveRun:
    """`who` runs `wave` as `wavectl start` does: under their own AWS identity (their approver role
    session), naming that identity as `requested_by`; CloudTrail's StartExecution caller is them."""
    person = _approver_session(cloud.session, cloud.runbook, who)
    return run_wave(
        cloud, wave, requested_by=caller_arn(person), starter=person.client("stepfunctions"), **options
    )


@pytest.fixture(scope="module")
def reviewed(example_runbook, cloud_assembly):
    """A dry run of orders-db by bob, then a real run by alice (ticket CHG-42, approved with reasons)."""
    with LocalCloud(example_runbook, cloud_assembly) as cloud:
        dry = _start_as(cloud, "bob", "orders-db", extra_input={"dry_run": True})
        stop = threading.Event()
        answerer = threading.Thread(target=_answer_with_reasons, args=(cloud, stop), daemon=True)
        answerer.start()
        real = _start_as(cloud, "alice", "orders-db", answer_gates=False,
                         extra_input={"change_ticket": "CHG-42"})  # fmt: skip
        stop.set()
        document = build_status(cloud.session, example_runbook)
        yield {"cloud": cloud, "real": real, "dry": dry, "document": document}


def test_evidence_bundle_of_an_execution_verifies_and_is_write_once(reviewed, tmp_path: Path):
    # Given orders-db ran for real (the local runner delivered its end to the archive, as EventBridge does)
    cloud, real = reviewed["cloud"], reviewed["real"]
    assert real.status == "SUCCEEDED", real
    name = real.execution_arn.rsplit(":", 1)[-1]

    # When the bundle is fetched as `wavectl evidence orders-db --execution NAME --out DIR` does
    fetched = fetch_bundle(cloud.session, cloud.runbook, "orders-db", name, tmp_path / "bundle")

    # Then it holds the history, the definition (version ARN + digest), the input and the approvals,
    # and every file matches its sha256 in evidence.json
    folder = fetched.folder
    files = {item["path"] for item in fetched.index["files"]}
    assert {"history.json", "definition.json", "input.json", "approvals.json"} <= files
    assert any(path.startswith("tasks/waves/orders-db/") for path in files), files
    assert fetched.ok and verify_folder(folder) == []
    definition = json.loads((folder / "definition.json").read_text())
    assert definition["version_arn"].endswith(":acme-to-globex-orders-db:1")
    assert fetched.index["definition"]["definition_sha256"] == definition["definition_sha256"]
    assert json.loads((folder / "input.json").read_text())["change_ticket"] == "CHG-42"
    decided = json.loads((folder / "approvals.json").read_text())
    assert [a["gate"] for a in decided] == ["start-copy", "accept-restored-databases"]
    assert all(a["status"] == "approved" and "task_token" not in a for a in decided)
    history = json.loads((folder / "history.json").read_text())
    assert history[0]["type"] == "ExecutionStarted" and history[-1]["type"] == "ExecutionSucceeded"
    summary = (folder / "summary.md").read_text()
    assert "Outcome: **SUCCEEDED**" in summary and "start-copy | approved" in summary

    # And a tampered file no longer verifies
    (folder / "input.json").write_text('{"change_ticket": "CHG-1"}')
    assert verify_folder(folder) == ["input.json"]

    # And a second delivery of the same end changes nothing (write-once), under Object Lock
    again = deliver_execution_end(cloud.session, cloud.runbook, real.execution_arn)
    s3 = cloud.session.client("s3")
    bucket = cloud.runbook.evidence_bucket_name()
    lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "GOVERNANCE"
    assert lock["Rule"]["DefaultRetention"]["Days"] == 7 * 365
    index_key = f"archive/orders-db/{name}/evidence.json"
    versions = s3.list_object_versions(Bucket=bucket, Prefix=index_key)["Versions"]
    assert (again["archived"], again["files"]) == (False, len(fetched.index["files"]))
    assert len(versions) == 1
    head = s3.head_object(Bucket=bucket, Key=index_key)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"].year >= datetime.now(UTC).year + 6


def test_status_document_marks_dry_runs_names_people_and_keeps_reasons(reviewed):
    wave = reviewed["document"]["waves"][0]
    assert wave["wave"] == "orders-db"
    assert [e["dry_run"] for e in wave["executions"]] == [False, True]  # newest first
    real = wave["executions"][0]
    assert (real["requester"], real["requester_slack"], real["ticket"]) == ("alice", "U01ALICE", "CHG-42")
    votes = {v["name"]: v["reason"] for a in real["approvals"] for v in a["votes"]}
    assert votes == {"bob": REASONS["bob"], "carol": REASONS["carol"]}
    assert wave["unlocks_dependents"]["met"] is True
    assert reviewed["dry"].status == "SUCCEEDED"
    assert real["duration_s"] > 0 and real["steps"][0]["state"] == "Check request"


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (make browser-deps)")
@pytest.mark.parametrize("width", [1400, 800])
def test_status_html_in_headless_chromium(reviewed, tmp_path: Path, width: int):
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    from tests.workflows.test_slack_page_browser import CHROMIUM_ARGS

    # Given the status page of the program written to a file
    page_file = tmp_path / "status.html"
    page_file.write_text(status_html(reviewed["document"]))

    # When headless Chromium opens it at the given width and takes a screenshot
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            tab = browser.new_page(viewport={"width": width, "height": 900})
            tab.goto(page_file.as_uri())
            shot = tmp_path / f"status-{width}.png"
            tab.screenshot(path=str(shot), full_page=True)
            text = tab.inner_text("body")
            svgs = tab.locator("svg").count()
            overflow = tab.evaluate("document.documentElement.scrollWidth")
        finally:
            browser.close()

    # Then every wave, the dry-run marker, the approvers by name and a reason are visible, each
    # execution has its timeline, and nothing is wider than the window
    for wave in ("orders-db", "api-dns", "payments-dual-run", "decommission-acme"):
        assert wave in text
    assert "SUCCEEDED (dry run)" in text
    assert "bob" in text and "carol" in text and "alice" in text
    assert REASONS["bob"] in text
    assert "U01ALICE" not in text  # Slack ids only on hover
    assert svgs == 2
    assert overflow <= width
    assert shot.stat().st_size > 10_000


def _texts(value) -> list[str]:
    """Every text a person reads in a message: its fallback text and every string in its blocks."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [
            t for key, item in value.items() if key not in ("action_id", "block_id") for t in _texts(item)
        ]
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    return []


def _what(message: dict) -> str | None:
    return ((message.get("metadata") or {}).get("event_payload") or {}).get("what")


def thread_of_execution(messages: list[dict], execution: str) -> tuple[dict, list[dict]]:
    """(root, replies) of an execution's messages, asserting they form one thread."""
    mine = [
        m
        for m in messages
        if (m.get("metadata") or {}).get("event_payload", {}).get("execution") == execution
    ]
    roots = [m for m in mine if not m.get("thread_ts")]
    assert len(roots) == 1, [(_what(m), m.get("thread_ts")) for m in mine]
    replies = [m for m in mine if m is not roots[0]]
    assert all(m["thread_ts"] == roots[0]["ts"] for m in replies), [
        (_what(m), m["thread_ts"]) for m in replies
    ]
    return roots[0], replies


def test_slack_transcript_has_one_thread_per_execution_and_no_json_dump(reviewed):
    # Given the local Slack after a dry run and a real run of orders-db
    messages = reviewed["cloud"].slack.messages()

    # When each execution's messages are grouped by the execution their metadata names
    real_root, real = thread_of_execution(messages, reviewed["real"].execution_arn)
    dry_root, dry = thread_of_execution(messages, reviewed["dry"].execution_arn)

    # Then each is one thread: "started" roots it; each gate, each main step finished and the end reply in it
    assert [_what(real_root)] + [_what(m) for m in real] == [
        "started", "step Preflight passed", "gate start-copy",
        "step Every database copied, restored and verified", "gate accept-restored-databases",
        "step Intermediate snapshots and the share removed", "end",
    ]  # fmt: skip
    assert [_what(dry_root)] + [_what(m) for m in dry] == ["started", "step Preflight passed", "end"]
    assert all(m.get("reply_broadcast") for m in real if _what(m).startswith("gate "))  # approvers see gates

    # And "started" says who by runbook name (verified), the version and the ticket; the end its outcome
    started = " ".join(_texts(real_root["blocks"]))
    assert "*alice* (<@U01ALICE>), verified by CloudTrail" in started, started
    assert "v1" in started and "state machine version 1" in started and "CHG-42" in started
    assert "real run" in started
    dry_started = " ".join(_texts(dry_root["blocks"]))
    assert "*bob* (<@U02BOB>)" in dry_started and "dry run" in dry_started and "none given" in dry_started
    assert any("ended *SUCCEEDED*" in text for text in _texts(real[-1]["blocks"]))
    assert any("ended *SUCCEEDED*" in text for text in _texts(dry[-1]["blocks"]))

    # And no message body pastes JSON: the acceptance gate's list is one section per database, with the
    # numbers its queries compared (tests/unit/test_readable_summary.py: a query not run is flagged)
    bodies = [text for m in messages for text in _texts({"text": m.get("text"), "blocks": m.get("blocks")})]
    assert not [text for text in bodies if '["' in text]
    [accept] = [m for m in real if _what(m) == "gate accept-restored-databases"]
    databases = [t for t in _texts(accept["blocks"]) if t.startswith("• ")]
    assert databases and all("queries matched" in t for t in databases), databases
    assert any("order count: source at snapshot" in t for t in databases), databases
