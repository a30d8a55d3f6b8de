"""Plain-language description of what a wave will do (for `wavectl plan`)."""

from __future__ import annotations

from tasks.contracts import WaveKind
from wavectl.kinds import KINDS
from wavectl.model import WaveBase


def describe_wave(wave: WaveBase) -> str:
    return KINDS[WaveKind(wave.kind)].describe(wave)
