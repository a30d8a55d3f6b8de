"""The dns-cutover section: each refused rule reported at its FILE:LINE:COL; the plan text."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import RUNBOOKS
from tests.unit.test_runbook import problems_of, write_wave
from wavectl.kinds.dns_cutover import describe, task_spec
from wavectl.runbook import load_runbook

WAVE = """
wave: api-dns
kind: dns-cutover
version: 1
approval: {{group: platform, required: 2, timeout: 2h}}
region: eu-west-1
dns:
  zone: {{name: acme-invest.example, account: source}}
  records:
    - {{name: api.acme-invest.example, old_target: api-old.acme-invest.example,
       new_target: api-new.acme-invest.example}}
    - {{name: {second}, old_target: www-old.acme-invest.example, new_target: www-new.acme-invest.example}}
  steps: {steps}
  gated_steps: {gated}
  cutover_ttl: 60s
  bake: {bake}
  alarms:
    - {{name: api-5xx-rate}}
    - {{name: {alarm}}}
"""


@pytest.fixture
def program_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example program.yaml with an empty waves/ folder; paths shown relative."""
    root = tmp_path / "runbooks"
    (root / "waves").mkdir(parents=True)
    shutil.copy(RUNBOOKS / "program.yaml", root / "program.yaml")
    monkeypatch.chdir(tmp_path)
    return root


def wave(second="www.acme-invest.example", steps="[10, 50, 100]", gated="[100]", bake="15m", alarm="api-p99"):
    return WAVE.format(second=second, steps=steps, gated=gated, bake=bake, alarm=alarm)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"steps": "[10, 50, 90]"},
            "runbooks/waves/api-dns.yaml:12:10: dns.steps: steps [10, 50, 90] must end at 100",
        ),
        (
            {"steps": "[10, 50, 50, 100]"},
            "runbooks/waves/api-dns.yaml:12:10: dns.steps: steps [10, 50, 50, 100] must be strictly "
            "increasing",
        ),
        (
            {"bake": "30s"},
            "runbooks/waves/api-dns.yaml:15:9: dns.bake: bake 30s is shorter than the cutover TTL 1m",
        ),
        (
            {"gated": "[25, 100]"},
            "runbooks/waves/api-dns.yaml:13:16: dns.gated_steps: gated_steps [25] not in steps [10, 50, 100]",
        ),
        (
            {"alarm": "api-5xx-rate"},
            "runbooks/waves/api-dns.yaml:17:5: dns.alarms: alarm api-5xx-rate is listed twice",
        ),
        (
            {"second": "api.acme-invest.example"},
            "runbooks/waves/api-dns.yaml:9:5: dns.records: record CNAME api.acme-invest.example is "
            "listed twice",
        ),
    ],
)
def test_dns_cutover_section_refuses_each_broken_rule_at_its_line(program_dir, change, expected):
    # Given a dns-cutover wave breaking one rule
    write_wave(program_dir, "api-dns", wave(**change))
    # When it is loaded, Then the problem is reported at the field, with the rule broken
    problems = problems_of(program_dir)
    assert any(p.startswith(expected) for p in problems), problems


def test_dns_cutover_defaults_gate_the_step_to_100_and_alarms_to_the_wave_region(program_dir):
    # Given a wave without gated_steps and alarms without a region
    write_wave(program_dir, "api-dns", wave().replace("  gated_steps: [100]\n", ""))
    # When it is loaded
    spec = task_spec(load_runbook(program_dir).wave("api-dns"))
    # Then the step to 100 is gated, alarms are in the wave's region, the original TTL comes back
    assert spec["gated_steps"] == [100] and spec["alarm_poll"] == 30 and spec["final_ttl"] is None
    assert {a["region"] for a in spec["alarms"]} == {"eu-west-1"}


def test_dns_cutover_plan_text_fits_80_columns_and_names_records_steps_and_alarms():
    # Given the example api-dns wave
    text = describe(load_runbook(RUNBOOKS).wave("api-dns"))
    # Then every line fits 80 columns and the plan names what an approver needs
    assert all(len(line) <= 80 for line in text.splitlines()), text
    assert "api.acme-invest.example" in text and "www.acme-invest.example" in text
    assert "100% new: gate, bake 10m" in text and "api-5xx-rate" in text
