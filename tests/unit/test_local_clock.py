"""How long waits and approval gates last in real time on the embedded AWS."""

from __future__ import annotations

import pytest

from wavectl.local.clock import Speed

HOUR = 3600.0


def test_fast_mode_compresses_a_four_hour_gate_to_the_fifteen_seconds_a_demo_needs():
    assert Speed.parse("fast").callback_timeout(4 * HOUR) == 15.0


def test_explicit_speed_compresses_gates_exactly():
    assert Speed.parse("60").callback_timeout(4 * HOUR) == 240.0


def test_gates_answered_by_hand_stay_open_for_the_minutes_asked_for():
    # `wavectl local up` keeps waits compressed but gives a person time to click
    speed = Speed.parse("fast").with_gates_open(30 * 60)

    assert speed.callback_timeout(4 * HOUR) == 1800.0
    assert speed.wait_seconds(HOUR) == Speed.parse("fast").wait_seconds(HOUR)


def test_a_gate_never_stays_open_longer_than_its_runbook_timeout():
    speed = Speed.parse("fast").with_gates_open(30 * 60)

    assert speed.callback_timeout(10 * 60) == 600.0
    assert Speed.parse("fast").callback_timeout(5) == 5.0


def test_speed_must_be_positive():
    with pytest.raises(ValueError, match="speed must be positive"):
        Speed.parse("0")
