"""Can a role change the zone? Its identity policies read with IAM and matched statement by statement.

Read-only (iam:GetRole*, iam:ListRolePolicies, iam:ListAttachedRolePolicies, iam:GetPolicy*). It
matches actions and resources with IAM's wildcards; conditions, permission boundaries and SCPs are
not evaluated (AWS decides those at the change itself).
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any
from urllib.parse import unquote


def _document(raw: Any) -> dict[str, Any]:
    return json.loads(unquote(raw)) if isinstance(raw, str) else raw


def role_policies(iam: Any, role_name: str) -> list[dict[str, Any]]:
    documents = []
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        documents.append(
            _document(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
        )
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(
            PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
        )
        documents.append(_document(version["PolicyVersion"]["Document"]))
    return documents


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _matches(patterns: list[str], value: str) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def _statement_covers(statement: dict[str, Any], action: str, resource: str) -> bool:
    if "NotAction" in statement or "NotResource" in statement:
        return False  # never counted as a grant; a Deny with NotAction is reported by AWS itself
    return _matches(_listed(statement.get("Action")), action) and _matches(
        _listed(statement.get("Resource")), resource
    )


def allowed(documents: list[dict[str, Any]], action: str, resource: str) -> bool:
    statements = [s for d in documents for s in _listed_statements(d)]
    if any(s.get("Effect") == "Deny" and _statement_covers(s, action, resource) for s in statements):
        return False
    return any(s.get("Effect") == "Allow" and _statement_covers(s, action, resource) for s in statements)


def _listed_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)
