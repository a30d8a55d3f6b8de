"""Fixtures of the tasks tier, defined beside the helpers they use and registered here once."""

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
