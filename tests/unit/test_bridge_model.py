"""The program-level `payment_bridge:` section: what it accepts, what it refuses, the residency rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from wavectl.bridge_model import PaymentBridgeSettings, parse_retention_days, residency_problems

HOST_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINxEYyvXFk4dVmKOr4qj8NhcKSEccXlb9k5SBHQVglvV counterparty-sftp"
)
RESIDENCY = {"eu-payments": ["eu-west-1"], "public": ["eu-west-1", "us-east-1"]}


def bridge_section(**overrides: Any) -> dict[str, Any]:
    def bucket(name: str) -> dict[str, str]:
        return {"name": name, "region": "eu-west-1", "data_class": "eu-payments"}

    section: dict[str, Any] = {
        "buckets": {
            "inbound": bucket("globex-bridge-inbound"),
            "outbound": bucket("globex-bridge-outbound"),
            "quarantine": bucket("globex-bridge-quarantine"),
            "acknowledgements": bucket("globex-bridge-acks"),
        },
        "input_formats": ["csv", "jsonl", "pain.001.001.03", "pain.001.001.09"],
        "output": {"format": "csv", "chunk_size": 1000},
        "enrichment": {"accounts": {"ACME-0042": "GLX-LEDGER-7"}, "statuses": {"SETTLED": "ACSC"}},
        "sftp": {
            "host": "127.0.0.1",
            "port": 2222,
            "user": "acme-bridge",
            "host_key": HOST_KEY,
            "credentials_secret": "wavectl/bridge/sftp",
        },
        "remote_directories": {"outbound": "/inbound/payments", "acknowledgements": "/outbound/acks"},
        "retention": "7y",
    }
    section.update(overrides)
    return section


def test_bridge_settings_accept_a_complete_section():
    # Given a complete section / When it is validated
    settings = PaymentBridgeSettings.model_validate(bridge_section())
    # Then retention is in days, the host key is kept without its comment, the chunk size is kept
    assert settings.retention == 7 * 365
    assert settings.sftp.host_key == HOST_KEY.rsplit(" ", 1)[0]
    assert settings.output.chunk_size == 1000
    assert settings.enrichment.accounts == {"ACME-0042": "GLX-LEDGER-7"}


@pytest.mark.parametrize(("text", "days"), [("400d", 400), ("7y", 2555), (30, 30), (" 2 y ", 730)])
def test_retention_parses_days_and_years(text, days):
    assert parse_retention_days(text) == days


@pytest.mark.parametrize("text", ["0d", "7m", "forever", True, -3])
def test_retention_refuses_what_is_not_days_or_years(text):
    with pytest.raises(ValueError, match="use days or years"):
        parse_retention_days(text)


def test_bridge_settings_refuse_a_host_key_whose_type_does_not_match_its_data():
    # Given an ed25519 key relabelled as RSA
    section = bridge_section()
    section["sftp"]["host_key"] = "ssh-rsa " + HOST_KEY.split()[1]
    # When / Then validation names the mismatch
    with pytest.raises(ValidationError, match="host key says ssh-rsa but its key data is 'ssh-ed25519'"):
        PaymentBridgeSettings.model_validate(section)


def test_bridge_settings_refuse_a_host_key_that_is_not_a_key_line():
    section = bridge_section()
    section["sftp"]["host_key"] = "SHA256:abcdef"
    with pytest.raises(ValidationError, match="OpenSSH public key line"):
        PaymentBridgeSettings.model_validate(section)


def test_bridge_settings_refuse_an_unknown_input_format_and_a_zero_chunk():
    with pytest.raises(ValidationError) as caught:
        PaymentBridgeSettings.model_validate(
            bridge_section(input_formats=["csv", "pain.001.001.02"], output={"chunk_size": 0})
        )
    fields = {error["loc"][:2] for error in caught.value.errors()}
    assert fields == {("input_formats", 1), ("output", "chunk_size")}


def test_bridge_settings_refuse_two_roles_sharing_a_bucket():
    section = bridge_section()
    section["buckets"]["quarantine"]["name"] = "globex-bridge-outbound"
    with pytest.raises(ValidationError, match="different names"):
        PaymentBridgeSettings.model_validate(section)


def test_residency_problems_none_when_every_bucket_is_in_its_class_regions():
    settings = PaymentBridgeSettings.model_validate(bridge_section())
    assert residency_problems(settings, RESIDENCY) == []


def test_residency_problems_locate_a_payments_bucket_outside_the_eu():
    # Given the outbound bucket moved to us-east-1 while it holds eu-payments data
    section = copy.deepcopy(bridge_section())
    section["buckets"]["outbound"]["region"] = "us-east-1"
    settings = PaymentBridgeSettings.model_validate(section)
    # When the residency rule runs / Then it points at that bucket's region in program.yaml
    assert residency_problems(settings, RESIDENCY) == [
        (
            ("payment_bridge", "buckets", "outbound", "region"),
            "outbound bucket region us-east-1 is not allowed for data class eu-payments (allowed: eu-west-1)",
        )
    ]


def test_residency_problems_name_an_unknown_data_class():
    section = bridge_section()
    section["buckets"]["acknowledgements"]["data_class"] = "eu-pay"
    settings = PaymentBridgeSettings.model_validate(section)
    [(loc, message)] = residency_problems(settings, RESIDENCY)
    assert loc == ("payment_bridge", "buckets", "acknowledgements", "data_class")
    assert message == "unknown data class 'eu-pay' (residency classes: eu-payments, public)"


def test_bridge_model_shares_the_runbook_model_base_and_region_rule():
    # wavectl.model imports the bridge section, so the section repeats two pieces: they must not drift
    from typing import get_args

    from wavectl import bridge_model, model

    assert bridge_model.Model.model_config == model.Model.model_config

    def pattern(region: object) -> list[str]:
        return [item.pattern for item in get_args(region)[1].metadata]

    assert pattern(bridge_model.Region) == pattern(model.Region)


def test_example_program_has_a_valid_payment_bridge():
    from tests.conftest import RUNBOOKS
    from wavectl.runbook import load_runbook

    bridge = load_runbook(RUNBOOKS).program.payment_bridge
    assert bridge is not None and bridge.buckets.outbound.data_class == "eu-payments"


def test_loader_reports_a_bridge_bucket_outside_its_regions_at_its_line(tmp_path, monkeypatch):
    # Given the example runbooks with the outbound bridge bucket moved to us-east-1
    import shutil

    from tests.conftest import RUNBOOKS
    from wavectl.runbook import RunbookInvalid, load_runbook

    root = tmp_path / "runbooks"
    shutil.copytree(RUNBOOKS, root)
    program = root / "program.yaml"
    lines = program.read_text().splitlines()
    number = next(i for i, line in enumerate(lines) if "globex-payment-bridge-outbound" in line)
    lines[number] = lines[number].replace("eu-west-1", "us-east-1")
    program.write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(tmp_path)
    # When the runbooks are loaded
    with pytest.raises(RunbookInvalid) as caught:
        load_runbook(root)
    # Then the problem names program.yaml, the line and column of that region, and the rule
    column = lines[number].index("us-east-1") + 1
    assert [str(p) for p in caught.value.problems] == [
        f"runbooks/program.yaml:{number + 1}:{column}: outbound bucket region us-east-1 is not allowed "
        "for data class eu-payments (allowed: eu-west-1)"
    ]
