"""A Distributed Map whose child executions fail fails its Map Run, as on AWS (moto lets it succeed).

moto's Distributed Map counts a failed child execution (`item_counter.failed`) and goes on: the Map
Run ends `SUCCEEDED` with `null` in the failed item's place, whatever `ToleratedFailureCount` /
`ToleratedFailurePercentage` say, so a state's Catch never sees the failure. On AWS the Map Run fails
with `States.ExceedToleratedFailureThreshold` as soon as more items have failed (or timed out, or
were aborted) than the tolerated count or percentage allow (both 0 by default: the first failure),
and it starts no further item.

This patch makes the item that crosses the threshold end its worker with that error: moto's job pool
then starts no further item and the Map state raises it (a `MapRunFailed` event, then the state's
Retry/Catch). Child executions already running are not stopped here (on AWS Step Functions stops
them): they run to their end, which a workflow that waits for its children before compensating
(db-snapshot-copy) sees either way. Generic: nothing here knows a wave.
"""

from __future__ import annotations

from typing import Any

THRESHOLD_ERROR = "States.ExceedToleratedFailureThreshold"
THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"


def patches() -> list[tuple[Any, str, Any]]:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (  # noqa: E501
        DistributedItemProcessorWorker,
    )

    worker = DistributedItemProcessorWorker
    return [(worker, "_eval_job", _eval_job(worker._eval_job))]


def _unsuccessful(record: Any) -> int:
    counter = record.item_counter
    return counter.failed.get() + counter.timed_out.get() + counter.aborted.get()


def exceeds_tolerance(unsuccessful: int, total: int, count: int, percentage: float) -> bool:
    """AWS: the Map Run fails when the failed items exceed the tolerated count or percentage."""
    return unsuccessful > count or (total > 0 and 100.0 * unsuccessful / total > percentage)


def _eval_job(original):
    def eval_job(self, env, job) -> None:
        record = self._map_run_record
        before = _unsuccessful(record)
        original(self, env, job)
        unsuccessful = _unsuccessful(record)
        total = self._job_pool._jobs_number
        if unsuccessful > before and exceeds_tolerance(
            unsuccessful, total, record.tolerated_failure_count, record.tolerated_failure_percentage
        ):
            job.job_output = _threshold_exceeded(env)

    return eval_job


def _threshold_exceeded(env: Any) -> Exception:
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    class StatesErrorName(ErrorName):  # moto's CustomErrorName refuses the States. prefix
        pass

    details = MapRunFailedEventDetails(error=THRESHOLD_ERROR, cause=THRESHOLD_CAUSE)
    return FailureEventException(
        FailureEvent(
            env=env,
            error_name=StatesErrorName(error_name=THRESHOLD_ERROR),
            event_type=HistoryEventType.MapRunFailed,
            event_details=EventDetails(mapRunFailedEventDetails=details),
        )
    )
