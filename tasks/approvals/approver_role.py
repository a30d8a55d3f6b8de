"""The CLI route's check that an approver's session name was not chosen by the caller.

Whoever may assume a role picks its session name (`--role-session-name bob`), so an assumed-role ARN
names a person only when the role's trust policy pins the session name: every statement allowing
`sts:AssumeRole` requires `sts:RoleSessionName` to equal `${aws:username}` (IAM users assume it under
their own user name) or requires `sts:SourceIdentity` (set by the identity provider and kept through
role chaining). Roles assumed only through SAML or web identity federation get their session name from
the identity provider and pass too. The callback reads the role's trust policy (`iam:GetRole`, cached
for 5 minutes) and refuses a vote through a role that does not pin it.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import unquote

from tasks.common.logging import logger

_ASSUMED = re.compile(
    r"^arn:(?P<partition>[^:]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/(?P<session>.+)$"
)
PINNED_SESSION = "${aws:username}"
FEDERATED_ONLY = {"sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"}
_CACHE_SECONDS = 300
_cache: dict[str, tuple[float, bool]] = {}


def role_of(caller_arn: str) -> tuple[str, str] | None:
    """(role name, session name) of an assumed-role ARN, else None (an IAM user is its own identity)."""
    match = _ASSUMED.match(caller_arn)
    return (match["role"], match["session"]) if match else None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_values(statement: dict[str, Any], key: str) -> list[str]:
    found: list[str] = []
    for operator, conditions in (statement.get("Condition") or {}).items():
        for name, value in (conditions or {}).items():
            if name.lower() == key.lower() and not operator.startswith("ForAnyValue"):
                found += [str(v) for v in _as_list(value)]
    return found


def statement_pins_session(statement: dict[str, Any]) -> bool:
    if statement.get("Effect") != "Allow":
        return True
    actions = {str(a) for a in _as_list(statement.get("Action") or [])}
    if actions and actions <= FEDERATED_ONLY:
        return True
    if PINNED_SESSION in _condition_values(statement, "sts:RoleSessionName"):
        return True
    return bool(_condition_values(statement, "sts:SourceIdentity"))


def trust_pins_session(trust_policy: dict[str, Any] | str) -> bool:
    """Whether every Allow statement of a role's trust policy pins the session name to the person."""
    document = json.loads(unquote(trust_policy)) if isinstance(trust_policy, str) else trust_policy
    statements = _as_list(document.get("Statement") or [])
    return bool(statements) and all(statement_pins_session(s) for s in statements if isinstance(s, dict))


def session_is_pinned(iam: Any, caller_arn: str) -> bool:
    """True for an IAM user, or an assumed role whose trust policy pins the session name."""
    parsed = role_of(caller_arn)
    if parsed is None:
        return ":user/" in caller_arn
    role = parsed[0]
    cached = _cache.get(role)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        document = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        pinned = trust_pins_session(document)
    except Exception as exc:  # cannot tell: refuse (a vote is easy to repeat, a forged one is not undone)
        logger().warning("approver role unreadable", extra={"role": role, "error": type(exc).__name__})
        return False
    _cache[role] = (time.monotonic() + _CACHE_SECONDS, pinned)
    return pinned
