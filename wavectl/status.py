"""Wave status: the `status.json` contract, read from Step Functions and the approvals table.

The contract (later versions add keys, never remove or rename them):

    {"program": "...", "generated_at": "ISO-8601",
     "waves": [{"wave", "kind", "version", "status", "execution_arn", "started_at", "stopped_at",
                "current_state", "approvals": [{"gate", "decision", "approvers", "decided_at", ...}],
                "error": null | {"name", "message", "cause"},
                "state_machine_version_arn", "definition_sha256", "pending_gates",
                # since the status review (issue 13):
                "version_live", "version_running", "dry_run", "requester", "ticket",
                "duration_s", "elapsed_s", "pending_approval", "dependencies", "unlocks_dependents",
                "outcome", "counts",
                "executions": [{"name", "execution_arn", "status", "dry_run", "version", "requester",
                                "ticket", "started_at", "stopped_at", "duration_s", "current_state",
                                "pending_gates", "error", "approvals", "evidence",
                                "steps": [{"state", "type", "entered_at", "exited_at", "duration_s",
                                           "outcome"}]}]}],
     "people": {"U01ALICE": "alice", ...}}

A wave's row shows the execution people must look at: one still running if there is one (a stray
failure never hides it), else the latest. `executions` lists every execution, newest first, dry runs
marked. `unlocks_dependents` is the dependency rule's verdict (`tasks.frame.dependencies`): whether
the waves after this one may start. `requester` is a person's runbook name where the runbook knows them
(`alice`), with the Slack id in `requester_slack`; approvals keep Slack ids in `approvers` and add
`approver_names` and each vote's time and reason in `votes`.

`outcome` is the one-line summary a wave's workflow leaves in its output (`$.outcome.summary`, e.g.
a DNS cutover's weights reached), or null. `counts` is a decommission's resources by fate
(`in_scope`, `retained`, `disabled`, `deleted`, `left`), or null; its outcome line spells them out.

`version` is the runbook version of the state machine version the execution ran (read from the
version's description `<wave> v<N> sha256:<digest>`), so an execution started before a change
keeps showing the version it ran.
"""

from __future__ import annotations

import importlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import boto3

from tasks.contracts import DECOMMISSION_OUTPUT_KEY, DUAL_RUN_OUTPUT_KEY, LIVE_ALIAS
from tasks.frame import dependencies
from wavectl.local.history import execution_error, history_events, position
from wavectl.runbook import Runbook, Wave

_VERSION_DESCRIPTION = re.compile(r"\bv(?P<version>\d+)\s+sha256:(?P<digest>[0-9a-f]{64})")
MAX_EXECUTIONS = 50  # per wave in the review (newest first); the evidence archive keeps them all
UNKNOWN_REQUESTER = "unknown"

__all__ = [
    "build_status",
    "execution_detail",
    "print_status",
    "shown_status",
    "status_html",
    "status_json",
    "wave_history",
]


def iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return str(value)


def _seconds(start: Any, stop: Any) -> float | None:
    if not isinstance(start, datetime):
        return None
    end = stop if isinstance(stop, datetime) else datetime.now(UTC)
    return round((end - start).total_seconds(), 1)


class People:
    """Runbook names of Slack ids and of approvers' IAM identities, from the program's approver groups."""

    def __init__(self, runbook: Runbook) -> None:
        self.by_slack: dict[str, str] = {}
        self._slack_of: dict[str, str] = {}  # Slack id, runbook name or IAM ARN -> Slack id
        for members in runbook.program.approvers.values():
            for member in members:
                self.by_slack.setdefault(member.slack, member.name or member.slack)
                for identity in (member.slack, member.name, *member.iam):
                    if identity:
                        self._slack_of.setdefault(identity, member.slack)

    def slack(self, who: str | None) -> str | None:
        """The Slack id of the runbook person `who` is (a Slack id, a name, or one of their IAM ARNs)."""
        return self._slack_of.get(who) if who else None

    def name(self, who: str | None) -> str | None:
        if not who:
            return None
        if (slack := self.slack(who)) is not None:
            return self.by_slack[slack]
        if who.startswith("arn:") and "/" in who:  # another assumed-role ARN: its session name
            who = who.rsplit("/", 1)[-1]
        return self.by_slack.get(who, who)


class Reader:
    """Reads one program's executions, versions and approvals through a boto3 session."""

    def __init__(self, session: boto3.Session, runbook: Runbook, approvals_table: str | None = None) -> None:
        self.session = session
        self.runbook = runbook
        self.sfn = session.client("stepfunctions")
        self.table = approvals_table or runbook.approvals_table_name()
        self.people = People(runbook)
        self._versions: dict[str, dict[str, Any]] = {}
        self.verdicts: dict[str, dict[str, Any]] = {}  # the dependency rule's verdict per wave read

    def arn(self, wave: str) -> str:
        return self.runbook.state_machine_arn(wave, self.session.region_name)

    def executions(self, wave: str) -> list[dict[str, Any]]:
        return list(dependencies.executions_newest_first(self.sfn, self.arn(wave)))

    def version(self, version_arn: str | None) -> dict[str, Any]:
        """{"version": "vN", "definition_sha256", "state_machine_version_arn"} of a version ARN."""
        if not version_arn:
            return {}
        if version_arn not in self._versions:
            text = self.sfn.describe_state_machine(stateMachineArn=version_arn).get("description", "")
            match = _VERSION_DESCRIPTION.search(text or "")
            found: dict[str, Any] = {"state_machine_version_arn": version_arn}
            if match:
                found.update(version=f"v{match['version']}", definition_sha256=match["digest"])
            self._versions[version_arn] = found
        return self._versions[version_arn]

    def live_version(self, wave: str) -> str | None:
        try:
            alias = self.sfn.describe_state_machine_alias(
                stateMachineAliasArn=f"{self.arn(wave)}:{LIVE_ALIAS}"
            )
        except self.sfn.exceptions.ResourceNotFound:
            return None
        except self.sfn.exceptions.ClientError as exc:  # not deployed, or an older embedded AWS
            if "NotFound" in str(exc) or "DoesNotExist" in str(exc):
                return None
            raise
        routes = alias.get("routingConfiguration") or []
        best = max(routes, key=lambda r: r.get("weight", 0), default=None)
        return self.version(best["stateMachineVersionArn"]).get("version") if best else None

    def approvals(self, execution_arn: str) -> list[dict[str, Any]]:
        return [self._named(a) for a in approvals_for(self.session, self.table, execution_arn)]

    def _named(self, approval: dict[str, Any]) -> dict[str, Any]:
        names = self.people.name
        approval = dict(approval)
        approval["approver_names"] = [names(a) for a in approval.get("approvers") or []]
        if approval.get("rejected_by"):
            approval["rejected_by_name"] = names(approval["rejected_by"])
        approval["votes"] = [{**v, "name": names(v.get("user"))} for v in approval.get("votes") or []]
        if approval.get("requester"):
            approval["requester_name"] = names(approval["requester"])
        return approval


def build_status(
    session: boto3.Session,
    runbook: Runbook,
    *,
    approvals_table: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The `status.json` document for every wave, in dependency order, read through `session`."""
    reader = Reader(session, runbook, approvals_table)
    waves = [wave_status(reader, wave) for wave in runbook.ordered_waves()]
    document = {
        "program": runbook.program.program,
        "generated_at": iso(datetime.now(UTC)),
        "waves": waves,
        "people": dict(sorted(reader.people.by_slack.items())),
    }
    document.update(extra or {})
    return document


def wave_status(reader: Reader, wave: Wave) -> dict[str, Any]:
    entry = _not_started(wave)
    listed = reader.executions(wave.wave)[:MAX_EXECUTIONS]
    executions = [execution_summary(reader, wave, item) for item in listed]
    entry["version_live"] = reader.live_version(wave.wave) or entry["version"]
    entry["executions"] = executions
    verdict = dependencies.judge(wave.wave, (_facts(e) for e in executions))
    entry["unlocks_dependents"] = reader.verdicts[wave.wave] = {"met": verdict.met, "reason": verdict.reason}
    entry["dependencies"] = [_dependency(reader, dep) for dep in wave.depends_on]
    if not executions:
        return entry
    shown = next((e for e in executions if e["status"] == "RUNNING"), executions[0])
    for key in ("status", "execution_arn", "started_at", "stopped_at", "current_state", "pending_gates"):
        entry[key] = shown[key]
    for key in (
        "approvals",
        "error",
        "dry_run",
        "requester",
        "requester_slack",
        "ticket",
        "duration_s",
        "outcome",
        "counts",
        "cycles",
    ):
        entry[key] = shown[key]
    entry["elapsed_s"] = shown["duration_s"] if shown["status"] == "RUNNING" else None
    entry["execution_name"] = shown["name"]
    entry.update({k: shown[k] for k in ("state_machine_version_arn", "definition_sha256") if shown.get(k)})
    entry["version"] = shown.get("version") or entry["version"]
    running = next((e for e in executions if e["status"] == "RUNNING"), None)
    entry["version_running"] = (running.get("version") or entry["version"]) if running else None
    entry["pending_approval"] = next((a for a in shown["approvals"] if a.get("decision") == "pending"), None)
    return entry


def _dependency(reader: Reader, dep: str) -> dict[str, Any]:
    """A dependency's verdict: the one already read for the program, else read now."""
    if dep not in reader.verdicts:
        verdict = dependencies.check(reader.sfn, dep, reader.arn(dep))
        reader.verdicts[dep] = {"met": verdict.met, "reason": verdict.reason}
    return {"wave": dep, **reader.verdicts[dep]}


def _facts(summary: dict[str, Any]) -> dependencies.ExecutionFacts:
    return dependencies.ExecutionFacts(
        name=summary["name"],
        status=summary["status"],
        started=datetime.fromisoformat(summary["started_at"].replace("Z", "+00:00")),
        dry_run=summary["dry_run"],
        passed_gate=summary["passed_gate"],
    )


def execution_summary(reader: Reader, wave: Wave, listed: dict[str, Any]) -> dict[str, Any]:
    """One execution: state, version, who and why, approvals, error, times."""
    arn = listed["executionArn"]
    description = reader.sfn.describe_execution(executionArn=arn)
    events = history_events(reader.sfn, arn)
    status = description["status"]
    where = position(events) if status == "RUNNING" else None
    error = execution_error(description, events) if status != "SUCCEEDED" else None
    given = _input(description)
    approvals = reader.approvals(arn)
    requester = _requester(given, approvals)
    summary: dict[str, Any] = {
        "name": description.get("name") or arn.rsplit(":", 1)[-1],
        "execution_arn": arn,
        "status": status,
        "dry_run": given.get("dry_run") is True,
        "version": None,
        "requester": reader.people.name(requester) or UNKNOWN_REQUESTER,
        "requester_slack": reader.people.slack(requester),
        "ticket": given.get("change_ticket"),
        "started_at": iso(description.get("startDate")),
        "stopped_at": iso(description.get("stopDate")),
        "duration_s": _seconds(description.get("startDate"), description.get("stopDate")),
        "current_state": where.current_state if where else None,
        "pending_gates": list(where.pending_gates) if where else [],
        "error": error.as_dict() if error else None,
        "approvals": approvals,
        "passed_gate": dependencies.passed_a_gate(events),
        "steps": steps(events),
        "evidence": evidence_keys(reader.runbook, wave.wave, description.get("name") or ""),
        "outcome": _outcome(description),
        "counts": _counts(description),
        "cycles": _cycles(description),
    }
    summary.update(reader.version(description.get("stateMachineVersionArn")))
    return summary


def _output(description: dict[str, Any]) -> dict[str, Any]:
    try:
        output = json.loads(description.get("output") or "{}")
    except ValueError:
        return {}
    return output if isinstance(output, dict) else {}


def _outcome(description: dict[str, Any]) -> str | None:
    """The one-line summary a wave's workflow leaves in its output (`$.outcome.summary`), or None.

    A decommission says what it did with its resources (its counts) when it leaves no summary."""
    outcome = _output(description).get("outcome")
    if isinstance(outcome, dict) and outcome.get("summary"):
        return str(outcome["summary"])
    counts = _counts(description)
    return " · ".join(f"{name.replace('_', ' ')} {n}" for name, n in counts.items()) if counts else None


def _counts(description: dict[str, Any]) -> dict[str, int] | None:
    """A decommission's resource counts: in scope, retained, disabled, deleted, left."""
    section = _output(description).get(DECOMMISSION_OUTPUT_KEY)
    counts = section.get("counts") if isinstance(section, dict) else None
    return {str(k): int(v) for k, v in counts.items()} if isinstance(counts, dict) else None


def _cycles(description: dict[str, Any]) -> list[Any] | None:
    """A payment dual run's cycles: each business day, clean or accepted (with the gate's approvers)."""
    outcome = _output(description).get("outcome")
    section = outcome.get(DUAL_RUN_OUTPUT_KEY) if isinstance(outcome, dict) else None
    cycles = section.get("cycles") if isinstance(section, dict) else None
    return cycles if isinstance(cycles, list) else None


def _input(description: dict[str, Any]) -> dict[str, Any]:
    try:
        parsed = json.loads(description.get("input") or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _requester(given: dict[str, Any], approvals: list[dict[str, Any]]) -> str | None:
    """Who started it: what the approvals function established (CloudTrail or input), else the input."""
    for approval in approvals:
        if approval.get("requester"):
            return str(approval["requester"])
    value = given.get("requested_by")
    return str(value) if value else None


def evidence_keys(runbook: Runbook, wave: str, execution_name: str) -> dict[str, str]:
    """Where the evidence archive keeps an execution's bundle (see `wavectl evidence`)."""
    prefix = f"archive/{wave}/{execution_name}/"
    return {"prefix": prefix, "index": prefix + "evidence.json"}


def _not_started(wave: Wave) -> dict[str, Any]:
    return {
        "wave": wave.wave,
        "kind": wave.kind,
        "version": f"v{wave.version}",
        "status": "NOT_STARTED",
        "execution_arn": None,
        "execution_name": None,
        "started_at": None,
        "stopped_at": None,
        "current_state": None,
        "approvals": [],
        "error": None,
        "state_machine_version_arn": None,
        "definition_sha256": None,
        "pending_gates": [],
        "version_live": None,
        "version_running": None,
        "dry_run": False,
        "requester": None,
        "requester_slack": None,
        "ticket": None,
        "duration_s": None,
        "elapsed_s": None,
        "pending_approval": None,
        "depends_on": list(wave.depends_on),
        "executions": [],
        "outcome": None,
        "counts": None,
        "cycles": None,
    }


def approvals_for(session: boto3.Session, table: str, execution_arn: str) -> list[dict[str, Any]]:
    """The execution's gate decisions from `wavectl.approvals` (empty until that module exists)."""
    try:
        approvals = importlib.import_module("wavectl.approvals")
    except ModuleNotFoundError as exc:
        if exc.name != "wavectl.approvals":
            raise
        return []
    decisions = getattr(approvals, "decisions_for_execution", None)
    return list(decisions(session, table, execution_arn)) if decisions else []


# ----------------------------------------------------------------------------- one wave, one execution


def wave_history(session: boto3.Session, runbook: Runbook, wave: str) -> dict[str, Any]:
    """`wavectl status WAVE`: the wave's row and every execution, newest first."""
    reader = Reader(session, runbook)
    document = wave_status(reader, runbook.wave(wave))
    document["people"] = dict(sorted(reader.people.by_slack.items()))
    return document


def execution_detail(session: boto3.Session, runbook: Runbook, wave: str, execution: str) -> dict[str, Any]:
    """`wavectl status WAVE --execution NAME|ARN`: the summary plus each state's times and duration."""
    reader = Reader(session, runbook)
    arn = execution if execution.startswith("arn:") else _execution_arn(reader, wave, execution)
    return execution_summary(reader, runbook.wave(wave), {"executionArn": arn})


def _execution_arn(reader: Reader, wave: str, name: str) -> str:
    base = reader.arn(wave)
    return base.replace(":stateMachine:", ":execution:") + f":{name}"


def steps(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each state entered: name, type, entered/exited times, duration, and how it ended."""
    found: list[dict[str, Any]] = []
    open_steps: dict[str, dict[str, Any]] = {}
    for event in events:
        kind = event.get("type", "")
        if "stateEnteredEventDetails" in event:
            name = event["stateEnteredEventDetails"]["name"]
            step = {"state": name, "type": kind.removesuffix("StateEntered"),
                    "entered_at": event["timestamp"], "exited_at": None, "duration_s": None,
                    "outcome": "running"}  # fmt: skip
            open_steps[name] = step
            found.append(step)
        elif "stateExitedEventDetails" in event:
            step = open_steps.pop(event["stateExitedEventDetails"]["name"], None)
            if step is not None:
                step.update(exited_at=event["timestamp"], outcome="done")
        elif kind.endswith("Failed") or kind.endswith("TimedOut") or kind == "ExecutionAborted":
            for step in open_steps.values():
                step["outcome"] = kind
    for step in found:
        step["duration_s"] = _seconds(step["entered_at"], step["exited_at"])
        step["entered_at"], step["exited_at"] = iso(step["entered_at"]), iso(step["exited_at"])
    return found


# ----------------------------------------------------------------------------- rendering (wavectl.report)


def shown_status(wave: dict[str, Any]) -> str:
    """The status as people should read it: a dry run's success is marked."""
    status = str(wave["status"])
    if wave.get("dry_run") and status != "NOT_STARTED":
        return f"{status} (dry run)"
    return status


def status_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False, default=str) + "\n"


def print_status(document: dict[str, Any], console: Any) -> None:
    from wavectl.report.table import print_program

    print_program(document, console)


def status_html(document: dict[str, Any]) -> str:
    from wavectl.report.html import program_page

    return program_page(document)
