"""Reading the synthesised templates: resources by type, the ASL of a wave, the IAM statements."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TOKEN = "TOKEN"  # what an intrinsic (Fn::GetAtt, Ref, ...) inside a definition reads as


def template(assembly: Path, stack: str) -> dict:
    return json.loads((assembly / f"{stack}.template.json").read_text())


def resources_of_type(tmpl: dict, kind: str) -> list[dict]:
    return [r for r in tmpl["Resources"].values() if r["Type"] == kind]


def flatten(value: object, *, show_imports: bool = False) -> str:
    """A DefinitionString (an Fn::Join) as text, every intrinsic replaced by TOKEN, or an imported
    value by `import:<export name>` with `show_imports`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(flatten(p, show_imports=show_imports) for p in parts)
    if show_imports and isinstance(value, dict) and "Fn::ImportValue" in value:
        return f"import:{value['Fn::ImportValue']}"
    return TOKEN


def wave_machine(tmpl: dict, stack: str, suffix: str = "") -> dict:
    """The wave's own state machine in a wave stack (`<program>-<wave>`), or with `suffix` one it
    deploys beside it (the database wave's per-database workflow, `-database`)."""
    wave = stack.removeprefix("Wave-")
    machines = resources_of_type(tmpl, "AWS::StepFunctions::StateMachine")
    (machine,) = [m for m in machines if m["Properties"]["StateMachineName"].endswith(f"-{wave}{suffix}")]
    return machine


def definition(assembly: Path, stack: str, *, show_imports: bool = False, suffix: str = "") -> dict:
    """The ASL of the wave's state machine in `stack` (with `suffix`: of the one deployed beside it)."""
    machine = wave_machine(template(assembly, stack), stack, suffix)
    return json.loads(flatten(machine["Properties"]["DefinitionString"], show_imports=show_imports))


def wave_definitions(assembly: Path) -> dict[str, dict]:
    """Every wave stack's ASL, by stack name (`Wave-<wave>`)."""
    stacks = (p.name.removesuffix(".template.json") for p in assembly.glob("Wave-*.template.json"))
    return {stack: definition(assembly, stack) for stack in stacks}


def iam_statements(assembly: Path) -> Iterator[tuple[str, list[str], Any]]:
    """(policy logical id, actions, resource) of every statement of every IAM policy in the program."""
    for path in assembly.glob("*.template.json"):
        for name, resource in json.loads(path.read_text())["Resources"].items():
            if resource["Type"] != "AWS::IAM::Policy":
                continue
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                yield name, actions if isinstance(actions, list) else [actions], statement["Resource"]


def granted_actions(assembly: Path, function_name: str) -> set[str]:
    """Every IAM action the role of the Lambda function named `function_name` is granted (Allow
    statements of the IAM policies attached to it in the synthesised templates)."""
    for path in assembly.glob("*.template.json"):
        resources = json.loads(path.read_text())["Resources"]
        for resource in resources.values():
            props = resource.get("Properties", {})
            if resource["Type"] != "AWS::Lambda::Function" or props.get("FunctionName") != function_name:
                continue
            role = props["Role"]["Fn::GetAtt"][0]
            actions: set[str] = set()
            for policy in resources.values():
                roles = policy.get("Properties", {}).get("Roles", [])
                if policy["Type"] != "AWS::IAM::Policy" or {"Ref": role} not in roles:
                    continue
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    if statement.get("Effect") == "Allow":
                        found = statement["Action"]
                        actions |= set(found if isinstance(found, list) else [found])
            return actions
    raise KeyError(f"no function named {function_name} in {assembly}")


def next_past_notes(states: dict[str, dict], name: str) -> str:
    """The state after `name`, past any `Tell Slack: ...` note (a message in the execution's Slack
    thread, which changes nothing and never fails the wave)."""
    from stacks.workflows.frame import NOTE_PREFIX

    following = states[name]["Next"]
    while following.startswith(NOTE_PREFIX):
        following = states[following]["Next"]
    return following
