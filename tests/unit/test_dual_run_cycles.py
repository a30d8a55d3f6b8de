"""The dual run's cycle bookkeeping: business days, the clean streak, the switch, max_cycles."""

from __future__ import annotations

import pytest

from tasks.common.errors import ReconciliationFailed
from tasks.payment_dual_run.cycles import advance, first_cycle

SPEC = {"first_business_day": "2026-11-28", "required_clean_cycles": 2, "max_cycles": 3, "shadow_cycles": 1}


def test_cycles_skip_weekends_and_switch_after_the_clean_streak():
    # Given a first business day on a Saturday
    cycle = first_cycle(SPEC)
    # Then the first cycle is Monday, and two clean days lead to the switch, then one shadow day to done
    assert cycle["day"] == "2026-11-30" and cycle["phase"] == "dual"
    second = advance(SPEC, cycle, clean=True)
    assert (second["day"], second["next"]) == ("2026-12-01", "cycle")
    shadow = advance(SPEC, second, clean=True)
    assert (shadow["phase"], shadow["next"], shadow["shadow_left"]) == ("shadow", "switch", True)
    assert advance(SPEC, shadow, clean=True)["next"] == "done"


def test_accepted_breaks_restart_the_streak_and_max_cycles_ends_the_dual_run():
    # Given day 1 clean, day 2 accepted with exceptions (not clean)
    day_2 = advance(SPEC, first_cycle(SPEC), clean=True)
    day_3 = advance(SPEC, day_2, clean=False)
    # Then the streak starts again, and day 3 clean is not enough within max_cycles 3
    assert day_3["clean_streak"] == 0 and day_3["gate"] == "accept-breaks-3"
    with pytest.raises(ReconciliationFailed, match="3 dual-run day"):
        advance(SPEC, day_3, clean=True)
