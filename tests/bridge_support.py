"""The payment bridge section the bridge tests use while the example program has none of its own."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINxEYyvXFk4dVmKOr4qj8NhcKSEccXlb9k5SBHQVglvV"
OIDC_ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"


def bridge_section() -> dict[str, Any]:
    def bucket(name: str) -> dict[str, str]:
        return {"name": name, "region": "eu-west-1", "data_class": "eu-payments"}

    return {
        "buckets": {
            "inbound": bucket("globex-bridge-inbound"),
            "outbound": bucket("globex-bridge-outbound"),
            "quarantine": bucket("globex-bridge-quarantine"),
            "acknowledgements": bucket("globex-bridge-acks"),
        },
        "input_formats": ["csv", "jsonl", "pain.001.001.03", "pain.001.001.09"],
        "output": {"format": "csv", "chunk_size": 2},
        "sftp": {
            "host": "sftp.globex.example",
            "port": 22,
            "user": "acme-bridge",
            "host_key": HOST_KEY,
            "credentials_secret": "wavectl/bridge/sftp",
        },
        "remote_directories": {"outbound": "/inbound/payments", "acknowledgements": "/outbound/acks"},
        "retention": "7y",
        "kubernetes_writer": {
            "oidc_issuer": OIDC_ISSUER,
            "namespace": "payments",
            "service_account": "payment-extract-writer",
            "prefix": "k8s/",
        },
    }


def with_bridge(runbook):
    """The runbook itself if its program has a payment bridge, else a copy with `bridge_section()`."""
    if getattr(runbook.program, "payment_bridge", None) is not None:
        return runbook
    from wavectl.bridge_model import PaymentBridgeSettings

    settings = PaymentBridgeSettings.model_validate(bridge_section())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Program has no payment_bridge field until the seam wires it
        program = runbook.program.model_copy(update={"payment_bridge": settings})
    return dataclasses.replace(runbook, program=program)
