"""`wavectl evidence`: fetch an execution's archived evidence bundle, verify every digest of its index,
and write a summary a person can read (`summary.md`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from tasks.contracts import ARCHIVE_PREFIX, EVIDENCE_INDEX
from wavectl.runbook import Runbook


class NoBundle(LookupError):
    """The execution has no archived bundle (it has not ended, or the archive has not run yet)."""


@dataclass
class Fetched:
    folder: Path
    index: dict[str, Any]
    verified: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatched


def latest_ended_execution(session: boto3.Session, runbook: Runbook, wave: str) -> str:
    sfn = session.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=runbook.state_machine_arn(wave, session.region_name))
    ended = [e for e in executions["executions"] if e["status"] != "RUNNING"]
    if not ended:
        raise NoBundle(f"wave '{wave}' has no ended execution yet")
    return max(ended, key=lambda e: e["startDate"])["name"]


def fetch_bundle(session: boto3.Session, runbook: Runbook, wave: str, execution: str, out: Path) -> Fetched:
    """Download the bundle of `wave`/`execution` into `out` and check each file against the index."""
    s3 = session.client("s3")
    bucket = runbook.evidence_bucket_name()
    prefix = f"{ARCHIVE_PREFIX}/{wave}/{execution}/"
    try:
        raw_index = s3.get_object(Bucket=bucket, Key=prefix + EVIDENCE_INDEX)["Body"].read()
    except s3.exceptions.NoSuchKey:
        raise NoBundle(f"no evidence archived for {wave} {execution} (s3://{bucket}/{prefix})") from None
    out.mkdir(parents=True, exist_ok=True)
    (out / EVIDENCE_INDEX).write_bytes(raw_index)
    fetched = Fetched(folder=out, index=json.loads(raw_index))
    for item in fetched.index["files"]:
        data = s3.get_object(Bucket=bucket, Key=prefix + item["path"])["Body"].read()
        target = out / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        digest_ok = hashlib.sha256(data).hexdigest() == item["sha256"]
        (fetched.verified if digest_ok else fetched.mismatched).append(item["path"])
    (out / "summary.md").write_text(summary_markdown(fetched))
    return fetched


def verify_folder(folder: Path) -> list[str]:
    """The files of a fetched bundle whose sha256 no longer matches the index (empty: all verify)."""
    index = json.loads((folder / EVIDENCE_INDEX).read_text())
    return [
        item["path"]
        for item in index["files"]
        if not (folder / item["path"]).is_file()
        or hashlib.sha256((folder / item["path"]).read_bytes()).hexdigest() != item["sha256"]
    ]


def summary_markdown(fetched: Fetched) -> str:
    index = fetched.index
    definition = index.get("definition") or {}
    given = _read_json(fetched.folder / "input.json")
    lines = [
        f"# Evidence: {index['wave']} — {index['execution_name']}",
        "",
        f"- Program: {index['program']}",
        f"- Outcome: **{index['status']}**",
        f"- Started: {index.get('started_at')}  ·  stopped: {index.get('stopped_at')}",
        f"- Execution: `{index['execution_arn']}`",
        f"- Definition that ran: `{definition.get('version_arn') or 'the unversioned state machine'}`",
        f"  ({definition.get('description') or 'no description'})",
        f"- Definition sha256 (as stored): `{definition.get('definition_sha256')}`",
        f"- Input: `{json.dumps(given, sort_keys=True)}`",
        f"- History: {index.get('history_events')} events",
        f"- Kept until: {index.get('retain_until')} (Object Lock, write-once)",
        "",
        "## Approvals",
        "",
    ]
    approvals = index.get("approvals") or []
    if approvals:
        lines += ["| gate | decision | by | reason |", "|---|---|---|---|"]
        for item in approvals:
            who = item.get("rejected_by") or ", ".join(item.get("approvers") or []) or "-"
            lines.append(
                f"| {item.get('gate')} | {item.get('status')} | {who} | {item.get('reason') or ''} |"
            )
    else:
        lines.append("No approval gate was reached.")
    lines += ["", "## Files", "", "| file | bytes | sha256 | verified |", "|---|---|---|---|"]
    for item in index["files"]:
        verified = "yes" if item["path"] in fetched.verified else "**NO**"
        lines.append(f"| {item['path']} | {item['bytes']} | `{item['sha256'][:16]}…` | {verified} |")
    lines += ["", f"{len(fetched.verified)} of {len(index['files'])} file(s) match their sha256 digest.", ""]
    return "\n".join(lines)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
