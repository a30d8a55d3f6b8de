"""Fixtures of the tasks tier, defined beside the helpers they use and registered here once."""

import pytest

from tasks.contracts import cold_start_all
from tests.tasks.approvals_support import task_logs_fixture, world_fixture
from tests.tasks.db_copy_support import cloud_fixture, instance_runbook_fixture
from tests.tasks.decommission_support import estate_fixture
from tests.tasks.dns_cutover_support import dns_fixture

__all__ = [
    "cloud_fixture",
    "dns_fixture",
    "estate_fixture",
    "instance_runbook_fixture",
    "task_logs_fixture",
    "world_fixture",
]


@pytest.fixture(autouse=True)
def cold_functions() -> None:
    """Each test here has its own moto: no session a task function kept while warm may carry over."""
    cold_start_all()
