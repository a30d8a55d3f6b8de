"""Every AWS call each task function makes during embedded runs, keyed by function name.

A botocore hook (installed by `patches.install`) records, for the task function running on the current
thread, the IAM action of each API call (`<signing name>:<operation>`, e.g. `states:SendTaskSuccess`)
and how it ended (`ok` or the error code), so failure paths count too. The in-process Lambda runtime
marks which function runs (`running(name)`). Calls from threads a handler starts itself carry the
function's context along: the Slack answers do, and so do the worker threads of S3 transfers
(`download_file`, `upload_file`: s3transfer runs their HeadObject, GetObject and part uploads there).

Only calls made with the function's own credentials (its execution role) are recorded as its calls;
calls through a role it assumed in the source or target account are granted by that role, and are
kept apart (`recorded_assumed`).

    calls.recorded()  # {"<program>-approval-callback": {"states:SendTaskSuccess": {"ok"}}}
    calls.accumulated()  # every embedded AWS started in this process (a test session's runs)

`compare(recorded_actions, granted_actions)` is the least-privilege check a test runs against the
synthesised templates' IAM policies (see tests/stacks/templates.py `granted_actions`).
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("wavectl_task_function", default=None)
_lock = threading.Lock()
_calls: dict[str, dict[str, set[str]]] = {}
_assumed: dict[str, dict[str, set[str]]] = {}
_accumulated: dict[str, dict[str, set[str]]] = {}
_accumulated_by_role: dict[str, dict[str, set[str]]] = {}  # assumed role ARN -> its calls, every function


@contextlib.contextmanager
def running(function_name: str) -> Iterator[None]:
    """Attribute the AWS calls made on this thread to `function_name` while the block runs."""
    token = _current.set(function_name)
    try:
        yield
    finally:
        _current.reset(token)


def reset() -> None:
    """Forget this embedded AWS's calls (a new one starts); `accumulated()` keeps them."""
    with _lock:
        _calls.clear()
        _assumed.clear()


def _copy(calls: dict[str, dict[str, set[str]]]) -> dict[str, dict[str, set[str]]]:
    with _lock:
        return {
            fn: {action: set(outcomes) for action, outcomes in actions.items()}
            for fn, actions in calls.items()
        }


def recorded() -> dict[str, dict[str, set[str]]]:
    """{function name: {IAM action: {outcomes}}} of its own role since the last reset."""
    return _copy(_calls)


def recorded_assumed() -> dict[str, dict[str, set[str]]]:
    """The same for calls through roles the functions assumed (source and target accounts)."""
    return _copy(_assumed)


def accumulated() -> dict[str, dict[str, set[str]]]:
    """`recorded()` of every embedded AWS started in this process, merged."""
    return _copy(_accumulated)


def accumulated_by_assumed_role() -> dict[str, dict[str, set[str]]]:
    """{role ARN: {IAM action: {outcomes}}} of the calls task functions made through the source and
    target roles they assumed, in every embedded AWS of this process (what those roles must grant)."""
    return _copy(_accumulated_by_role)


def _note(function_name: str, action: str, outcome: str, own: bool = True, role: str | None = None) -> None:
    with _lock:
        for calls in (_calls, _accumulated) if own else (_assumed,):
            calls.setdefault(function_name, {}).setdefault(action, set()).add(outcome)
        if not own and role is not None:
            _accumulated_by_role.setdefault(role, {}).setdefault(action, set()).add(outcome)


def _assumed_role_arn(client: Any) -> str | None:
    """The role whose temporary credentials `client` signs with (moto keeps which role each key is of)."""
    from moto.iam.models import iam_backends

    credentials = getattr(getattr(client, "_request_signer", None), "_credentials", None)
    access_key = getattr(credentials, "access_key", None)
    for account in list(iam_backends.values()):
        for backend in list(account.values()):
            key = backend.access_keys.get(access_key) if access_key else None
            if key is not None:
                return getattr(key, "role_arn", None)
    return None


def _own_credentials(client: Any) -> bool:
    """The client signs with the runtime's credentials (the execution role: found in the environment),
    not with keys a task passed explicitly (those of a role it assumed, `tasks.common.aws`)."""
    credentials = getattr(getattr(client, "_request_signer", None), "_credentials", None)
    return getattr(credentials, "method", None) != "explicit"


# API operations whose IAM action has another name (the Service Authorization Reference).
IAM_ACTION_OF = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
    "s3:ListBuckets": "s3:ListAllMyBuckets",
    "s3:DeleteObjects": "s3:DeleteObject",
    "s3:CopyObject": "s3:PutObject",  # and s3:GetObject on the source, which the read grant covers
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "s3:AbortMultipartUpload": "s3:AbortMultipartUpload",
    "lambda:Invoke": "lambda:InvokeFunction",
    "lambda:ListFunctions20150331": "lambda:ListFunctions",
}


# Services whose IAM prefix is not their signing name.
IAM_PREFIX_OF = {"monitoring": "cloudwatch", "tagging": "tag"}


def iam_action(action: str) -> str:
    """`signing name:Operation` as the IAM action that authorises it."""
    prefix, operation = action.split(":", 1)
    action = f"{IAM_PREFIX_OF.get(prefix, prefix)}:{operation}"
    return IAM_ACTION_OF.get(action, action)


def action_of(client: Any, operation_name: str) -> str:
    """The IAM action that authorises `operation_name` on `client`'s service."""
    model = client.meta.service_model
    return iam_action(f"{model.signing_name or model.endpoint_prefix}:{operation_name}")


def wrap_make_api_call(original: Any) -> Any:
    """`BaseClient._make_api_call` that records the call for the running task function."""

    def _make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
        function_name = _current.get()
        if function_name is None:
            return original(self, operation_name, api_params)
        action, own = action_of(self, operation_name), _own_credentials(self)
        role = None if own else _assumed_role_arn(self)
        try:
            result = original(self, operation_name, api_params)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
            _note(function_name, action, str(code), own, role)
            raise
        _note(function_name, action, "ok", own, role)
        return result

    return _make_api_call


class _Attributed:
    """An s3transfer task that runs, on whichever worker thread, as the task function that submitted it."""

    def __init__(self, task: Any, function_name: str) -> None:
        self._task, self._function_name = task, function_name

    def __getattr__(self, name: str) -> Any:  # transfer_id and the rest, as the executor reads them
        return getattr(self._task, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with running(self._function_name):
            return self._task(*args, **kwargs)


def wrap_transfer_submit(original: Any) -> Any:
    """`s3transfer.futures.BoundedExecutor.submit` whose tasks keep the submitting task function."""

    def submit(self: Any, task: Any, tag: Any = None, block: bool = True) -> Any:
        function_name = _current.get()
        return original(self, task if function_name is None else _Attributed(task, function_name), tag, block)

    return submit


def patches() -> list[tuple[Any, str, Any]]:
    from botocore.client import BaseClient
    from s3transfer.futures import BoundedExecutor

    return [
        (BaseClient, "_make_api_call", wrap_make_api_call(BaseClient._make_api_call)),
        (BoundedExecutor, "submit", wrap_transfer_submit(BoundedExecutor.submit)),
    ]


@dataclass(frozen=True)
class Difference:
    called_not_granted: list[str]
    granted_not_called: list[str]

    @property
    def empty(self) -> bool:
        return not self.called_not_granted and not self.granted_not_called


def _matches(action: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def compare(called: Iterable[str], granted: Iterable[str], aws_only: Iterable[str] = ()) -> Difference:
    """Actions called but matched by no grant, and grants no call matched (a grant listed in
    `aws_only`, e.g. one only a call site on AWS needs, is not reported as unused)."""
    called, granted = sorted(set(called)), sorted(set(granted))
    excused = set(aws_only)
    return Difference(
        called_not_granted=[a for a in called if not any(_matches(a, g) for g in granted)],
        granted_not_called=[
            g for g in granted if g not in excused and not any(_matches(a, g) for a in called)
        ],
    )
