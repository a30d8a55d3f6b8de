"""The least-privilege comparison: what each task function called against what its role is granted.

Used by tests/workflows/test_least_privilege.py in a plain pytest run, and by the pytest-xdist
controller at the end of `make test` (tests/conftest.py), once every worker has left what its embedded
runs recorded (each worker records only the runs it made).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from tests.stacks.templates import granted_actions
from wavectl.local import calls

HERE = Path(__file__).resolve().parent

# Grants whose call site is AWS itself, not the handler's code: no embedded run can record them.
AWS_ONLY = {
    "logs:CreateLogStream": "the Lambda service writes the function's log stream",
    "logs:PutLogEvents": "the Lambda service writes the function's log events",
    "kms:Decrypt": "S3, DynamoDB and Secrets Manager decrypt with the program key for the caller (SSE-KMS)",
    "kms:GenerateDataKey": "S3 encrypts a PutObject under the program key for the caller (SSE-KMS)",
    "kms:GenerateDataKey*": "DynamoDB encrypts items under the program key for the caller",
    "kms:Encrypt": "DynamoDB encrypts items under the program key for the caller",
    "kms:ReEncrypt*": "DynamoDB re-encrypts items under the program key for the caller",
    "kms:DescribeKey": "DynamoDB checks the table's customer-managed key for the caller",
    "s3:PutObjectRetention": "PutObject with ObjectLockMode and ObjectLockRetainUntilDate (the evidence "
    "archive's bundle, tasks/evidence_archive/archive.py): AWS authorises the retention headers with it",
}


# Grants a function's code needs on a path the embedded AWS does not take, by (function name suffix,
# action): the call site that needs it.
CALL_SITES_NOT_RUN_OFFLINE: dict[tuple[str, str], str] = {
    ("-dual-run-wait-files", "s3:ListBucket"): "tasks/payment_dual_run/files.py object_exists: "
    "HeadObject of a day's file that has not arrived answers 404 only with s3:ListBucket (403 without "
    "it, which fails the wait); moto answers 404 without evaluating IAM, and no call is made",
    ("-dual-run-check", "s3:ListBucket"): "tasks/payment_dual_run/files.py object_exists at the "
    "deadline: the same HeadObject 404 that needs s3:ListBucket on AWS",
    **{
        (fn, "dynamodb:Query"): "tasks/approvals/store.py thread_of: the execution's first posted gate "
        "message, read only when its started message was never posted (Slack down at the start); only "
        "a chaos run loses that message, and only on some seeds' timing, so a run may or may not call it"
        for fn in ("-dual-run-reconcile", "-dual-run-merge", "-approval-request")
    },
    ("-approval-request", "states:DescribeStateMachineForExecution"): "tasks/approvals/request.py "
    "definition_digest: an execution started on the unversioned state machine ARN (the console) has no "
    "version to read the digest from; the embedded engine always records the version it resolved",
}


# Open differences (issue 15): grants never called in the embedded runs that are neither narrowed yet
# nor proven needed. Each is listed as open and does not fail the run; an entry whose grant is gone
# fails it (remove the entry), and one now called is reported for removal. A grant never called that
# is not listed here fails the run.
OPEN_GRANTS: dict[tuple[str, str], str] = {
    **{
        (fn, "cloudtrail:LookupEvents"): "tasks/approvals/request.py requester and reminders.py "
        "fill_in_requester: the fallback lookup when the frame has not resolved the requester (a wave "
        "with `requester: unverified` whose caller CloudTrail had not delivered yet); no flow runs one"
        for fn in ("-approval-reminders", "-approval-request")
    },
    ("-decom-compensate", "s3:GetObject"): "compensation after retention: no flow fails after copies exist",
    ("-decom-compensate", "sts:AssumeRole"): "compensation in the retention account: as above",
    ("-decom-restore", "s3:GetObject"): "not yet traced to a call site",
    ("-decom-retain", "s3:PutObject"): "the retention copies are written through the retention role; "
    "the function's own PutObject grant is not yet traced to a call site",
    **{
        (fn, action): "the bridge's buckets are granted with CDK's grant_read/grant_read_write action "
        "sets: to be narrowed to the exact object actions"
        for fn, actions in {
            "-payment-bridge-acks": (
                "s3:Abort*",
                "s3:GetBucket*",
                "s3:List*",
                "s3:PutObjectLegalHold",
                "s3:PutObjectTagging",
                "s3:PutObjectVersionTagging",
            ),
            "-payment-bridge-ingest": (
                "s3:Abort*",
                "s3:DeleteObject*",
                "s3:GetBucket*",
                "s3:List*",
                "s3:PutObjectLegalHold",
                "s3:PutObjectTagging",
                "s3:PutObjectVersionTagging",
            ),
            "-payment-bridge-transfer": ("s3:GetBucket*", "s3:List*"),
        }.items()
        for action in actions
    },  # fmt: skip
    ("-payment-bridge-acks", "dynamodb:DeleteItem"): "the acknowledgement retry path, not run offline",
    ("-payment-bridge-transfer", "dynamodb:GetItem"): "the transfer retry path, not run offline",
}


def open_grants(name: str) -> set[str]:
    return {action for (suffix, action) in OPEN_GRANTS if name.endswith(suffix)}


def every_flow_in(modules: Iterable[str]) -> bool:
    """The session holds every wave's flow module (happy, rejection, failure and compensation paths):
    only then must every grant have been used."""
    return {path.name for path in HERE.glob("test_*_flow.py")} <= set(modules)


def excused(name: str) -> set[str]:
    offline = {action for (suffix, action) in CALL_SITES_NOT_RUN_OFFLINE if name.endswith(suffix)}
    return set(AWS_ONLY) | offline


def task_functions(assembly: Path) -> list[str]:
    names = []
    for path in sorted(assembly.glob("*.template.json")):
        for resource in json.loads(path.read_text())["Resources"].values():
            if resource["Type"] == "AWS::Lambda::Function":
                names.append(resource["Properties"]["FunctionName"])
    return names


def called_not_granted(recorded: dict[str, dict[str, set[str]]], assembly: Path) -> dict[str, set[str]]:
    """{function: actions it called that its role does not grant}, for every function that ran."""
    missing = {
        name: calls.compare(recorded[name], granted_actions(assembly, name)).called_not_granted
        for name in task_functions(assembly)
        if name in recorded
    }
    return {name: set(actions) for name, actions in missing.items() if actions}


def granted_not_called(recorded: dict[str, dict[str, set[str]]], assembly: Path) -> dict[str, set[str]]:
    """{function: actions its role grants that it never called}, unless AWS itself makes the call
    (AWS_ONLY) or only AWS takes the path (CALL_SITES_NOT_RUN_OFFLINE)."""
    unused = {
        name: calls.compare(
            recorded.get(name, {}), granted_actions(assembly, name), excused(name) | open_grants(name)
        ).granted_not_called
        for name in task_functions(assembly)
    }
    return {name: set(actions) for name, actions in unused.items() if actions}


def open_grants_still_open(
    recorded: dict[str, dict[str, set[str]]], assembly: Path
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """({function: listed open grants still unused}, {function: listed open grants no longer granted}).
    A listed grant that is now called is in neither (report it with `open_grants_now_called`)."""
    still, gone = {}, {}
    for name in task_functions(assembly):
        listed = open_grants(name)
        if not listed:
            continue
        granted = granted_actions(assembly, name)
        unused = calls.compare(recorded.get(name, {}), granted, excused(name))
        still[name] = listed & set(unused.granted_not_called)
        gone[name] = {action for action in listed if action not in granted}
    return {n: a for n, a in still.items() if a}, {n: a for n, a in gone.items() if a}


def open_grants_now_called(recorded: dict[str, dict[str, set[str]]], assembly: Path) -> dict[str, set[str]]:
    """{function: listed open grants that this session's runs did call}: candidates to leave the list."""
    still, gone = open_grants_still_open(recorded, assembly)
    called = {}
    for name in task_functions(assembly):
        rest = open_grants(name) - still.get(name, set()) - gone.get(name, set())
        if rest:
            called[name] = rest
    return called


def save(recorded: dict[str, dict[str, set[str]]], path: Path) -> None:
    path.write_text(
        json.dumps({fn: {a: sorted(o) for a, o in acts.items()} for fn, acts in recorded.items()})
    )


def load_all(folder: Path) -> dict[str, dict[str, set[str]]]:
    """Every worker's recording in `folder`, merged."""
    merged: dict[str, dict[str, set[str]]] = {}
    for path in sorted(folder.glob("*.json")):
        for fn, actions in json.loads(path.read_text()).items():
            for action, outcomes in actions.items():
                merged.setdefault(fn, {}).setdefault(action, set()).update(outcomes)
    return merged


# ----------------------------------------------------------------------------- assumed roles
# Calls made through the roles the tasks assume in the source, target and retention accounts are granted
# by those roles (stacks/cross_account.py), whose actions are listed in stacks/workload_actions.py.


def load_all_roles(folder: Path) -> dict[str, dict[str, set[str]]]:
    """Every worker's recording of calls through assumed roles (`*.roles`), merged: {role ARN: ...}."""
    merged: dict[str, dict[str, set[str]]] = {}
    for path in sorted(folder.glob("*.roles")):
        for role, actions in json.loads(path.read_text()).items():
            for action, outcomes in actions.items():  # as IAM names it (recordings before the prefix map)
                merged.setdefault(role, {}).setdefault(calls.iam_action(action), set()).update(outcomes)
    return merged


def cross_account_grants(assembly: Path) -> dict[str, set[str]]:
    """{role ARN: actions granted} of the cross-account role stacks in the assembly."""
    manifest = json.loads((assembly / "manifest.json").read_text())["artifacts"]
    grants: dict[str, set[str]] = {}
    for artifact_id, artifact in manifest.items():
        if not artifact_id.startswith("CrossAccount-") or artifact.get("type") != "aws:cloudformation:stack":
            continue
        account = artifact["environment"].removeprefix("aws://").split("/")[0]
        resources = json.loads((assembly / f"{artifact_id}.template.json").read_text())["Resources"]
        for resource in resources.values():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            arn = f"arn:aws:iam::{account}:role/{resource['Properties']['RoleName']}"
            grants[arn] = {
                action
                for policy in resources.values()
                if policy["Type"] == "AWS::IAM::Policy"
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]
                for action in _listed(statement["Action"])
            }
    return grants


def _listed(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def assumed_called_not_granted(
    recorded: dict[str, dict[str, set[str]]], assembly: Path
) -> dict[str, set[str]]:
    """{role ARN: actions called through it that its stack does not grant} (a role with no stack: all)."""
    grants = cross_account_grants(assembly)
    missing = {
        role: calls.compare(actions, grants.get(role, set())).called_not_granted
        for role, actions in recorded.items()
    }
    return {role: set(actions) for role, actions in missing.items() if actions}


def assumed_granted_not_called(
    recorded: dict[str, dict[str, set[str]]], assembly: Path
) -> dict[str, set[str]]:
    """{role ARN: actions its stack grants that no task called through it}."""
    unused = {
        role: calls.compare(recorded.get(role, {}), granted).granted_not_called
        for role, granted in cross_account_grants(assembly).items()
    }
    return {role: set(actions) for role, actions in unused.items() if actions}


def workload_actions_module(
    recorded: dict[str, dict[str, set[str]]], source_arn: str, target_arn: str
) -> str:
    """stacks/workload_actions.py's SOURCE and TARGET, from the recorded calls through those roles."""
    lines = []
    for name, arn in (("SOURCE", source_arn), ("TARGET", target_arn)):
        actions = sorted(recorded.get(arn, {}))
        lines.append(f"{name}: tuple[str, ...] = (")
        lines += [f'    "{action}",' for action in actions]
        lines.append(")")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """`python -m tests.workflows.least_privilege_support CALLS_DIR`: print SOURCE and TARGET for
    stacks/workload_actions.py from a `make test` run's recordings (the folder holding `*.roles`)."""
    from wavectl.runbook import load_runbook

    accounts = load_runbook(Path(__file__).resolve().parents[2] / "runbooks").program.accounts
    recorded = load_all_roles(Path(argv[0]))
    print(workload_actions_module(recorded, accounts.source.role_arn(), accounts.target.role_arn()), end="")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
