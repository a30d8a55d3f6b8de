"""Plain-language description of what a wave will do (for `wavectl plan` and `wavectl validate`)."""

from __future__ import annotations

from tasks.contracts import PLACEHOLDER_KINDS, WaveKind
from wavectl.kinds import KINDS
from wavectl.model import WaveBase

PLACEHOLDER_NOTE = "placeholder — no workflow yet"


def is_placeholder(wave: WaveBase) -> bool:
    """True while the wave's kind has no workflow of its own (its run does nothing but one gate)."""
    return WaveKind(wave.kind) in PLACEHOLDER_KINDS


def describe_wave(wave: WaveBase) -> str:
    text = KINDS[WaveKind(wave.kind)].describe(wave)
    return f"{PLACEHOLDER_NOTE}: {text}" if is_placeholder(wave) else text
