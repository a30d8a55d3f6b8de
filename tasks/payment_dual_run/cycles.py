"""The cycle loop's bookkeeping (pure logic): one cycle per business day, the clean streak, the switch.

A cycle is `{index, phase, day, clean_streak, shadow_done, gate, next}`:
- `phase` is `dual` (old platform primary) or `shadow` (new primary, old reconciled as the shadow);
- `clean_streak` counts consecutive clean dual-run days; a day whose breaks were accepted at the
  gate is "clean with exceptions": the wave goes on, but the streak starts again;
- `next` (set by `advance`) tells the workflow where to go: `cycle`, `switch` or `done`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tasks.common.errors import ReconciliationFailed


def next_business_day(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def first_business_day(day: date) -> date:
    return day if day.weekday() < 5 else next_business_day(day)


def new_cycle(
    index: int, phase: str, day: date, clean_streak: int = 0, shadow_done: int = 0
) -> dict[str, Any]:
    return {
        "index": index,
        "phase": phase,
        "day": day.isoformat(),
        "clean_streak": clean_streak,
        "shadow_done": shadow_done,
        "gate": f"accept-breaks-{index}",
        "next": "cycle",
    }


def first_cycle(spec: dict[str, Any]) -> dict[str, Any]:
    return new_cycle(1, "dual", first_business_day(date.fromisoformat(spec["first_business_day"])))


def advance(spec: dict[str, Any], cycle: dict[str, Any], clean: bool) -> dict[str, Any]:
    """The next cycle after `cycle` (`clean`: no breaks at all), with `next` saying what comes first."""
    following = next_business_day(date.fromisoformat(cycle["day"]))
    index = int(cycle["index"]) + 1
    if cycle["phase"] == "shadow":
        done = int(cycle["shadow_done"]) + 1
        step = new_cycle(index, "shadow", following, int(cycle["clean_streak"]), done)
        return {**step, "next": "done" if done >= int(spec["shadow_cycles"]) else "cycle"}
    streak = int(cycle["clean_streak"]) + 1 if clean else 0
    if streak >= int(spec["required_clean_cycles"]):
        step = new_cycle(index, "shadow", following, streak)
        return {**step, "next": "switch", "shadow_left": int(spec["shadow_cycles"]) > 0}
    if int(cycle["index"]) >= int(spec["max_cycles"]):
        raise ReconciliationFailed(
            f"{cycle['index']} dual-run day(s) without {spec['required_clean_cycles']} clean day(s) in a row "
            f"(max_cycles {spec['max_cycles']}); the primary stays old"
        )
    return new_cycle(index, "dual", following, streak)
