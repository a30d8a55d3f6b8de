"""The approval functions' settings, read lazily (each call) through tasks.common.settings."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from tasks import contracts as c
from tasks.common.aws import own_session
from tasks.common.settings import setting

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
_SECRET_TTL_SECONDS = 300
_secrets: dict[tuple[str, str], tuple[float, str]] = {}


@dataclass(frozen=True)
class Member:
    slack: str
    name: str | None
    iam: tuple[str, ...]


def table_name() -> str:
    return setting(c.ENV_APPROVALS_TABLE)


def evidence_bucket() -> str:
    return setting(c.ENV_EVIDENCE_BUCKET)


def kms_key() -> str | None:
    return setting(c.ENV_KMS_KEY, "") or None


def channel() -> str:
    return setting(c.ENV_SLACK_CHANNEL)


def slack_api_url() -> str:
    return setting(c.ENV_SLACK_API_URL, DEFAULT_SLACK_API_URL) or DEFAULT_SLACK_API_URL


def groups() -> dict[str, list[Member]]:
    """Approver groups of the program (from the runbook, set on the function at deploy)."""
    raw: dict[str, list[dict[str, Any]]] = json.loads(setting(c.ENV_APPROVERS))
    return {
        group: [Member(m["slack"], m.get("name"), tuple(m.get("iam", []))) for m in members]
        for group, members in raw.items()
    }


def secret(name_setting: str) -> str:
    """A Secrets Manager secret's value (name from the setting `name_setting`), cached 5 minutes.

    The cache belongs to the function that read the secret, as a warm Lambda's memory does: where
    several functions share one process (the embedded runtime), each still reads it with its own role.
    """
    name = setting(name_setting)
    cache_key = (setting("AWS_LAMBDA_FUNCTION_NAME", ""), name)
    cached = _secrets.get(cache_key)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    value = own_session().client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    _secrets[cache_key] = (time.monotonic() + _SECRET_TTL_SECONDS, value)
    return value


def signing_secret() -> str:
    return secret(c.ENV_SLACK_SIGNING_SECRET)


def bot_token() -> str:
    return secret(c.ENV_SLACK_BOT_TOKEN_SECRET)
