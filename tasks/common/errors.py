"""Exceptions whose class name is the named error Step Functions sees.

The Lambda Python runtime reports `type(exc).__name__` as `errorType`, and a Catch or the
execution's failure carries it as `Error`. Each class below is therefore renamed to its
`Wavectl.*` name so that `raise Frozen(...)` fails the state with `Wavectl.Frozen`.
"""

from __future__ import annotations

from tasks.contracts import ErrorName


class WavectlError(Exception):
    """Base class of every named wavectl task error."""

    error_name: ErrorName = ErrorName.TASK_FAILED


def _named(error_name: ErrorName) -> type[WavectlError]:
    cls = type(error_name.value, (WavectlError,), {"error_name": error_name})
    cls.__qualname__ = error_name.value
    cls.__module__ = __name__
    return cls


InvalidInput = _named(ErrorName.INVALID_INPUT)
Frozen = _named(ErrorName.FROZEN)
DependencyNotMet = _named(ErrorName.DEPENDENCY_NOT_MET)
PreflightFailed = _named(ErrorName.PREFLIGHT_FAILED)
Rejected = _named(ErrorName.REJECTED)
TaskFailed = _named(ErrorName.TASK_FAILED)
NotReady = _named(ErrorName.NOT_READY)
VerificationFailed = _named(ErrorName.VERIFICATION_FAILED)
AlarmTripped = _named(ErrorName.ALARM_TRIPPED)
Aborted = _named(ErrorName.ABORTED)
RequesterPending = _named(ErrorName.REQUESTER_PENDING)
RequesterUnknown = _named(ErrorName.REQUESTER_UNKNOWN)
FilesMissing = _named(ErrorName.FILES_MISSING)
ReconciliationFailed = _named(ErrorName.RECONCILIATION_FAILED)
