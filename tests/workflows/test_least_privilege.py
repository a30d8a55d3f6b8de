"""Least privilege derived from calls: every AWS call each task function made with its own role in this
session's embedded runs (every wave's flows, success and failure paths, chaos included), against the
actions its role is granted in the synthesised templates (tests/workflows/least_privilege_support.py).

In a plain pytest run these tests run after every other test of the session (tests/workflows/conftest.py)
and read what the embedded Lambda runtime recorded (wavectl/local/calls.py). Under pytest-xdist (`make
test`) each worker only sees its own runs, so the workers save their recordings and the controller makes
the same comparison once every worker has finished (tests/conftest.py, `pytest_sessionfinish`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.workflows.least_privilege_support import (
    assumed_called_not_granted,
    assumed_granted_not_called,
    called_not_granted,
    every_flow_in,
    granted_not_called,
    open_grants_still_open,
)
from wavectl.local import calls

UNDER_XDIST = "checked by the pytest-xdist controller once every worker has finished (tests/conftest.py)"


@pytest.mark.skipif("PYTEST_XDIST_WORKER" in os.environ, reason=UNDER_XDIST)
def test_every_task_function_calls_only_what_its_role_grants(cloud_assembly):
    # Given every AWS call the task functions made with their own roles in this session's embedded runs
    recorded = calls.accumulated()
    if not recorded:
        pytest.skip("no embedded run in this session: run tests/workflows")
    # Then each action a function called is granted to its role
    assert called_not_granted(recorded, cloud_assembly) == {}


@pytest.mark.skipif("PYTEST_XDIST_WORKER" in os.environ, reason=UNDER_XDIST)
def test_every_grant_of_a_task_function_is_used_by_a_call(cloud_assembly, request):
    # Given every wave's flows ran in this session (including their failure paths)
    if not every_flow_in(Path(str(item.fspath)).name for item in request.session.items):
        pytest.skip("only with every wave's flow tests: a subset of them cannot use every grant")
    # Then every action a function's role grants was called by that function, unless its call site is
    # AWS itself (AWS_ONLY), a path only AWS takes (CALL_SITES_NOT_RUN_OFFLINE names it), or it is a
    # listed open difference (OPEN_GRANTS), and every listed open difference still holds
    assert granted_not_called(calls.accumulated(), cloud_assembly) == {}
    assert open_grants_still_open(calls.accumulated(), cloud_assembly)[1] == {}


@pytest.mark.skipif("PYTEST_XDIST_WORKER" in os.environ, reason=UNDER_XDIST)
def test_every_call_through_a_source_or_target_role_is_granted_by_its_stack(cloud_assembly):
    # Given every AWS call the task functions made through the roles they assumed in other accounts
    recorded = calls.accumulated_by_assumed_role()
    if not recorded:
        pytest.skip("no embedded run in this session: run tests/workflows")
    # Then the role stack of that account grants each (stacks/cross_account.py, stacks/workload_actions.py)
    assert assumed_called_not_granted(recorded, cloud_assembly) == {}


@pytest.mark.skipif("PYTEST_XDIST_WORKER" in os.environ, reason=UNDER_XDIST)
def test_every_grant_of_a_source_or_target_role_is_used_by_a_call(cloud_assembly, request):
    # Given every wave's flows ran in this session (including their failure paths)
    if not every_flow_in(Path(str(item.fspath)).name for item in request.session.items):
        pytest.skip("only with every wave's flow tests: a subset of them cannot use every grant")
    # Then every action a cross-account role grants was called through it by some task
    assert assumed_granted_not_called(calls.accumulated_by_assumed_role(), cloud_assembly) == {}
