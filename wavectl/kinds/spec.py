"""What a wave kind gives the `wavectl/` room: its section model, plan text and residency targets."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from wavectl.model import Program, ResidencyTarget, WaveBase
from wavectl.yamlpos import Loc

# (location in the wave file, message): a rule of the kind that needs program.yaml to check
ProgramCheck = Callable[[Program, Any], Iterable[tuple[Loc, str]]]


def _no_residency_targets(wave: Any) -> list[ResidencyTarget]:
    return []


def _no_program_checks(program: Program, wave: Any) -> Iterable[tuple[Loc, str]]:
    return ()


@dataclass(frozen=True)
class KindSpec:
    """One wave kind, as `wavectl validate`, `plan` and the schema see it.

    - `model`: the pydantic model of the wave file (a `WaveBase` with `kind: Literal[...]`);
    - `describe`: the plan text (`wavectl plan`), plain lines that fit 80 columns;
    - `residency_targets`: every place the wave puts data, checked against the program's residency;
    - `program_checks`: the kind's rules that need program.yaml (located problems).
    """

    model: type[WaveBase]
    describe: Callable[[Any], str]
    residency_targets: Callable[[Any], list[ResidencyTarget]] = _no_residency_targets
    program_checks: ProgramCheck = _no_program_checks
