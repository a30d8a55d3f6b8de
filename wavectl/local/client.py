"""Talking to a running `wavectl local up` from another process (start, status, approvals)."""

from __future__ import annotations

import os
import socket

import boto3

from wavectl.local.accounts import FAKE_ACCESS_KEY, FAKE_SECRET_KEY

DEFAULT_PORT = 4599
PORT_VARIABLE = "WAVECTL_LOCAL_PORT"


class LocalNotRunning(RuntimeError):
    """Nothing listens on the local port: `wavectl local up` is not running."""


def local_port(port: int | None = None) -> int:
    return port or int(os.environ.get(PORT_VARIABLE, DEFAULT_PORT))


def endpoint(port: int | None = None) -> str:
    return f"http://127.0.0.1:{local_port(port)}"


def connect(region: str, port: int | None = None) -> boto3.Session:
    """A tooling-account session whose every client talks to the local embedded AWS (127.0.0.1 only).

    Sets `AWS_ENDPOINT_URL` and fake credentials for this process, so clients made later by any
    code (the approvals commands too) reach the same embedded AWS and never a real endpoint.
    """
    port = local_port(port)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        raise LocalNotRunning(
            f"no embedded AWS on 127.0.0.1:{port}; start it with `wavectl local up`"
        ) from None
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint(port),
        AWS_ACCESS_KEY_ID=FAKE_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=FAKE_SECRET_KEY,
        AWS_DEFAULT_REGION=region,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return boto3.Session(
        aws_access_key_id=FAKE_ACCESS_KEY, aws_secret_access_key=FAKE_SECRET_KEY, region_name=region
    )
