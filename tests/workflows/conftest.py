"""`local_cloud`: the example program deployed into a fresh embedded AWS for each test.

The cloud assembly is synthesised once per session (`cloud_assembly` in tests/conftest.py); the
embedded AWS (moto, the patches, the local Slack, the seeded estate) is new for every test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from wavectl.local.engine import LocalCloud


@pytest.fixture
def make_local_cloud(example_runbook, cloud_assembly) -> Iterator[Callable[..., LocalCloud]]:
    """Start a LocalCloud with options (`speed=`, `seed_estate=`); stopped after the test."""
    started: list[LocalCloud] = []

    def make(**options) -> LocalCloud:
        cloud = LocalCloud(example_runbook, cloud_assembly, **options).start()
        started.append(cloud)
        return cloud

    yield make
    for cloud in started:
        cloud.stop()


@pytest.fixture
def local_cloud(make_local_cloud) -> LocalCloud:
    """The example program deployed into a fresh embedded AWS, fast time, estate seeded."""
    return make_local_cloud()
