"""The runbook model: `runbooks/program.yaml` plus one `runbooks/waves/*.yaml` per wave.

`load_runbook(path)` reads and validates everything, and raises `RunbookInvalid` carrying every
problem found (file:line:col and the rule broken), never just the first one.
"""

from __future__ import annotations

import difflib
import json
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from tasks.contracts import WaveKind
from wavectl.bridge_model import residency_problems
from wavectl.kinds import KINDS
from wavectl.model import (
    ApprovalPolicy,
    Duration,
    Model,
    Program,
    ResidencyTarget,
    WaveBase,
    format_duration,
    parse_duration,
)
from wavectl.yamlpos import Loc, Located, Position, YamlSyntaxError, load_located

__all__ = [
    "ApprovalPolicy",
    "Duration",
    "Model",
    "Program",
    "Runbook",
    "RunbookInvalid",
    "Wave",
    "format_duration",
    "load_runbook",
    "parse_duration",
]

# A wave of any kind: each kind's model (wavectl/kinds/) is a WaveBase with its own `kind` and section.
Wave = WaveBase


# ----------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    position: Position
    message: str

    def __str__(self) -> str:
        return f"{self.position}: {self.message}"


class RunbookInvalid(Exception):
    """Every problem found in a runbook, each with its file:line:col."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.position.file, p.position.line, p.position.column))
        super().__init__("\n".join(str(p) for p in self.problems))


# ----------------------------------------------------------------------------- loaded runbook


@dataclass
class Runbook:
    program: Program
    waves: list[Wave]
    root: Path
    sources: dict[str, Located] = field(default_factory=dict, repr=False)

    def wave(self, name: str) -> Wave:
        for wave in self.waves:
            if wave.wave == name:
                return wave
        known = ", ".join(w.wave for w in self.waves)
        raise KeyError(f"no wave named {name!r} (waves: {known})")

    def ordered_waves(self) -> list[Wave]:
        """Waves in dependency order (a wave after everything it depends on), stable by name."""
        done: list[Wave] = []
        placed: set[str] = set()
        remaining = sorted(self.waves, key=lambda w: w.wave)
        while remaining:
            ready = [w for w in remaining if set(w.depends_on) <= placed]
            if not ready:  # a cycle; validation reports it, keep the rest stable
                ready = remaining[:1]
            for wave in ready:
                done.append(wave)
                placed.add(wave.wave)
                remaining.remove(wave)
        return done

    # AWS names derived from the runbook: the stacks create them, the CLI and the local runner find
    # them by the same rule (no lookups, no cross-stack references needed).

    def state_machine_name(self, wave: str) -> str:
        return f"{self.program.program}-{wave}"

    def state_machine_arn(self, wave: str, region: str | None = None) -> str:
        program = self.program
        return (
            f"arn:aws:states:{region or program.home_region}:{program.accounts.tooling}:"
            f"stateMachine:{self.state_machine_name(wave)}"
        )

    def approvals_table_name(self) -> str:
        return f"{self.program.program}-approvals"

    def evidence_bucket_name(self) -> str:
        """The control plane's evidence bucket (Object Lock): task evidence, decisions, the archive."""
        program = self.program
        return f"{program.program}-evidence-{program.accounts.tooling}-{program.home_region}"[:63]

    def control_function_name(self, task: str) -> str:
        """A control-plane task function (e.g. `tasks.contracts.APPROVAL_CALLBACK_TASK`)."""
        return f"{self.program.program}-{task}"[:64]


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _pydantic_problems(
    exc: ValidationError, located: Located, prefix: Loc = (), model: type[BaseModel] | None = None
) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part))
        loc = (*prefix, *loc)
        problems.append(Problem(located.position_of(loc), _describe(error, loc, model)))
    return problems


def _unwrap(annotation: Any) -> Any:
    """The model or container type behind Annotated[...] / X | None."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(annotation) if a is not type(None)]
            models = [a for a in options if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = (models or options or [None])[0]
        else:
            return annotation


def _fields_at(model: type[BaseModel] | None, path: Loc) -> list[str]:
    """The field names of the model found at `path` inside `model` (for "did you mean")."""
    current: Any = model
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            current = field.annotation if field is not None else None
        elif get_origin(current) in (list, tuple, set) and get_args(current):
            current = get_args(current)[0]
        elif get_origin(current) is dict and len(get_args(current)) == 2:
            current = get_args(current)[1]
        else:
            return []
    current = _unwrap(current)
    return list(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _unknown_field(where: str, loc: Loc, model: type[BaseModel] | None) -> str:
    name = str(loc[-1]) if loc else where
    close = difflib.get_close_matches(name, _fields_at(model, loc[:-1]), n=1, cutoff=0.6)
    return f"unknown field '{where}'" + (f" (did you mean '{close[0]}'?)" if close else "")


def _describe(error: dict[str, Any], loc: Loc, model: type[BaseModel] | None = None) -> str:
    where = ".".join(str(part) for part in loc)
    kind = error["type"]
    if kind == "missing":
        return f"missing required field '{where}'"
    if kind == "extra_forbidden":
        return _unknown_field(where, loc, model)
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        return f"{where}: {error['input']!r} is not a valid value ({message})"
    return f"{where}: {message}" if where else message


def _load_file(path: Path, problems: list[Problem]) -> Located | None:
    try:
        return load_located(path, _display(path))
    except YamlSyntaxError as exc:
        problems.append(Problem(exc.position, exc.message))
        return None


def _parse_program(located: Located, problems: list[Problem]) -> Program | None:
    if not isinstance(located.data, dict):
        problems.append(Problem(located.position_of(()), "program file must be a YAML mapping"))
        return None
    try:
        return Program.model_validate(located.data)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc, located, model=Program))
        return None


def _parse_wave(located: Located, problems: list[Problem]) -> Wave | None:
    data = located.data
    if not isinstance(data, dict):
        problems.append(Problem(located.position_of(()), "wave file must be a YAML mapping"))
        return None
    kind = data.get("kind")
    model = KINDS[WaveKind(kind)].model if isinstance(kind, str) and kind in set(WaveKind) else None
    if model is None:
        allowed = ", ".join(KINDS)
        message = "missing required field 'kind'" if kind is None else f"kind: unknown wave kind {kind!r}"
        problems.append(Problem(located.position_of(("kind",)), f"{message} (one of: {allowed})"))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc, located, model=model))
        return None


def _program_path(path: Path) -> tuple[Path, Path]:
    if path.is_dir():
        return path, path / "program.yaml"
    return path.parent, path


def load_runbook(path: str | Path = "runbooks") -> Runbook:
    """Load and validate `path` (the runbooks folder, or its program.yaml)."""
    root, program_file = _program_path(Path(path))
    problems: list[Problem] = []
    if not program_file.is_file():
        raise RunbookInvalid([Problem(Position(_display(program_file), 1, 1), "program file not found")])
    program_src = _load_file(program_file, problems)
    program = _parse_program(program_src, problems) if program_src else None
    if program is not None and program_src is not None:
        problems.extend(_program_checks(program, program_src))
    sources = {program_src.file: program_src} if program_src else {}
    waves: list[tuple[Wave, Located]] = []
    broken_names: set[str] = set()  # waves whose own file is invalid: already reported there
    for wave_file in sorted((root / "waves").glob("*.y*ml")):
        located = _load_file(wave_file, problems)
        if located is None:
            continue
        sources[located.file] = located
        wave = _parse_wave(located, problems)
        if wave is not None:
            waves.append((wave, located))
        elif isinstance(located.data, dict) and isinstance(located.data.get("wave"), str):
            broken_names.add(located.data["wave"])
    if not waves and not problems:
        problems.append(Problem(Position(_display(root / "waves"), 1, 1), "no wave files (waves/*.yaml)"))
    if program is not None and program_src is not None:
        problems.extend(_unique_approvers(program, program_src))
    if program is not None:
        problems.extend(cross_checks(program, waves, broken_names))
    if problems:
        raise RunbookInvalid(problems)
    assert program is not None
    return Runbook(program=program, waves=[w for w, _ in waves], root=root, sources=sources)


def _unique_approvers(program: Program, src: Located) -> Iterable[Problem]:
    """One person, one identity: a Slack id names one approver and a name one Slack id, across all
    groups (a person may be in several groups). Otherwise four eyes and vote counting could confuse
    two people, or count one person twice."""
    names_by_id: dict[str, dict[str, Loc]] = {}
    ids_by_name: dict[str, dict[str, Loc]] = {}
    for group, members in program.approvers.items():
        for index, member in enumerate(members):
            name = member.name or member.slack
            names_by_id.setdefault(member.slack, {}).setdefault(name, ("approvers", group, index, "slack"))
            if member.name:
                ids_by_name.setdefault(member.name, {}).setdefault(
                    member.slack, ("approvers", group, index, "name")
                )
    for slack_id, names in names_by_id.items():
        if len(names) > 1:
            loc = list(names.values())[1]
            yield Problem(
                src.position_of(loc),
                f"Slack id '{slack_id}' is used by two approvers ({', '.join(names)}); "
                "one Slack id per person",
            )
    for name, ids in ids_by_name.items():
        if len(ids) > 1:
            loc = list(ids.values())[1]
            yield Problem(
                src.position_of(loc),
                f"approver name '{name}' is used by two Slack ids ({', '.join(ids)}); one name per person",
            )


# ----------------------------------------------------------------------------- cross-file rules


def _program_checks(program: Program, src: Located) -> Iterable[Problem]:
    """Rules inside program.yaml beyond its schema: the payment bridge's buckets stay in their regions."""
    if program.payment_bridge is not None:
        for loc, message in residency_problems(program.payment_bridge, program.residency):
            yield Problem(src.position_of(loc), message)


def cross_checks(
    program: Program, waves: list[tuple[Wave, Located]], broken_names: set[str] | None = None
) -> list[Problem]:
    """Rules across files. Waves named in `broken_names` exist but failed their own validation:
    depending on them is not reported again (their file's problem is the one to fix)."""
    problems: list[Problem] = []
    problems += _unique_names(waves)
    problems += _dependencies(waves, broken_names or set())
    problems += _approval_groups(program, waves)
    problems += _residency(program, waves)
    problems += _name_lengths(program, waves)
    problems += _kind_checks(program, waves)
    return problems


def _kind_checks(program: Program, waves: list[tuple[Wave, Located]]) -> Iterable[Problem]:
    """Each kind's own rules that need program.yaml (e.g. approver groups named in its section)."""
    for wave, src in waves:
        for loc, message in KINDS[WaveKind(wave.kind)].program_checks(program, wave):
            yield Problem(src.position_of(loc), message)


def _unique_names(waves: list[tuple[Wave, Located]]) -> Iterable[Problem]:
    first_seen: dict[str, Located] = {}
    for wave, src in waves:
        if wave.wave in first_seen:
            other = first_seen[wave.wave].position_of(("wave",))
            yield Problem(src.position_of(("wave",)), f"duplicate wave name '{wave.wave}' (also {other})")
        else:
            first_seen[wave.wave] = src


def _dependencies(waves: list[tuple[Wave, Located]], broken_names: set[str]) -> Iterable[Problem]:
    names = {wave.wave for wave, _ in waves}
    graph = {wave.wave: [d for d in wave.depends_on if d in names] for wave, _ in waves}
    for wave, src in waves:
        for index, dep in enumerate(wave.depends_on):
            if dep not in names and dep not in broken_names:
                yield Problem(
                    src.position_of(("depends_on", index)),
                    f"depends_on: unknown wave '{dep}' (known: {', '.join(sorted(names))})",
                )
            elif dep == wave.wave:
                yield Problem(src.position_of(("depends_on", index)), f"wave '{dep}' depends on itself")
    reported: set[frozenset[str]] = set()
    sources = {wave.wave: src for wave, src in waves}
    for name in sorted(graph):
        cycle = _find_cycle(name, graph)
        if cycle and frozenset(cycle) not in reported and len(cycle) > 2:
            reported.add(frozenset(cycle))
            where = sources[cycle[0]].position_of(("depends_on",))
            yield Problem(where, f"dependency cycle: {' -> '.join(cycle)}")


def _find_cycle(start: str, graph: dict[str, list[str]]) -> list[str] | None:
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        path.append(node)
        for nxt in graph.get(node, []):
            found = visit(nxt)
            if found:
                return found
        path.pop()
        return None

    cycle = visit(start)
    return cycle if cycle and cycle[0] == start else None


def _approval_groups(program: Program, waves: list[tuple[Wave, Located]]) -> Iterable[Problem]:
    groups = sorted(program.approvers)
    for wave, src in waves:
        policy = wave.approval
        for key in ("group", "escalate_to"):
            group = getattr(policy, key)
            if group is not None and group not in program.approvers:
                yield Problem(
                    src.position_of(("approval", key)),
                    f"approval.{key}: unknown approver group '{group}' (groups: {', '.join(groups)})",
                )
        size = len(program.group(policy.group))
        if policy.group in program.approvers and policy.required > size:
            yield Problem(
                src.position_of(("approval", "required")),
                f"approval.required is {policy.required} but group '{policy.group}' "
                f"has only {size} approvers",
            )


def residency_targets(wave: Wave) -> list[ResidencyTarget]:
    """Every place a wave puts data (the kind says where)."""
    return KINDS[WaveKind(wave.kind)].residency_targets(wave)


def _residency(program: Program, waves: list[tuple[Wave, Located]]) -> Iterable[Problem]:
    for wave, src in waves:
        for target in residency_targets(wave):
            allowed = program.residency.get(target.data_class)
            if allowed is None:
                yield Problem(
                    src.position_of(target.data_class_loc),
                    f"unknown data class '{target.data_class}' "
                    f"(residency classes: {', '.join(sorted(program.residency))})",
                )
            elif target.region not in allowed:
                yield Problem(
                    src.position_of(target.loc),
                    f"{target.field} {target.region} is not allowed for data class {target.data_class} "
                    f"(allowed: {', '.join(allowed)})",
                )


def _name_lengths(program: Program, waves: list[tuple[Wave, Located]]) -> Iterable[Problem]:
    for wave, src in waves:
        # the state machine is named <program>-<wave>; task functions add a suffix (64 chars max)
        length = len(program.program) + len(wave.wave)
        if length > 46:
            yield Problem(
                src.position_of(("wave",)),
                f"program + wave name too long for AWS resource names ({length} > 46)",
            )


# ----------------------------------------------------------------------------- schema


def json_schema() -> dict[str, Any]:
    """JSON Schema for program.yaml and waves/*.yaml (for yaml-language-server and editors)."""
    wave_models = tuple(spec.model for spec in KINDS.values())
    any_wave = Annotated[Union[wave_models], Field(discriminator="kind")]  # noqa: UP007 (runtime tuple)
    adapter = TypeAdapter(
        Annotated[
            Program | any_wave,
            Field(description="a wavectl program file or wave file"),
        ]
    )
    schema = adapter.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "wavectl runbook"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
