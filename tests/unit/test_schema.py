"""The committed JSON Schema is current and accepts the example runbooks (what editors check)."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from tests.conftest import RUNBOOKS
from wavectl.runbook import json_schema

RUNBOOK_FILES = [RUNBOOKS / "program.yaml", *sorted((RUNBOOKS / "waves").glob("*.yaml"))]


def test_committed_schema_is_current():
    # a stale runbooks/schema.json would make editors flag valid runbooks: regenerate with `wavectl schema`
    assert json.loads((RUNBOOKS / "schema.json").read_text()) == json_schema()


@pytest.mark.parametrize("path", RUNBOOK_FILES, ids=lambda p: p.name)
def test_example_files_validate_against_the_schema(path):
    jsonschema.validate(yaml.safe_load(path.read_text()), json_schema())


def test_schema_rejects_an_unknown_kind():
    wave = yaml.safe_load((RUNBOOKS / "waves" / "02-api-dns.yaml").read_text())
    wave["kind"] = "lift-and-shift"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wave, json_schema())
