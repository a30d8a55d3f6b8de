"""Compressed time: how long a simulated wait really lasts, and how much simulated time has passed."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

FAST = "fast"
FAST_FACTOR = 3600.0  # one simulated hour per real second
FAST_MAX_WAIT = 0.2  # in fast mode no single Wait state or back-off lasts longer than this (real seconds)
# Real seconds a callback (approval gate, heartbeat) stays open at least. In fast mode that leaves
# the demo's approvers time to click on a loaded 2-core machine; with an explicit speed, timeouts
# are exact down to one second (tests of the timeout path use that).
FAST_MIN_CALLBACK_TIMEOUT = 15.0
MIN_CALLBACK_TIMEOUT = 1.0


@dataclass(frozen=True)
class Speed:
    """`factor` simulated seconds pass per real second; `max_wait` caps one wait in fast mode;
    callbacks (approval gates, heartbeats) stay open at least `min_callback_timeout` real seconds."""

    factor: float = FAST_FACTOR
    max_wait: float | None = FAST_MAX_WAIT
    min_callback_timeout: float = FAST_MIN_CALLBACK_TIMEOUT

    @classmethod
    def parse(cls, value: str | float | int | None) -> Speed:
        """`fast` (the default) or a number N: every wait lasts exactly 1/N of its simulated length."""
        if value is None or str(value).strip().lower() == FAST:
            return cls()
        factor = float(value)
        if factor <= 0:
            raise ValueError(f"speed must be positive, got {value!r}")
        return cls(factor=factor, max_wait=None, min_callback_timeout=MIN_CALLBACK_TIMEOUT)

    def wait_seconds(self, simulated: float) -> float:
        real = max(float(simulated), 0.0) / self.factor
        return min(real, self.max_wait) if self.max_wait is not None else real

    def callback_timeout(self, simulated: float) -> float:
        """Real seconds a callback stays open: compressed, but at least `min_callback_timeout`,
        and never longer than the uncompressed timeout itself."""
        simulated = float(simulated)
        return min(simulated, max(simulated / self.factor, self.min_callback_timeout))

    def with_gates_open(self, seconds: float) -> Speed:
        """The same compression, with callbacks open at least `seconds` (time to answer by hand)."""
        return replace(self, min_callback_timeout=max(seconds, self.min_callback_timeout))

    def describe(self) -> str:
        if self.max_wait is not None:
            return f"fast (x{self.factor:g}, waits capped at {self.max_wait:g}s)"
        return f"x{self.factor:g}"


class SimClock:
    """Simulated elapsed time: real elapsed time plus what compressed waits skipped.

    Concurrent waits (Map iterations, Parallel branches) overlap in simulated time as they would
    on AWS, so the clock jumps to the latest simulated end of any wait, never to their sum.

    Timers (`at`, `after`) run a callback once the simulated time reaches a given point: something
    that happens "7 simulated minutes from now" (an alarm going off, a health check failing). They
    fire when a wait ends past their time (before the state after the Wait runs), or on `fire_due()`;
    always outside the clock's lock, in the thread that moved the clock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._offset = 0.0
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = itertools.count()

    def real_elapsed(self) -> float:
        return time.monotonic() - self._started

    def simulated_elapsed(self) -> float:
        with self._lock:
            return self.real_elapsed() + self._offset

    def waited(self, simulated_start: float, simulated_seconds: float) -> None:
        """A wait that began at `simulated_start` and lasted `simulated_seconds` (simulated) ended now."""
        with self._lock:
            needed = simulated_start + simulated_seconds - self.real_elapsed()
            self._offset = max(self._offset, needed)
        self.fire_due()

    def at(self, simulated: float, callback: Callable[[], None]) -> None:
        """Run `callback` once the simulated elapsed time reaches `simulated` seconds."""
        with self._lock:
            heapq.heappush(self._timers, (float(simulated), next(self._sequence), callback))

    def after(self, simulated_seconds: float, callback: Callable[[], None]) -> float:
        """Run `callback` `simulated_seconds` from now (simulated); returns when, in simulated time."""
        when = self.simulated_elapsed() + float(simulated_seconds)
        self.at(when, callback)
        return when

    def fire_due(self) -> None:
        """Run every timer whose time has come, earliest first."""
        while True:
            with self._lock:
                now = self.real_elapsed() + self._offset
                if not self._timers or self._timers[0][0] > now:
                    return
                _, _, callback = heapq.heappop(self._timers)
            callback()

    def sleep(self, speed: Speed, simulated_seconds: float, sleeper=time.sleep) -> None:
        start = self.simulated_elapsed()
        sleeper(speed.wait_seconds(simulated_seconds))
        self.waited(start, simulated_seconds)
