"""`local_cloud`: the example program deployed into a fresh embedded AWS for each test.

The cloud assembly is synthesised once per session (`cloud_assembly` in tests/conftest.py); the
embedded AWS (moto, the patches, the local Slack, the seeded estate) is new for every test.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator

import pytest

from wavectl.local.engine import LocalCloud


@pytest.fixture
def make_local_cloud(example_runbook, cloud_assembly) -> Iterator[Callable[..., LocalCloud]]:
    """Start a LocalCloud with options (`speed=`, `seed_estate=`, `waves=`); stopped after the test."""
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


class NonLocalConnection(AssertionError):
    """A workflow test tried to reach something other than this machine."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch) -> list[str]:
    """Every workflow test runs with outbound connections limited to 127.0.0.0/8 and ::1.

    The embedded AWS is in-process and the local Slack listens on 127.0.0.1; a connection anywhere
    else (a real AWS endpoint, real Slack) fails the test instead of leaving the machine.
    """
    refused: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(sock: socket.socket, address) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(str(address[0])):
            refused.append(str(address[0]))
            raise NonLocalConnection(f"refused connection to {address[0]}: tests stay on 127.0.0.1")

    def connect(sock, address):
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock, address):
        check(sock, address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return refused


LAST_MODULES = ("test_least_privilege.py",)  # compare what every other workflow test recorded


def pytest_collection_modifyitems(config, items) -> None:
    """The least-privilege comparison runs after every embedded run of the session."""
    items.sort(key=lambda item: item.nodeid.split("::")[0].endswith(LAST_MODULES))
