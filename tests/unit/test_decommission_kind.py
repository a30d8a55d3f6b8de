"""The decommission section: the example loads, each rule is reported at its file:line:col, the plan."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from tests.conftest import RUNBOOKS
from wavectl.runbook import RunbookInvalid, load_runbook

WAVE = """
wave: retire
kind: decommission
version: 1
approval: {{group: platform, required: {required}, timeout: 4h}}
decommission:
  scope:
    regions: [eu-west-1]
    tag: {{key: wavectl:decommission, value: acme-legacy}}
    arns: [arn:aws:s3:::acme-audit-trail]
    data_classes: [eu-payments{extra_class}]
  protected:
    arns: [{protected}]
  retention:
    eu-payments:
      account: "333333333333"
      region: {region}
      period: 7y
      bucket: globex-retention
      kms_key: alias/globex-rds
      shared_kms_key: alias/wavectl-share
  cool_off: 7d
"""


@pytest.fixture
def program_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "runbooks"
    (root / "waves").mkdir(parents=True)
    shutil.copy(RUNBOOKS / "program.yaml", root / "program.yaml")
    monkeypatch.chdir(tmp_path)
    return root


def problems(root: Path, **changes: str) -> list[str]:
    values = {"required": "2", "region": "eu-west-1", "extra_class": "", "protected": "arn:aws:s3:::other"}
    (root / "waves" / "retire.yaml").write_text(
        textwrap.dedent(WAVE.format(**{**values, **changes})).lstrip()
    )
    with pytest.raises(RunbookInvalid) as invalid:
        load_runbook(root)
    return [str(p) for p in invalid.value.problems]


def test_example_decommission_wave_loads_with_its_retention_rules():
    # Given / When the example program is loaded
    wave = load_runbook(RUNBOOKS).wave("decommission-acme")
    # Then its section has the scope, 7 years for payments, and a 7-day cool-off
    section = wave.decommission
    assert section.scope.tag.value == "acme-legacy" and section.cool_off == 7 * 86400
    assert section.retention["eu-payments"].period == "7y" and not section.retention["public"].retain


def test_retention_region_outside_the_residency_is_located(program_dir: Path):
    # Given payments kept in us-east-1, which eu-payments may not live in
    found = problems(program_dir, region="us-east-1")
    # Then the error points at the retention rule's region
    assert found == [
        "runbooks/waves/retire.yaml:16:15: retention region us-east-1 is not allowed for data "
        "class eu-payments (allowed: eu-west-1)"
    ]


def test_protected_resource_named_in_scope_is_an_error(program_dir: Path):
    found = problems(program_dir, protected="arn:aws:s3:::acme-audit-trail")
    assert len(found) == 1 and "protected resource named in scope: arn:aws:s3:::acme-audit-trail" in found[0]
    assert found[0].startswith("runbooks/waves/retire.yaml:")


def test_data_class_in_scope_without_retention_rule_is_an_error(program_dir: Path):
    found = problems(program_dir, extra_class=", eu-personal")
    assert len(found) == 1 and "no retention rule for data class eu-personal in scope" in found[0]


def test_a_single_approver_is_refused(program_dir: Path):
    found = problems(program_dir, required="1")
    assert len(found) == 1 and "at least 2 (four eyes)" in found[0]


def test_plan_describes_scope_retention_and_cool_off_in_80_columns():
    from wavectl.kinds.decommission import describe

    text = describe(load_runbook(RUNBOOKS).wave("decommission-acme"))
    assert "keep eu-payments: 333333333333 eu-west-1, 7y, Object Lock compliance" in text
    assert "cool-off 7d" in text
    assert max(len(line) for line in text.splitlines()) <= 80
