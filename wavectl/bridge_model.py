"""The program-level `payment_bridge:` section of `runbooks/program.yaml`.

The payment bridge is program infrastructure (deployed once, switched on and off by the
payment-dual-run wave): buckets, the formats it accepts and writes, the enrichment mappings, the
new owner's SFTP endpoint and how long files are kept.

`residency_problems(settings, residency)` is the pure residency rule for the bridge's buckets: a
bucket holding a data class lives only in the regions `residency:` allows for that class.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from tasks.contracts import BridgePipelineSpec

# wavectl.model's Program holds this section, so this module cannot import wavectl.model: the two shared
# pieces are repeated here (tests/unit/test_bridge_model.py checks they stay the same).
Region = Annotated[str, Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Loc = tuple[str | int, ...]

# ----------------------------------------------------------------------------- retention

_RETENTION = re.compile(r"^\s*(\d+)\s*([dy])\s*$")
_DAYS_PER_UNIT = {"d": 1, "y": 365}


def parse_retention_days(value: Any) -> int:
    """`400d`, `7y` (365 days a year), or a plain number of days -> days (S3 lifecycle counts days)."""
    if isinstance(value, bool):
        raise ValueError(f"invalid retention {value!r}: use days or years, e.g. 400d, 7y")
    if isinstance(value, int) and value > 0:
        return value
    match = _RETENTION.match(str(value))
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"invalid retention {value!r}: use days or years, e.g. 400d, 7y")
    return int(match.group(1)) * _DAYS_PER_UNIT[match.group(2)]


RetentionDays = Annotated[
    int,
    BeforeValidator(parse_retention_days),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": r"^[0-9]+[dy]$"}, {"type": "integer", "minimum": 1}],
            "examples": ["400d", "7y"],
        }
    ),
]

# ----------------------------------------------------------------------------- buckets

BucketName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
BUCKET_ROLES: tuple[str, ...] = ("inbound", "outbound", "quarantine", "acknowledgements")


class BridgeBucket(Model):
    name: BucketName
    region: Region
    data_class: str = Field(description="residency data class of what the bucket holds (see `residency:`)")


class BridgeBuckets(Model):
    inbound: BridgeBucket = Field(description="payment extracts land here (database extract, Kubernetes)")
    outbound: BridgeBucket = Field(description="validated, enriched chunks and their manifests")
    quarantine: BridgeBucket = Field(description="rejected records and unparseable files, with reasons")
    acknowledgements: BridgeBucket = Field(description="the new owner's processing acknowledgements")

    @model_validator(mode="after")
    def _distinct(self) -> BridgeBuckets:
        names = [getattr(self, role).name for role in BUCKET_ROLES]
        if len(set(names)) != len(names):
            raise ValueError("the four bridge buckets must have different names")
        return self


# ----------------------------------------------------------------------------- formats


class InputFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PAIN_001_001_03 = "pain.001.001.03"
    PAIN_001_001_09 = "pain.001.001.09"


class BridgeOutput(Model):
    format: Literal["csv", "jsonl"] = Field(default="csv", description="format of the canonical records out")
    chunk_size: int = Field(
        default=5000, ge=1, le=1_000_000, description="at most this many records per output file"
    )


class Enrichment(Model):
    accounts: dict[str, str] = Field(
        default_factory=dict,
        description="old account id (or debtor IBAN) -> the new owner's ledger code; when set, a payment "
        "from an unmapped account is quarantined",
    )
    statuses: dict[str, str] = Field(
        default_factory=dict,
        description="old status code -> new status code; when set, an unmapped status is quarantined",
    )


# ----------------------------------------------------------------------------- SFTP

_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-256",
    "rsa-sha2-512",
)
RemotePath = Annotated[str, Field(pattern=r"^/[A-Za-z0-9._/-]*$")]


def check_host_key(line: str) -> str:
    """An OpenSSH public key line, `<type> <base64 blob> [comment]`, whose blob names the same type."""
    parts = line.split()
    if len(parts) < 2 or parts[0] not in _KEY_TYPES:
        raise ValueError(
            "must be an OpenSSH public key line, e.g. 'ssh-ed25519 AAAAC3Nza... host' "
            f"(key types: {', '.join(_KEY_TYPES)})"
        )
    try:
        blob = base64.b64decode(parts[1], validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        embedded = blob[4 : 4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError) as exc:
        raise ValueError(f"host key is not valid base64 OpenSSH key data ({exc})") from None
    if embedded != parts[0]:
        raise ValueError(f"host key says {parts[0]} but its key data is {embedded!r}")
    return " ".join(parts[:2])


class SftpEndpoint(Model):
    host: str = Field(min_length=1, description="the new owner's SFTP server (host name or IP address)")
    port: int = Field(default=22, ge=1, le=65535)
    user: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    host_key: str = Field(
        description="the server's pinned public host key, one OpenSSH line ('ssh-ed25519 AAAA...'); "
        "a server presenting another key is refused"
    )
    credentials_secret: str = Field(
        min_length=1,
        description="Secrets Manager name of the connector's credentials (user name + private key)",
    )

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, value: str) -> str:
        return check_host_key(value)


class RemoteDirectories(Model):
    outbound: RemotePath = Field(description="directory on the SFTP server the payment chunks are sent to")
    acknowledgements: RemotePath = Field(description="directory the new owner writes acknowledgements to")


# ----------------------------------------------------------------------------- Kubernetes writer (IRSA)


class KubernetesWriter(Model):
    """The old platform's Kubernetes application that writes extracts into inbound (IRSA contract)."""

    oidc_issuer: str = Field(
        pattern=r"^(https://)?[A-Za-z0-9.-]+(/[A-Za-z0-9._-]+)*$",
        description="the cluster's OIDC issuer, e.g. oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53",
    )
    namespace: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    service_account: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    prefix: str = Field(
        default="k8s/",
        pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/$",
        description="the only inbound prefix the pod may write to (ends with /)",
    )


# ----------------------------------------------------------------------------- the section


class PaymentBridgeSettings(Model):
    buckets: BridgeBuckets
    input_formats: list[InputFormat] = Field(
        default_factory=lambda: list(InputFormat), min_length=1, description="formats accepted in inbound"
    )
    output: BridgeOutput = Field(default_factory=BridgeOutput)
    enrichment: Enrichment = Field(default_factory=Enrichment)
    sftp: SftpEndpoint
    remote_directories: RemoteDirectories
    retention: RetentionDays = Field(description="how long bridge files are kept (S3 lifecycle), e.g. 7y")
    kubernetes_writer: KubernetesWriter | None = Field(
        default=None, description="the Kubernetes extract writer allowed into inbound through IRSA"
    )

    @field_validator("input_formats")
    @classmethod
    def _unique_formats(cls, formats: list[InputFormat]) -> list[InputFormat]:
        if len(set(formats)) != len(formats):
            raise ValueError("input_formats lists a format twice")
        return formats


def residency_problems(
    settings: PaymentBridgeSettings, residency: dict[str, list[str]], prefix: Loc = ("payment_bridge",)
) -> list[tuple[Loc, str]]:
    """(location in program.yaml, message) for every bridge bucket outside its data class's regions."""
    problems: list[tuple[Loc, str]] = []
    for role in BUCKET_ROLES:
        bucket: BridgeBucket = getattr(settings.buckets, role)
        where = (*prefix, "buckets", role)
        allowed = residency.get(bucket.data_class)
        if allowed is None:
            known = ", ".join(sorted(residency))
            problems.append(
                (
                    (*where, "data_class"),
                    f"unknown data class '{bucket.data_class}' (residency classes: {known})",
                )
            )
        elif bucket.region not in allowed:
            problems.append(
                (
                    (*where, "region"),
                    f"{role} bucket region {bucket.region} is not allowed for data class {bucket.data_class} "
                    f"(allowed: {', '.join(allowed)})",
                )
            )
    return problems


def pipeline_spec(settings: PaymentBridgeSettings) -> str:
    """The pipeline's settings as `tasks.contracts.ENV_BRIDGE_PIPELINE_SPEC` holds them (compact JSON)."""
    spec = BridgePipelineSpec(
        input_formats=[str(fmt) for fmt in settings.input_formats],
        output_format=settings.output.format,
        chunk_size=settings.output.chunk_size,
        accounts=dict(settings.enrichment.accounts),
        statuses=dict(settings.enrichment.statuses),
    )
    return json.dumps(spec, separators=(",", ":"), sort_keys=True)
