"""statelint over every state machine definition as deployed (intrinsics resolved to real ARNs).

statelint's FLOAT rule is ignored (as its own `--ignore` offers): CDK writes `BackoffRate: 2`,
which Step Functions accepts; statelint wants `2.0`.

statelint 3.1.0 (the latest) knows only `MaxItems`/`MaxItemsPath` in a Distributed Map's
`ItemReader.ReaderConfig`; the fields the ASL documents beside them (`InputType`: CSV, JSON, JSONL,
MANIFEST, PARQUET; `CSVHeaderLocation`; `CSVHeaders`; AWS docs "ItemReader (Map)") are taught to it
here, so a misspelt or unknown field is still refused rather than ignored.
"""

from __future__ import annotations

import pytest
from statelint.config import Config
from statelint.fields import MAX_ITEMS, MAX_ITEMS_PATH
from statelint.fields.container import OneOfField
from statelint.fields.list_field import ListField
from statelint.fields.str_field import EnumStrField, StrField
from statelint.linter import Linter
from statelint.nodes import map_state
from statelint.problem import ProblemType

from wavectl.local.engine import LocalCloud


@pytest.fixture(scope="module")
def deployed_definitions(example_runbook, cloud_assembly) -> dict[str, str]:
    """Every state machine's definition read back from the embedded AWS after a deploy from cdk.out."""
    with LocalCloud(example_runbook, cloud_assembly, seed_estate=False) as cloud:
        sfn = cloud.session.client("stepfunctions")
        return {
            name: sfn.describe_state_machine(stateMachineArn=arn)["definition"]
            for name, arn in cloud.resources.state_machines.items()
        }


def test_every_wave_has_a_deployed_definition(deployed_definitions, example_runbook):
    # Then one definition per wave was deployed, and the database wave's per-database workflow beside it
    waves = {example_runbook.state_machine_name(w.wave) for w in example_runbook.waves}
    databases = [w for w in example_runbook.waves if w.kind == "db-snapshot-copy"]
    database_workflows = {f"{example_runbook.state_machine_name(w.wave)}-database" for w in databases}
    assert set(deployed_definitions) == waves | database_workflows


READER_CONFIG_FIELDS = [
    OneOfField(MAX_ITEMS, MAX_ITEMS_PATH),
    EnumStrField("InputType", ["CSV", "JSON", "JSONL", "MANIFEST", "PARQUET"]),
    EnumStrField("CSVHeaderLocation", ["FIRST_ROW", "GIVEN"]),
    ListField("CSVHeaders", StrField),
]


def test_resolved_definitions_pass_statelint(deployed_definitions, monkeypatch):
    # Given statelint taught the documented ReaderConfig fields it does not know yet
    taught = property(lambda self: READER_CONFIG_FIELDS)
    monkeypatch.setattr(map_state.ReaderConfig, "optional_fields", taught)
    # When statelint checks each resolved definition (dangling Next, unreachable states, fields)
    config = Config(ignored_problem_types={ProblemType.FLOAT})
    problems = {
        name: Linter.validate(definition, config) for name, definition in deployed_definitions.items()
    }

    # Then none has a problem
    assert problems == {name: [] for name in deployed_definitions}
