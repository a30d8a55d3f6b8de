"""Malformed runbooks and execution inputs: always a located message, never a traceback.

Property tests (hypothesis) mutate the example runbook (values replaced by arbitrary YAML values, keys
dropped or added, files replaced by arbitrary text) and feed arbitrary JSON to the frame's input
check; the loader must answer with `RunbookInvalid` (each problem at file:line:col) or a valid
runbook, and the guard with `Wavectl.InvalidInput` or a normalised request, nothing else.
"""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.common.errors import InvalidInput
from tasks.frame.guard import validate_input
from tests.conftest import RUNBOOKS
from wavectl.runbook import RunbookInvalid, load_runbook

FILES = ["program.yaml", *(f"waves/{p.name}" for p in sorted((RUNBOOKS / "waves").glob("*.yaml")))]
ORIGINAL = {name: yaml.safe_load((RUNBOOKS / name).read_text()) for name in FILES}
LOCATED = r"^[^:]+\.ya?ml:\d+:\d+: \S"

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "eu-west-1", "us-east-1", "4h", "0s", "-5m", "platform", "db-snapshot-copy", "~"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(min_size=1, max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replace(document: Any, path: tuple, new: Any, mode: str) -> Any:
    if not path:
        return new
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if mode == "delete":
        del parent[path[-1]]
    elif mode == "add" and isinstance(parent, dict):
        parent[f"{path[-1]}x"] = new
    else:
        parent[path[-1]] = new
    return document


@st.composite
def mutated_runbook(draw: st.DrawFn) -> dict[str, str]:
    """The example runbook's files as text, one or two of them broken."""
    texts = {name: yaml.safe_dump(ORIGINAL[name], sort_keys=False) for name in FILES}
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        name = draw(st.sampled_from(FILES))
        if draw(st.integers(min_value=0, max_value=9)) == 0:  # now and then: arbitrary text
            texts[name] = draw(st.text(max_size=200))
            continue
        try:
            document = yaml.safe_load(texts[name])
        except yaml.YAMLError:  # already replaced by arbitrary text: break it further as text
            texts[name] = texts[name] + draw(st.text(max_size=50))
            continue
        path = draw(st.sampled_from(_paths(document)))
        mode = draw(st.sampled_from(["replace", "delete", "add"])) if path else "replace"
        document = _replace(document, path, draw(values), mode)
        texts[name] = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return texts


def _write(root: Path, texts: dict[str, str]) -> None:
    (root / "waves").mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (root / name).write_text(text, encoding="utf-8")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_runbook())
def test_a_mutated_runbook_is_loaded_or_refused_with_located_problems_only(texts):
    # Given the example runbook with one or two values, keys or files broken
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runbooks"
        _write(root, texts)
        # When it is loaded
        try:
            load_runbook(root)
        except RunbookInvalid as invalid:
            # Then every problem is located (file:line:col: message), nothing else escapes
            assert invalid.problems
            for problem in invalid.problems:
                assert problem.position.line >= 1 and problem.position.column >= 1
                assert problem.message.strip()


@settings(max_examples=300, deadline=None)
@given(values)
def test_any_execution_input_is_accepted_or_refused_as_invalid_input(raw):
    # Given any JSON-like execution input
    try:
        request = validate_input(raw)
    except InvalidInput as refused:
        # Then a refusal names what is wrong
        assert str(refused)
    else:
        assert set(request) >= {"requested_by", "dry_run"}


# ----------------------------------------------------------------------------- named rules


@pytest.fixture
def program_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "runbooks"
    (root / "waves").mkdir(parents=True)
    shutil.copy(RUNBOOKS / "program.yaml", root / "program.yaml")
    shutil.copy(RUNBOOKS / "waves" / "02-api-dns.yaml", root / "waves" / "02-api-dns.yaml")
    text = (root / "waves" / "02-api-dns.yaml").read_text()
    (root / "waves" / "02-api-dns.yaml").write_text(text.replace("depends_on: [orders-db]", "depends_on: []"))
    monkeypatch.chdir(tmp_path)
    return root


def _problems(root: Path) -> list[str]:
    with pytest.raises(RunbookInvalid) as caught:
        load_runbook(root)
    return [str(p) for p in caught.value.problems]


def test_duplicate_yaml_key_is_an_error_not_last_wins(program_dir: Path):
    # Given a wave file that sets `version` twice
    wave = program_dir / "waves" / "02-api-dns.yaml"
    lines = wave.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("version:"))
    wave.write_text("\n".join([*lines[: at + 1], "version: 7", *lines[at + 1 :]]) + "\n")
    # Then the second one is reported where it is, naming the first
    (problem,) = _problems(program_dir)
    assert problem == (
        f"runbooks/waves/02-api-dns.yaml:{at + 2}:1: duplicate key 'version' (first set at line {at + 1})"
    )


def test_duplicate_approver_slack_id_or_name_is_an_error(program_dir: Path):
    # Given two approvers sharing a Slack id, and two Slack ids sharing a name
    program = program_dir / "program.yaml"
    text = program.read_text()
    text = text.replace("{slack: U02BOB, name: bob,", "{slack: U01ALICE, name: bob,")
    text = text.replace("{slack: U06FRANK, name: frank,", "{slack: U06FRANK, name: dave,")
    program.write_text(text)
    problems = _problems(program_dir)
    assert any("Slack id 'U01ALICE' is used by two approvers (alice, bob)" in p for p in problems), problems
    assert any("approver name 'dave' is used by two Slack ids (U04DAVE, U06FRANK)" in p for p in problems)
    assert all(p.startswith("runbooks/program.yaml:") for p in problems)


def test_same_person_in_two_groups_is_fine(program_dir: Path):
    program = program_dir / "program.yaml"
    text = program.read_text()
    alice = next(line for line in text.splitlines() if "U01ALICE" in line)
    program.write_text(text.replace("  payments:\n", "  payments:\n" + alice + "\n"))
    assert load_runbook(program_dir).program.approvers["payments"][0].slack == "U01ALICE"


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("verison: 2", "version"), ("dependson: []", "depends_on"), ("descripton: x", "description")],
)
def test_unknown_field_suggests_the_closest_valid_name(program_dir: Path, typo: str, suggestion: str):
    wave = program_dir / "waves" / "02-api-dns.yaml"
    wave.write_text(wave.read_text() + typo + "\n")
    (problem,) = _problems(program_dir)
    assert problem.endswith(f"unknown field '{typo.split(':')[0]}' (did you mean '{suggestion}'?)")


def test_unknown_nested_field_suggests_from_its_own_section(program_dir: Path):
    wave = program_dir / "waves" / "02-api-dns.yaml"
    wave.write_text(
        wave.read_text().replace(
            "approval: {group: platform,", "approval: {groupe: platform, group: platform,"
        )
    )
    problems = _problems(program_dir)
    assert any(p.endswith("unknown field 'approval.groupe' (did you mean 'group'?)") for p in problems), (
        problems
    )


def test_residency_error_lists_the_allowed_regions(program_dir: Path):
    write = program_dir / "waves" / "01-orders-db.yaml"
    text = (RUNBOOKS / "waves" / "01-orders-db.yaml").read_text()
    write.write_text(text.replace("target_region: eu-central-1", "target_region: us-east-1", 1))
    problems = _problems(program_dir)
    assert any("us-east-1" in p and "eu-" in p.split("us-east-1", 1)[1] for p in problems), problems


@pytest.mark.parametrize(
    "text",
    [
        "wave: [a\n",
        "kind: [db-snapshot-copy]\nwave: x\n",
        "? [a, b]\n: 1\n",
        "- 1\n- 2\n",
        "wave: x\nkind: {a: 1}\n",
    ],
)
def test_cli_answers_a_broken_wave_file_with_exit_2_and_no_traceback(program_dir: Path, text: str):
    from typer.testing import CliRunner

    from wavectl.cli import app

    (program_dir / "waves" / "99-broken.yaml").write_text(textwrap.dedent(text))
    out = program_dir.parent / "cdk.out"
    for command in (
        ["validate", str(program_dir)],
        ["synth", str(program_dir), "--out", str(out), "--no-bundle"],
    ):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        assert "Traceback" not in result.output and "99-broken.yaml:" in result.output
    assert not out.exists()  # nothing synthesised, so nothing can be deployed
