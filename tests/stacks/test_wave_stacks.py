"""Synthesised stacks: one versioned state machine per wave, alias `live`, deterministic digests."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RUNBOOKS
from tests.stacks.templates import resources_of_type, template, wave_machine


def wave_templates(assembly: Path) -> dict[str, dict]:
    return {
        p.name.removesuffix(".template.json"): json.loads(p.read_text())
        for p in assembly.glob("Wave-*.template.json")
    }


def version_descriptions(assembly: Path) -> dict[str, str]:
    """The description of each wave's own state machine version (`<wave> v<n> sha256:...`)."""
    found = {}
    for name, tmpl in wave_templates(assembly).items():
        wave = name.removeprefix("Wave-")
        versions = resources_of_type(tmpl, "AWS::StepFunctions::StateMachineVersion")
        (found[name],) = [v["Properties"]["Description"] for v in versions
                          if v["Properties"]["Description"].startswith(f"{wave} v")]  # fmt: skip
    return found


def test_every_wave_has_one_state_machine_one_version_and_alias_live(cloud_assembly: Path, example_runbook):
    # Given the example program synthesised
    templates = wave_templates(cloud_assembly)
    # Then there is one stack per wave
    assert sorted(templates) == sorted(f"Wave-{w.wave}" for w in example_runbook.waves)
    for name, tmpl in templates.items():
        wave = name.removeprefix("Wave-")
        machine = wave_machine(tmpl, name)
        [version] = [v for v in resources_of_type(tmpl, "AWS::StepFunctions::StateMachineVersion")
                     if v["Properties"]["Description"].startswith(f"{wave} v")]  # fmt: skip
        [alias] = [a for a in resources_of_type(tmpl, "AWS::StepFunctions::StateMachineAlias")
                   if a["Properties"]["Description"].startswith(f"{wave}:")]  # fmt: skip
        assert machine["Properties"]["StateMachineName"] == f"acme-to-globex-{wave}"
        # the version is republished when the state machine's revision changes, and old ones are kept
        assert version["Properties"]["StateMachineRevisionId"]["Fn::GetAtt"][1] == "StateMachineRevisionId"
        assert version["UpdateReplacePolicy"] == "Retain"
        runbook_version = example_runbook.wave(wave).version
        assert re.fullmatch(
            rf"{wave} v{runbook_version} sha256:[0-9a-f]{{64}}", version["Properties"]["Description"]
        )
        assert alias["Properties"]["Name"] == "live"
        [route] = alias["Properties"]["RoutingConfiguration"]
        assert route["Weight"] == 100


def test_control_plane_encrypts_and_locks_evidence(cloud_assembly: Path):
    tmpl = template(cloud_assembly, "ControlPlane")
    [key] = resources_of_type(tmpl, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    evidence = next(
        b for b in resources_of_type(tmpl, "AWS::S3::Bucket") if "ObjectLockConfiguration" in b["Properties"]
    )
    props = evidence["Properties"]
    assert props["ObjectLockEnabled"] is True
    assert (
        props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
            "SSEAlgorithm"
        ]
        == "aws:kms"
    )
    [table] = [
        t
        for t in resources_of_type(tmpl, "AWS::DynamoDB::Table")
        if t["Properties"]["TableName"].endswith("-approvals")
    ]
    assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True
    # TLS-only: the evidence bucket policy denies requests without SecureTransport
    policies = [json.dumps(p) for p in resources_of_type(tmpl, "AWS::S3::BucketPolicy")]
    assert any('"aws:SecureTransport": "false"' in p for p in policies)


def test_task_assets_contain_only_tasks(cloud_assembly: Path):
    # Given the Lambda asset folders staged in the assembly
    assets = [p for p in cloud_assembly.glob("asset.*") if p.is_dir()]
    assert assets
    for asset in assets:
        # Then each holds the tasks package and nothing else of the project
        assert sorted(p.name for p in asset.iterdir()) == ["tasks"]
        assert (asset / "tasks" / "contracts.py").is_file()


def test_cfn_lint_finds_no_errors(cloud_assembly: Path):
    templates = sorted(str(p) for p in cloud_assembly.glob("*.template.json"))
    # E = errors; informational/warning rules are reviewed, not gating
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--format",
            "parseable",
            "--non-zero-exit-code",
            "error",
            *templates,
        ],
        capture_output=True,
        text=True,
    )
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert result.returncode == 0 and not errors, result.stdout + result.stderr


def test_cdk_nag_passes_on_the_program_and_fails_synth_on_a_new_finding(example_runbook, tmp_path: Path):
    # Given the program's app (cdk-nag AwsSolutions, PCI DSS 3.2.1 and NIST 800-53 R5 wired in by
    # build_app); the session's assembly synthesised, so the program itself has no unacknowledged finding
    from wavectl.paths import configure_jsii_node

    configure_jsii_node()
    from aws_cdk import App
    from aws_cdk import aws_s3 as s3

    from stacks.app import build_app

    app = build_app(App(outdir=str(tmp_path / "out"), context={"wavectl:bundle": "false"}), example_runbook)
    # When someone adds a bucket without TLS enforcement, logging or encryption settings
    s3.Bucket(app.node.find_child("ControlPlane"), "Careless")
    # Then synth fails, naming the rule
    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        app.synth()
    message = str(failure.value)
    assert "AwsSolutions-S10" in message  # the bucket does not require TLS
    # every pack is active: each finds something wrong with the bucket
    for pack in ("AwsSolutions::", "PCI.DSS.321::", "NIST.800.53.R5::"):
        assert f"Acknowledge with '{pack}" in message, pack
    # and only the new bucket is named: the program's own resources pass every pack
    named = {line.split()[0] for line in message.splitlines() if line.startswith("   ") and "/" in line}
    assert named and all(path.startswith("ControlPlane/Careless/") for path in named), named


@pytest.fixture
def copied_runbooks(tmp_path: Path) -> Path:
    target = tmp_path / "runbooks"
    shutil.copytree(RUNBOOKS, target)
    return target


def test_synth_is_deterministic_and_digest_follows_the_definition(
    cloud_assembly: Path, copied_runbooks: Path, tmp_path: Path
):
    from wavectl.runbook import load_runbook
    from wavectl.synth import synthesize

    # Given the same runbooks synthesised again
    again = tmp_path / "again"
    synthesize(load_runbook(copied_runbooks), again, bundle=False)
    # Then every template is byte-identical (changing nothing changes nothing)
    for original in cloud_assembly.glob("*.template.json"):
        assert (again / original.name).read_text() == original.read_text(), original.name

    # When a wave's definition changes (a new freeze window goes into every guard's parameters)
    program = copied_runbooks / "program.yaml"
    program.write_text(
        program.read_text()
        + '  - {name: audit week, start: "2028-03-01T00:00:00Z", end: "2028-03-08T00:00:00Z"}\n'
    )
    changed = tmp_path / "changed"
    synthesize(load_runbook(copied_runbooks), changed, bundle=False)
    # Then each wave's version description carries a different digest
    before, after = version_descriptions(cloud_assembly), version_descriptions(changed)
    for stack, description in before.items():
        assert after[stack] != description
        assert after[stack].split(" sha256:")[0] == description.split(" sha256:")[0]
