"""The runbook model: `runbooks/program.yaml` plus one `runbooks/waves/*.yaml` per wave.

`load_runbook(path)` reads and validates everything, and raises `RunbookInvalid` carrying every
problem found (file:line:col and the rule broken), never just the first one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from tasks.contracts import WaveKind
from wavectl.yamlpos import Loc, Located, Position, YamlSyntaxError, load_located

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> int:
    """`90s`, `15m`, `4h`, `2d` (or a plain number of seconds) -> seconds."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: use a number and a unit, e.g. 90s, 15m, 4h, 2d")
    if isinstance(value, int) and value > 0:
        return value
    match = _DURATION.match(str(value))
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"invalid duration {value!r}: use a number and a unit, e.g. 90s, 15m, 4h, 2d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def format_duration(seconds: int) -> str:
    for unit in ("d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+[smhd]$", "examples": ["90s", "15m", "4h", "2d"]}),
]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")]
AccountId = Annotated[str, Field(pattern=r"^[0-9]{12}$")]
Region = Annotated[str, Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")]
SlackUserId = Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,}$")]
RoleName = Annotated[str, Field(pattern=r"^[A-Za-z0-9+=,.@_-]{1,64}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------- program


class RoleAccount(_Model):
    id: AccountId
    role: RoleName = Field(description="IAM role wavectl's tasks assume in this account")

    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.id}:role/{self.role}"


class Accounts(_Model):
    tooling: AccountId = Field(description="account where the workflows and task functions run")
    source: RoleAccount
    target: RoleAccount


class SlackSettings(_Model):
    channel: Annotated[str, Field(pattern=r"^[CG][A-Z0-9]{2,}$")]
    signing_secret: str = Field(description="Secrets Manager name of the Slack signing secret")
    bot_token: str = Field(description="Secrets Manager name of the Slack bot token")


class Approver(_Model):
    slack: SlackUserId
    name: str | None = None
    iam: list[str] = Field(
        default_factory=list,
        description="IAM/STS ARNs of this person, for the `wavectl approve` fallback",
    )


def _approver_shorthand(value: Any) -> Any:
    return {"slack": value} if isinstance(value, str) else value


ApproverEntry = Annotated[Approver, BeforeValidator(_approver_shorthand)]


class FreezeWindow(_Model):
    name: str
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered(self) -> FreezeWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError(f"freeze window '{self.name}' needs explicit time zones (e.g. ...Z)")
        if self.end <= self.start:
            raise ValueError(f"freeze window '{self.name}' ends before it starts")
        return self


class Program(_Model):
    program: Name
    description: str = ""
    home_region: Region = Field(description="region of the control plane and the wave workflows")
    accounts: Accounts
    residency: dict[str, list[Region]] = Field(description="data class -> regions its data may live in")
    slack: SlackSettings
    approvers: dict[str, list[ApproverEntry]]
    freeze: list[FreezeWindow] = Field(default_factory=list)

    def group(self, name: str) -> list[Approver]:
        return self.approvers.get(name, [])


# ----------------------------------------------------------------------------- waves


class ApprovalPolicy(_Model):
    group: str
    required: int = Field(ge=1)
    timeout: Duration = 4 * 3600
    remind_after: Duration | None = None
    escalate_after: Duration | None = None
    escalate_to: str | None = None

    @model_validator(mode="after")
    def _times_ordered(self) -> ApprovalPolicy:
        for name in ("remind_after", "escalate_after"):
            value = getattr(self, name)
            if value is not None and value >= self.timeout:
                raise ValueError(f"{name} must be shorter than timeout ({format_duration(self.timeout)})")
        if self.escalate_after is not None and self.escalate_to is None:
            raise ValueError("escalate_after needs escalate_to (the backup approver group)")
        return self


class _WaveBase(_Model):
    wave: Name
    version: int = Field(ge=1, description="runbook version of this wave; bump it with every change")
    description: str = ""
    depends_on: list[str] = Field(default_factory=list)
    approval: ApprovalPolicy


class DatabaseTarget(_Model):
    kms_key: str = Field(description="target-owned KMS key (alias/... or key ARN) the copy is encrypted with")
    subnet_group: str
    parameter_group: str | None = None
    security_groups: list[str] = Field(default_factory=list)
    instance_class: str | None = None
    storage_type: str | None = None


class VerifyQuery(_Model):
    name: str
    sql: str
    expect: str | None = Field(
        default=None, description="expected result; default: equal on source and target"
    )


class VerifySecrets(_Model):
    """Secrets Manager secrets the verify queries run with through the RDS Data API (Aurora only)."""

    source: str = Field(description="ARN of the source cluster's database secret (source account)")
    target: str = Field(description="ARN of the restored cluster's database secret (target account)")
    database: str | None = Field(default=None, description="database name the queries run in")

    @field_validator("source", "target")
    @classmethod
    def _secret_arn(cls, value: str) -> str:
        if not (value.startswith("arn:") and ":secretsmanager:" in value and ":secret:" in value):
            raise ValueError("must be a Secrets Manager secret ARN (arn:aws:secretsmanager:...:secret:...)")
        return value


class Database(_Model):
    id: str = Field(description="source DB instance or cluster identifier")
    type: Literal["instance", "cluster"] = "instance"
    region: Region
    target_region: Region
    data_class: str
    shared_kms_key: str = Field(description="source-account customer-managed key shared with the target")
    target: DatabaseTarget
    verify: list[VerifyQuery] = Field(default_factory=list)
    verify_secret: VerifySecrets | None = Field(
        default=None,
        description="secrets for running `verify` queries through the RDS Data API (Aurora clusters)",
    )
    size_gib: float | None = Field(
        default=None,
        gt=0,
        description="database size in GiB for the wait backoff (default: instance AllocatedStorage; "
        "Aurora, which reports 1 GiB, 100 GiB); set it for large clusters",
    )


class DbSnapshotCopyWave(_WaveBase):
    kind: Literal["db-snapshot-copy"]
    max_concurrency: int = Field(default=2, ge=1, le=40)
    databases: list[Database] = Field(min_length=1)


class DnsShift(_Model):
    zone: str = Field(description="hosted zone name, e.g. example.com")
    record: str = Field(description="record to shift, e.g. api.example.com")
    old_target: str
    new_target: str
    steps: list[Annotated[int, Field(ge=0, le=100)]] = Field(
        default_factory=lambda: [10, 50, 100], description="percent of traffic on the new target, in order"
    )
    bake: Duration = 15 * 60
    alarms: list[str] = Field(default_factory=list, description="CloudWatch alarms that roll the shift back")
    ttl: int = Field(default=60, ge=1)

    @field_validator("steps")
    @classmethod
    def _increasing(cls, steps: list[int]) -> list[int]:
        if not steps or steps != sorted(steps) or steps[-1] != 100:
            raise ValueError("steps must increase and end at 100")
        return steps


class DnsCutoverWave(_WaveBase):
    kind: Literal["dns-cutover"]
    region: Region
    dns: DnsShift


class PaymentFeed(_Model):
    region: Region
    data_class: str
    old_bucket: str = Field(description="bucket the old platform writes payment files to (source account)")
    new_bucket: str = Field(description="bucket of the new pipeline's output (target account)")
    transfer_bucket: str = Field(description="bucket the secure transfer to the on-premise systems reads")
    prefix: str = "payments/"
    format: Literal["csv", "jsonl", "parquet"] = "csv"
    key_fields: list[str] = Field(default_factory=lambda: ["payment_id"])
    amount_field: str = "amount_cents"
    days: int = Field(default=5, ge=1, description="business days of clean dual-run before the switch")
    tolerance_cents: int = Field(default=0, ge=0)


class PaymentDualRunWave(_WaveBase):
    kind: Literal["payment-dual-run"]
    payments: PaymentFeed


class DecommissionScope(_Model):
    regions: list[Region] = Field(min_length=1)
    tag_key: str = "wavectl:decommission"
    tag_value: str
    resource_types: list[str] = Field(default_factory=lambda: ["rds:db", "rds:cluster", "s3:bucket"])
    final_snapshot: bool = True
    retain_days: int = Field(default=30, ge=0)


class DecommissionWave(_WaveBase):
    kind: Literal["decommission"]
    decommission: DecommissionScope


Wave = DbSnapshotCopyWave | DnsCutoverWave | PaymentDualRunWave | DecommissionWave
WAVE_MODELS: dict[str, type[_WaveBase]] = {
    WaveKind.DB_SNAPSHOT_COPY: DbSnapshotCopyWave,
    WaveKind.DNS_CUTOVER: DnsCutoverWave,
    WaveKind.PAYMENT_DUAL_RUN: PaymentDualRunWave,
    WaveKind.DECOMMISSION: DecommissionWave,
}


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

    def control_function_name(self, task: str) -> str:
        """A control-plane task function (e.g. `tasks.contracts.APPROVAL_CALLBACK_TASK`)."""
        return f"{self.program.program}-{task}"[:64]


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _pydantic_problems(exc: ValidationError, located: Located, prefix: Loc = ()) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part))
        loc = (*prefix, *loc)
        problems.append(Problem(located.position_of(loc), _describe(error, loc)))
    return problems


def _describe(error: dict[str, Any], loc: Loc) -> str:
    where = ".".join(str(part) for part in loc)
    kind = error["type"]
    if kind == "missing":
        return f"missing required field '{where}'"
    if kind == "extra_forbidden":
        return f"unknown field '{where}'"
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
        problems.extend(_pydantic_problems(exc, located))
        return None


def _parse_wave(located: Located, problems: list[Problem]) -> Wave | None:
    data = located.data
    if not isinstance(data, dict):
        problems.append(Problem(located.position_of(()), "wave file must be a YAML mapping"))
        return None
    kind = data.get("kind")
    model = WAVE_MODELS.get(str(kind)) if kind is not None else None
    if model is None:
        allowed = ", ".join(WAVE_MODELS)
        message = "missing required field 'kind'" if kind is None else f"kind: unknown wave kind {kind!r}"
        problems.append(Problem(located.position_of(("kind",)), f"{message} (one of: {allowed})"))
        return None
    try:
        return model.model_validate(data)  # type: ignore[return-value]
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc, located))
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
    if program is not None:
        problems.extend(cross_checks(program, waves, broken_names))
    if problems:
        raise RunbookInvalid(problems)
    assert program is not None
    return Runbook(program=program, waves=[w for w, _ in waves], root=root, sources=sources)


# ----------------------------------------------------------------------------- cross-file rules


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
    return problems


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


def residency_targets(wave: Wave) -> list[tuple[Loc, str, str, str]]:
    """(location, field, region, data class) of every place a wave puts data."""
    if isinstance(wave, DbSnapshotCopyWave):
        return [
            (("databases", i, "target_region"), "target_region", db.target_region, db.data_class)
            for i, db in enumerate(wave.databases)
        ]
    if isinstance(wave, PaymentDualRunWave):
        return [(("payments", "region"), "region", wave.payments.region, wave.payments.data_class)]
    return []


def _residency(program: Program, waves: list[tuple[Wave, Located]]) -> Iterable[Problem]:
    for wave, src in waves:
        for loc, field_name, region, data_class in residency_targets(wave):
            allowed = program.residency.get(data_class)
            if allowed is None:
                yield Problem(
                    src.position_of((*loc[:-1], "data_class")),
                    f"unknown data class '{data_class}' "
                    f"(residency classes: {', '.join(sorted(program.residency))})",
                )
            elif region not in allowed:
                yield Problem(
                    src.position_of(loc), f"{field_name} {region} is not allowed for data class {data_class}"
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
    adapter = TypeAdapter(
        Annotated[
            Program | Annotated[Wave, Field(discriminator="kind")],
            Field(description="a wavectl program file or wave file"),
        ]
    )
    schema = adapter.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "wavectl runbook"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
