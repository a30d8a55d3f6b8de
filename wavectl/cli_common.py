"""What every `wavectl` command module shares: consoles, exit codes, runbook loading, sessions.

The command modules (`cli.py`, `cli_rehearsal.py`, `cli_operate.py`, `cli_approvals.py`) import this
module and never each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from wavectl.runbook import Runbook, RunbookInvalid, load_runbook

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2

out = Console()
err = Console(stderr=True)
# wide, unwrapped tables for logs and CI; a terminal gets its own width
wide_out = Console() if Console().is_terminal else Console(width=160)

RunbookPath = Annotated[
    Path, typer.Argument(help="runbooks folder (holding program.yaml and waves/) or its program.yaml")
]
Runbooks = Annotated[Path, typer.Option("--runbooks", help="runbooks folder (program.yaml + waves/)")]
Port = Annotated[int | None, typer.Option("--port", help="port of `wavectl local up` (default 4599)")]


def load_or_exit(path: Path) -> Runbook:
    """Load the runbook; on problems print each as file:line:col and exit 2."""
    try:
        return load_runbook(path)
    except RunbookInvalid as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        err.print(f"{len(exc.problems)} problem(s) found; nothing was done.", style="red", highlight=False)
        raise typer.Exit(EXIT_INVALID) from None


def known_wave_or_exit(runbook: Runbook, wave: str) -> None:
    if wave not in {w.wave for w in runbook.waves}:
        err.print(f"no wave named {wave!r} (waves: {', '.join(w.wave for w in runbook.ordered_waves())})")
        raise typer.Exit(EXIT_INVALID)


def session_for(runbook: Runbook, local: bool, port: int | None):
    """A boto3 session on AWS (the caller's credentials), or on `wavectl local up` with --local."""
    import boto3

    if not local:
        return boto3.Session(region_name=runbook.program.home_region)
    from wavectl.local.client import LocalNotRunning, connect

    try:
        return connect(runbook.program.home_region, port)
    except LocalNotRunning as exc:
        err.print(str(exc), style="red")
        raise typer.Exit(EXIT_FAILURE) from None


# ----------------------------------------------------------------------------- AWS errors, one line each

_EXPIRED = {
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
_THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "SlowDown",
}
_MISSING = {"StateMachineDoesNotExist", "ResourceNotFoundException", "ExecutionDoesNotExist", "NoSuchBucket"}
_LOCAL_HINT = "or add --local to use `wavectl local up`"


def aws_error_line(exc: BaseException) -> str | None:
    """One line saying what failed and what to do, for an AWS error; None for anything else."""
    from botocore import exceptions as boto

    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return f"no AWS credentials: sign in (aws sso login or AWS_PROFILE), {_LOCAL_HINT}"
    if isinstance(exc, boto.TokenRetrievalError | boto.SSOTokenLoadError | boto.UnauthorizedSSOTokenError):
        return "your AWS sign-in (SSO) has expired: run `aws sso login` and try again"
    if isinstance(exc, boto.EndpointConnectionError | boto.ConnectTimeoutError | boto.ReadTimeoutError):
        return f"cannot reach AWS ({exc}): check the network, proxy and region"
    if isinstance(exc, boto.NoRegionError):
        return "no AWS region: set AWS_REGION (the runbook's home_region is used where known)"
    if isinstance(exc, boto.ClientError):
        return _client_error_line(exc)
    if isinstance(exc, boto.BotoCoreError):
        return f"AWS call failed: {exc}"
    return None


def _client_error_line(exc: Any) -> str:
    error = exc.response.get("Error", {})
    code, message, operation = error.get("Code", "?"), error.get("Message", ""), exc.operation_name
    if code in _EXPIRED:
        return f"AWS credentials are expired or invalid ({code} on {operation}): sign in again and retry"
    if code in _DENIED:
        return f"access denied for {operation}: {message}; use a role that may do it (see docs/operations.md)"
    if code in _THROTTLED:
        return f"AWS is throttling {operation} ({code}): wait a minute and try again"
    if code in _MISSING:
        return (
            f"{operation}: {message or code}; is the program deployed (`cdk deploy`) in this account/region?"
        )
    return f"AWS {operation} failed: {code}: {message}"


@contextmanager
def progress(message: str) -> Iterator[None]:
    """A spinner on a terminal; elsewhere one plain line on stderr, so nothing long is ever silent."""
    if err.is_terminal:
        with err.status(message):
            yield
    else:
        err.print(message, highlight=False, markup=False, soft_wrap=True)
        yield
