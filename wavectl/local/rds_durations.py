"""Simulated RDS durations: snapshots, copies, restores and deletes take time in the embedded AWS.

moto makes every RDS resource `available` (and deletes it) at once, so a wave's Wait/Poll loop
would never loop. With this patch each long operation keeps its resource in the in-progress
status AWS reports (`creating`, `deleting`) for a simulated duration on the runner's clock
(`wavectl.local.clock.SimClock`, which compressed Wait states advance):

- the duration is the planning figure of `tasks.common.backoff` for the operation, the database
  type and its size (an instance's `AllocatedStorage`; a cluster's size as seeded with
  `RdsDurations.sizes`, else the default Aurora size), times a factor (1.0 by default);
- `RdsDurations.override(database, factor=..., operation=..., fail_with=...)` changes that for
  one database (tests): a slower or faster operation, or one that ends in a failed status;
- a deleted resource stays listed as `deleting` for `DELETE_SECONDS` and then goes;
- `RdsDurations.finish()` ends every operation still in progress now (a test holds some operations
  with a long duration until a point of its scenario, then releases them);
- the call that starts an operation always answers with it in progress (as on AWS), and only a later
  Describe* can find it finished: the shared clock may jump past a short operation's end while the
  request that started it runs (another execution's Wait ending), and a Wait/Poll loop would then
  never run.

It is generic (any wave, any caller) and only acts once `start()` is called, after seeding, so the
seeded estate is `available` at once. Nothing here knows a wave; it patches moto's RDS backend.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from tasks.common.backoff import DEFAULT_CLUSTER_GIB, expected_seconds

BUSY = "_wavectl_busy"
FRESH = "_wavectl_fresh"  # started by the current request: in progress whatever the clock says
PLAIN_STATUS = "_wavectl_status"
DELETE_SECONDS = {"instance": 300, "cluster": 300, "snapshot": 60}


@dataclass(frozen=True)
class Busy:
    status: str  # what RDS reports meanwhile
    until: float  # simulated second it ends
    then: str | None = None  # the status it ends in (None: whatever the resource says)


@dataclass
class Override:
    factor: float = 1.0
    operation: str | None = None  # only this operation (snapshot, copy, restore, ...); None: all
    fail_with: str | None = None  # the operation ends in this status instead of `available`


@dataclass
class RdsDurations:
    """The simulated-duration model; `now` is the runner's simulated clock."""

    now: Callable[[], float]
    factor: float = 1.0
    operation_factors: dict[str, float] = field(default_factory=dict)  # operation -> factor (tests)
    sizes: dict[str, float] = field(default_factory=dict)  # database id -> GiB (clusters)
    overrides: dict[str, Override] = field(default_factory=dict)
    active: bool = False
    _removals: list[tuple[float, dict, str, Any]] = field(default_factory=list)
    _held: list[Any] = field(default_factory=list)
    _fresh: list[Any] = field(default_factory=list)  # started since the last Describe*
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self.active = True

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Resources made inside the block are available at once (seeding an estate)."""
        active, self.active = self.active, False
        try:
            yield
        finally:
            self.active = active

    def override(self, database: str, *, factor: float = 1.0, operation: str | None = None,
                 fail_with: str | None = None) -> None:  # fmt: skip
        self.overrides[database] = Override(factor=factor, operation=operation, fail_with=fail_with)

    def seconds(self, operation: str, db_type: str, database: str, size_gib: float) -> float:
        override = self.overrides.get(database)
        factor = self.operation_factors.get(operation.removesuffix("-cross-region"), self.factor)
        if override and override.operation in (None, operation):
            factor = override.factor
        return expected_seconds(operation, db_type, size_gib) * factor

    def hold(self, resource: Any, operation: str, db_type: str, database: str, size_gib: float) -> None:
        """Keep `resource` in `creating` for the operation's simulated duration.

        The duration is computed and the resource registered under the lock `finish` takes, so an
        operation started while a test changes the factors and calls `finish` is either released by
        it or timed with the new factors, never held with the old ones past the release."""
        if not self.active or resource is None:
            return
        override = self.overrides.get(database)
        fails = override.fail_with if override and override.operation in (None, operation) else None
        with self._lock:
            until = self.now() + self.seconds(operation, db_type, database, size_gib)
            resource.__dict__[BUSY] = Busy("creating", until, then=fails)
            resource.__dict__[FRESH] = True
            self._held.append(resource)
            self._fresh.append(resource)

    def described(self) -> None:
        """A Describe* call begins: operations started by earlier requests may be seen finished now.
        (Requests are serialised by the embedded AWS's backend lock: the starting request has
        answered by then.)"""
        with self._lock:
            fresh, self._fresh = self._fresh, []
            for resource in fresh:
                resource.__dict__.pop(FRESH, None)

    def finish(self) -> None:
        """End every operation still in progress now, in the status it was to end in."""
        with self._lock:
            now = self.now()
            held, self._held = self._held, []
            for resource in held:
                resource.__dict__.pop(FRESH, None)
                busy: Busy | None = resource.__dict__.get(BUSY)
                if busy is not None and busy.status == "creating" and busy.until > now:
                    resource.__dict__[BUSY] = replace(busy, until=now)

    def remove_later(self, resource: Any, container: dict, key: str, kind: str) -> None:
        """Put a deleted resource back as `deleting`; it leaves `container` after DELETE_SECONDS."""
        if not self.active or resource is None:
            return
        until = self.now() + DELETE_SECONDS[kind]
        resource.__dict__[BUSY] = Busy("deleting", until, then="deleting")
        container[key] = resource
        with self._lock:
            self._removals.append((until, container, key, resource))

    def purge(self) -> None:
        """Drop deleted resources whose deletion has finished."""
        now = self.now()
        with self._lock:
            due = [r for r in self._removals if r[0] <= now]
            self._removals = [r for r in self._removals if r[0] > now]
        for _, container, key, resource in due:
            if container.get(key) is resource:
                del container[key]

    def status_of(self, resource: Any, stored: str | None) -> str | None:
        busy: Busy | None = resource.__dict__.get(BUSY)
        if busy is None:
            return stored
        if resource.__dict__.get(FRESH) or self.now() < busy.until:
            return busy.status
        return busy.then or stored


# ----------------------------------------------------------------------------- patches


def patches(durations: RdsDurations) -> list[tuple[Any, str, Any]]:
    """(target, attribute, replacement) for `mock.patch.object`, like `wavectl.local.patches`."""
    from moto.rds.models import DBCluster, DBClusterSnapshot, DBInstance, DBSnapshot, RDSBackend

    found: list[tuple[Any, str, Any]] = [
        (cls, "status", _status_property(durations, cls.__dict__.get("status")))
        for cls in (DBInstance, DBCluster, DBSnapshot, DBClusterSnapshot)
    ]
    wrappers = {
        "create_db_snapshot": _held(durations, "snapshot", _of_instance_snapshot),
        "copy_db_snapshot": _held(durations, "copy", _of_instance_snapshot),
        "create_db_cluster_snapshot": _held(durations, "snapshot", _of_cluster_snapshot),
        "copy_db_cluster_snapshot": _held(durations, "copy", _of_cluster_snapshot),
        "restore_db_instance_from_db_snapshot": _held(durations, "restore", _of_instance),
        "restore_db_cluster_from_snapshot": _held(durations, "restore", _of_cluster),
        "create_db_instance": _held(durations, "restore", _of_cluster_member),
        "delete_db_snapshot": _removed(durations, "database_snapshots", "snapshot", "db_snapshot_identifier"),
        "delete_db_cluster_snapshot": _removed(
            durations, "cluster_snapshots", "snapshot", "db_snapshot_identifier"
        ),
        "delete_db_instance": _removed(durations, "databases", "instance", "db_instance_identifier"),
        "delete_db_cluster": _removed(durations, "clusters", "cluster", "cluster_identifier"),
    }
    for name in ("describe_db_instances", "describe_db_clusters", "describe_db_snapshots",
                 "describe_db_cluster_snapshots"):  # fmt: skip
        wrappers[name] = _purged(durations)
    for name, wrap in wrappers.items():
        found.append((RDSBackend, name, wrap(getattr(RDSBackend, name))))
    return found


def _status_property(durations: RdsDurations, original: property | None) -> property:
    def get(resource: Any) -> Any:
        # (a resource made before the patch keeps its status as a plain attribute)
        plain = resource.__dict__.get(PLAIN_STATUS, resource.__dict__.get("status"))
        stored = original.fget(resource) if original else plain
        return durations.status_of(resource, stored)

    def set_(resource: Any, value: Any) -> None:
        if original:
            original.fset(resource, value)
        else:
            resource.__dict__[PLAIN_STATUS] = value

    return property(get, set_)


# What a created resource is: (database id, database type, size GiB, cross-region?)
Subject = tuple[str, str, float]


def _size(durations: RdsDurations, database: str, db_type: str, allocated: Any) -> float:
    if db_type == "cluster":
        return float(durations.sizes.get(database) or DEFAULT_CLUSTER_GIB)
    return float(durations.sizes.get(database) or allocated or 1)


def _of_instance_snapshot(durations: RdsDurations, snapshot: Any) -> Subject:
    db = snapshot.database
    return db.db_instance_identifier, "instance", _size(durations, db.db_instance_identifier, "instance",
                                                         getattr(db, "allocated_storage", None))  # fmt: skip


def _of_cluster_snapshot(durations: RdsDurations, snapshot: Any) -> Subject:
    ident = snapshot.cluster.db_cluster_identifier
    return ident, "cluster", _size(durations, ident, "cluster", None)


def _of_instance(durations: RdsDurations, instance: Any) -> Subject:
    ident = instance.db_instance_identifier
    return (
        ident,
        "instance",
        _size(durations, ident, "instance", getattr(instance, "allocated_storage", None)),
    )


def _of_cluster(durations: RdsDurations, cluster: Any) -> Subject:
    ident = cluster.db_cluster_identifier
    return ident, "cluster", _size(durations, ident, "cluster", None)


def _of_cluster_member(durations: RdsDurations, instance: Any) -> Subject | None:
    cluster = getattr(instance, "db_cluster_identifier", None)
    return None if cluster is None else (cluster, "cluster", _size(durations, cluster, "cluster", None))


def _cross_region(backend: Any, args: tuple, kwargs: dict) -> bool:
    source = kwargs.get("source_db_snapshot_identifier") or kwargs.get(
        "source_db_cluster_snapshot_identifier"
    ) or (args[0] if args else "")  # fmt: skip
    parts = str(source).split(":")
    return len(parts) > 3 and parts[0] == "arn" and parts[3] != backend.region_name


def _held(durations: RdsDurations, operation: str, subject_of: Callable[..., Subject | None]):
    def wrap(original):
        def call(backend, *args, **kwargs):
            durations.purge()
            resource = original(backend, *args, **kwargs)
            subject = subject_of(durations, resource)
            if subject is not None:
                name = operation
                if operation == "copy" and _cross_region(backend, args, kwargs):
                    name = "copy-cross-region"
                database, db_type, size = subject
                durations.hold(resource, name, db_type, database, size)
            return resource

        return call

    return wrap


def _removed(durations: RdsDurations, container_name: str, kind: str, parameter: str):
    def wrap(original):
        def call(backend, *args, **kwargs):
            identifier = args[0] if args else kwargs[parameter]
            durations.purge()
            container = getattr(backend, container_name)
            busy = container.get(identifier)
            if busy is not None and durations.status_of(busy, None) == "deleting":
                return busy  # deleting already: AWS answers with the resource, still deleting
            resource = original(backend, *args, **kwargs)
            durations.remove_later(resource, container, identifier, kind)
            return resource

        return call

    return wrap


def _purged(durations: RdsDurations):
    def wrap(original):
        def call(backend, *args, **kwargs):
            durations.purge()
            durations.described()
            return original(backend, *args, **kwargs)

        return call

    return wrap
