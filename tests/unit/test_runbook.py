"""The runbook model: the example loads; each broken rule is reported with its file:line:col."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from tests.conftest import RUNBOOKS
from wavectl.runbook import RunbookInvalid, load_runbook, parse_duration


@pytest.fixture
def program_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the example program.yaml with an empty waves/ folder; paths shown relative."""
    root = tmp_path / "runbooks"
    (root / "waves").mkdir(parents=True)
    shutil.copy(RUNBOOKS / "program.yaml", root / "program.yaml")
    monkeypatch.chdir(tmp_path)
    return root


def write_wave(root: Path, name: str, text: str) -> None:
    (root / "waves" / f"{name}.yaml").write_text(textwrap.dedent(text).lstrip())


DB_WAVE = """
wave: {name}
kind: db-snapshot-copy
version: 1
depends_on: {deps}
approval: {{group: platform, required: 2, timeout: 4h}}
databases:
  - id: orders
    region: eu-west-1
    target_region: {region}
    data_class: eu-personal
    shared_kms_key: alias/share
    target: {{kms_key: alias/target, subnet_group: data}}
"""


def db_wave(name: str = "orders-db", deps: str = "[]", region: str = "eu-central-1") -> str:
    return DB_WAVE.format(name=name, deps=deps, region=region)


def problems_of(root: Path) -> list[str]:
    with pytest.raises(RunbookInvalid) as caught:
        load_runbook(root)
    return [str(p) for p in caught.value.problems]


def test_example_program_loads_with_every_wave_kind():
    # Given the committed example program / When it is loaded
    runbook = load_runbook(RUNBOOKS)
    # Then it has one wave of each of the four kinds, in dependency order
    assert sorted(w.kind for w in runbook.waves) == [
        "db-snapshot-copy",
        "decommission",
        "dns-cutover",
        "payment-dual-run",
    ]
    order = [w.wave for w in runbook.ordered_waves()]
    assert order.index("orders-db") < order.index("api-dns") < order.index("decommission-acme")
    assert runbook.wave("orders-db").approval.timeout == 4 * 3600


def test_residency_violation_points_at_target_region(program_dir: Path):
    # Given a database copied to a region its data class may not live in
    write_wave(program_dir, "orders", db_wave(region="us-east-1"))
    # Then the error names the file, the line and column of target_region, and the rule
    assert problems_of(program_dir) == [
        "runbooks/waves/orders.yaml:9:20: target_region us-east-1 is not allowed for data class eu-personal "
        "(allowed: eu-west-1, eu-central-1)"
    ]


def test_unknown_dependency_is_reported_at_the_entry(program_dir: Path):
    write_wave(program_dir, "orders", db_wave(deps="[billing-db]"))
    assert problems_of(program_dir) == [
        "runbooks/waves/orders.yaml:4:14: depends_on: unknown wave 'billing-db' (known: orders-db)"
    ]


def test_dependency_cycle_is_named(program_dir: Path):
    write_wave(program_dir, "a", db_wave(name="alpha", deps="[beta]"))
    write_wave(program_dir, "b", db_wave(name="beta", deps="[alpha]"))
    assert problems_of(program_dir) == [
        "runbooks/waves/a.yaml:4:13: dependency cycle: alpha -> beta -> alpha"
    ]


def test_bad_duration_explains_the_format(program_dir: Path):
    write_wave(program_dir, "orders", db_wave().replace("timeout: 4h", "timeout: 4 hours"))
    assert problems_of(program_dir) == [
        "runbooks/waves/orders.yaml:5:51: approval.timeout: invalid duration '4 hours': "
        "use a number and a unit, e.g. 90s, 15m, 4h, 2d"
    ]


def test_yaml_syntax_error_has_a_location(program_dir: Path):
    write_wave(program_dir, "orders", "wave: orders-db\nkind: [db-snapshot-copy\nversion: 1\n")
    [problem] = problems_of(program_dir)
    assert problem.startswith("runbooks/waves/orders.yaml:3:")
    assert "YAML syntax error" in problem


def test_missing_field_points_at_its_parent(program_dir: Path):
    write_wave(program_dir, "orders", db_wave().replace("    shared_kms_key: alias/share\n", ""))
    assert problems_of(program_dir) == [
        "runbooks/waves/orders.yaml:7:5: missing required field 'databases.0.shared_kms_key'"
    ]


def test_several_problems_are_reported_together(program_dir: Path):
    # Given two broken waves
    write_wave(program_dir, "orders", db_wave(region="us-east-1"))
    write_wave(program_dir, "other", db_wave(name="other-db", deps="[nope]", region="us-west-2"))
    # Then both problems are listed, in file order
    problems = problems_of(program_dir)
    assert len(problems) == 3
    assert problems[0].startswith("runbooks/waves/orders.yaml:9:20: target_region us-east-1")
    assert problems[1].startswith("runbooks/waves/other.yaml:4:14: depends_on: unknown wave 'nope'")
    assert problems[2].startswith("runbooks/waves/other.yaml:9:20: target_region us-west-2")


def test_unknown_approver_group_and_too_many_required(program_dir: Path):
    text = db_wave().replace("{group: platform, required: 2, timeout: 4h}", "{group: treasury, required: 2}")
    write_wave(program_dir, "orders", text)
    write_wave(
        program_dir,
        "other",
        db_wave(name="other-db").replace("required: 2", "required: 4"),
    )
    problems = problems_of(program_dir)
    assert "runbooks/waves/orders.yaml:5:19: approval.group: unknown approver group 'treasury'" in problems[0]
    assert problems[1] == (
        "runbooks/waves/other.yaml:5:39: approval.required is 4 but group 'platform' has only 3 approvers"
    )


def test_duplicate_wave_names(program_dir: Path):
    write_wave(program_dir, "a", db_wave())
    write_wave(program_dir, "b", db_wave())
    assert problems_of(program_dir) == [
        "runbooks/waves/b.yaml:1:7: duplicate wave name 'orders-db' (also runbooks/waves/a.yaml:1:7)"
    ]


def test_unknown_kind_lists_the_kinds(program_dir: Path):
    write_wave(program_dir, "x", "wave: x-wave\nkind: lift-and-shift\nversion: 1\n")
    [problem] = problems_of(program_dir)
    assert problem.startswith("runbooks/waves/x.yaml:2:7: kind: unknown wave kind 'lift-and-shift'")
    assert "db-snapshot-copy" in problem


def test_unknown_field_is_refused(program_dir: Path):
    write_wave(program_dir, "orders", db_wave() + "color: blue\n")
    assert problems_of(program_dir) == ["runbooks/waves/orders.yaml:13:8: unknown field 'color'"]


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("4h", 14400), ("2d", 172800)])
def test_durations_parse(text: str, seconds: int):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0s", "4 hours", "1w", "", "-5m"])
def test_bad_durations_are_refused(text: str):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_a_broken_wave_is_reported_once_not_by_every_wave_depending_on_it(program_dir: Path):
    # Given orders-db has a bad duration and api-db depends on it
    write_wave(program_dir, "orders", db_wave().replace("timeout: 4h", "timeout: soon"))
    write_wave(program_dir, "api", db_wave(name="api-db", deps="[orders-db]"))
    # Then only the real problem is listed, not "unknown wave 'orders-db'" in api.yaml as well
    [problem] = problems_of(program_dir)
    assert problem.startswith("runbooks/waves/orders.yaml:5:")
    assert "invalid duration 'soon'" in problem


def test_operator_role_of_another_account_is_refused_at_its_line(program_dir: Path):
    # Given a program whose operators' role is in another account than the tooling account
    program = program_dir / "program.yaml"
    text = program.read_text().replace(
        "111111111111:role/WavectlOperator", "999999999999:role/WavectlOperator"
    )
    program.write_text(text)
    write_wave(program_dir, "01-orders-db", db_wave())
    # When it is loaded / Then the program key could not name it: refused where operators are listed
    [problem] = problems_of(program_dir)
    assert "program.yaml:" in problem
    assert "999999999999:role/WavectlOperator is not a role of the tooling account (111111111111)" in problem


def test_program_without_operators_is_refused(program_dir: Path):
    # Given a program that names nobody who may use its key
    program = program_dir / "program.yaml"
    lines = program.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("operators:"))
    program.write_text("".join(lines[:start] + lines[start + 3 :]))
    write_wave(program_dir, "01-orders-db", db_wave())
    # When it is loaded / Then the missing section is named
    assert any("operators" in p for p in problems_of(program_dir))
