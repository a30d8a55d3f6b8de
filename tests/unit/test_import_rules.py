"""The rooms of DESIGN.md ("Layout") hold: every import of every module is one its room allows.

- `tasks/`: Lambda code. Never the CDK, never the tool (`wavectl`), never `stacks`.
  `tasks/contracts.py` is standard library only.
- `stacks/`: CDK only, plus the runbook model (`wavectl.runbook`, `wavectl.model`, `wavectl.kinds`,
  `wavectl.yamlpos`) and `tasks.contracts`. A construct (`stacks/constructs/`) never reaches up
  into the workflows or stacks that use it.
- `wavectl/`: the tool. Never the CDK or `stacks`, except `wavectl/synth.py`, which runs the CDK app
  in process for `wavectl synth` (`stacks.app`). Of `tasks/` only `tasks.contracts` and modules of
  pure logic (reading no environment, making no AWS client, transitively). The model
  (`wavectl/model.py`, `wavectl/bridge_model.py`, `wavectl/kinds/`) imports only pydantic, the standard
  library and itself, because the CDK app loads it. Command modules never import each other (only
  `cli_common`).
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CDK = {"aws_cdk", "constructs", "jsii", "cdk_nag"}
IMPURE_TASK_MARKERS = {"tasks.common.settings", "tasks.common.aws", "boto3", "botocore"}
MODEL_ALLOWED = {
    "pydantic",
    "wavectl.model",
    "wavectl.bridge_model",  # the program's payment_bridge: section
    "wavectl.kinds",
    "wavectl.yamlpos",
    "tasks.contracts",
    "yaml",
}


def imports_of(source: str, module: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import in `source`, lazy ones inside functions included."""
    found = []
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module or "", node.level, package)
            for alias in node.names:  # `from pkg import module` imports pkg.module; else pkg itself
                child = f"{base}.{alias.name}"
                found.append((node.lineno, child if _is_module(child) else base))
    return found


def _absolute(module: str, level: int, package: str) -> str:
    if not level:
        return module
    parts = package.split(".")
    return ".".join([*parts[: len(parts) - level + 1], module]).strip(".")


def _is_module(dotted: str) -> bool:
    path = ROOT / Path(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top(name: str) -> str:
    return name.split(".")[0]


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@cache
def is_pure_task_module(name: str) -> bool:
    """A tasks module that reads no environment and makes no AWS client, nor does anything it imports."""
    if not _is_module(name) or name == "tasks.contracts":
        return True  # a name imported from a module; or the contracts (stdlib only, held by its own rule)
    path = ROOT / Path(*name.split("."))
    path = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"
    source = path.read_text()
    if "os.environ" in source or "getenv(" in source:
        return False
    for _, imported in imports_of(source, name):
        if any(_under(imported, marker) for marker in IMPURE_TASK_MARKERS):
            return False
        if imported == "tasks.contracts":  # standard library only by its own rule (comments name os.environ)
            continue
        if _under(imported, "tasks") and imported != name and not is_pure_task_module(imported):
            return False
    return True


def violation(module: str, imported: str) -> str | None:
    """Why `module` may not import `imported`, or None when its room allows it."""
    top = _top(imported)
    if top in sys.stdlib_module_names or top == "__future__":
        return None
    if _under(module, "tasks"):
        return _tasks_rule(module, imported, top)
    if _under(module, "stacks"):
        return _stacks_rule(module, imported, top)
    if _under(module, "wavectl"):
        return _wavectl_rule(module, imported, top)
    return None


def _tasks_rule(module: str, imported: str, top: str) -> str | None:
    if module == "tasks.contracts":
        return "tasks/contracts.py is standard library only"
    if top in CDK | {"wavectl", "stacks", "moto", "typer", "rich"}:
        return f"tasks/ is Lambda code: it may not import {top}"
    return None


_ABOVE_CONSTRUCTS = ("stacks.workflows", "stacks.control_plane", "stacks.wave_stack", "stacks.app")


def _stacks_rule(module: str, imported: str, top: str) -> str | None:
    if top in CDK or top == "stacks":
        if _under(module, "stacks.constructs") and any(
            _under(imported, up)
            for up in ("stacks.workflows", "stacks.control_plane", "stacks.wave_stack", "stacks.app")
        ):
            return "a construct may not reach up into the workflows or stacks that use it"
        return None
    if imported == "tasks.contracts" or any(_under(imported, m) for m in ("wavectl.runbook", *MODEL_ALLOWED)):
        return (
            None if top != "pydantic" else "stacks/ takes the runbook model from wavectl, not pydantic itself"
        )
    return f"stacks/ is CDK only (plus the runbook model and tasks.contracts): not {imported}"


SYNTH = "wavectl.synth"  # runs the CDK app in process for `wavectl synth`


def _wavectl_rule(module: str, imported: str, top: str) -> str | None:
    if module in ("wavectl.model", "wavectl.bridge_model") or _under(module, "wavectl.kinds"):
        if top not in ("wavectl", "tasks", "pydantic", "yaml") or (
            top in ("wavectl", "tasks") and not any(_under(imported, m) for m in MODEL_ALLOWED)
        ):
            return f"the runbook model (loaded by the CDK app) may not import {imported}"
        return None
    if top in CDK:
        return None if module == SYNTH else f"wavectl/ may not import the CDK ({top})"
    if top == "stacks":
        if module == SYNTH and imported == "stacks.app":
            return None
        return "wavectl/ may not import stacks/ (only wavectl/synth.py runs stacks.app)"
    if top == "tasks" and imported != "tasks.contracts" and not is_pure_task_module(imported):
        return f"wavectl/ may import only tasks.contracts and pure task logic: {imported} reads settings/AWS"
    if _cli_module(module) and _cli_module(imported) and imported != "wavectl.cli_common" != module:
        return (
            None if module == "wavectl.cli" else "command modules import wavectl.cli_common, not each other"
        )
    return None


def _cli_module(name: str) -> bool:
    return name == "wavectl.cli" or name.startswith("wavectl.cli_")


def violations(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        module = _module_name(path)
        for line, imported in imports_of(path.read_text(), module):
            reason = violation(module, imported)
            if reason:
                found.append(f"{path.relative_to(ROOT)}:{line}: imports {imported}: {reason}")
    return found


def project_modules() -> list[Path]:
    return sorted(p for room in ("wavectl", "stacks", "tasks") for p in (ROOT / room).rglob("*.py"))


def test_import_rules_hold_for_every_module():
    # Given every module of wavectl/, stacks/ and tasks/
    # When each import is checked against its room's rules
    # Then there is no forbidden import
    assert violations(project_modules()) == []


def test_import_rules_name_the_module_line_and_rule(tmp_path, monkeypatch):
    # Given modules that add forbidden imports, one per rule
    cases = {
        "stacks/constructs/sneaky.py": "from stacks.workflows.context import WaveContext\n",
        "tasks/contracts_extra.py": "import aws_cdk\n",
        "wavectl/cli_sneaky.py": "from wavectl import cli_rehearsal\n",
        "wavectl/planner_sneaky.py": "\n\ndef f():\n    from tasks.common.aws import own_session\n",
        "stacks/sneaky_stack.py": "import boto3\n",
    }
    paths = []
    for relative, source in cases.items():
        path = ROOT / relative
        monkeypatch.setattr(Path, "read_text", _reader(path, source, Path.read_text))
        paths.append(path)

    # When they are checked
    found = violations(paths)

    # Then each violation names the file, the line, the import and the rule broken
    assert found == [
        "stacks/constructs/sneaky.py:1: imports stacks.workflows.context: "
        "a construct may not reach up into the workflows or stacks that use it",
        "tasks/contracts_extra.py:1: imports aws_cdk: tasks/ is Lambda code: it may not import aws_cdk",
        "wavectl/cli_sneaky.py:1: imports wavectl.cli_rehearsal: command modules import wavectl.cli_common, "
        "not each other",
        "wavectl/planner_sneaky.py:4: imports tasks.common.aws: wavectl/ may import only tasks.contracts "
        "and pure task logic: tasks.common.aws reads settings/AWS",
        "stacks/sneaky_stack.py:1: imports boto3: stacks/ is CDK only (plus the runbook model and "
        "tasks.contracts): not boto3",
    ]


def _reader(fake: Path, source: str, real):
    previous = Path.read_text

    def read_text(self: Path, *args, **kwargs) -> str:
        if self == fake:
            return source
        return previous(self, *args, **kwargs)

    return read_text
