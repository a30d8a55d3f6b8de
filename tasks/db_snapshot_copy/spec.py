"""The wave's databases, handed to the task functions in one compressed environment variable.

The state machine definition must not grow with the number of databases, so the list is not in
the ASL: the stack encodes it (`tasks.contracts.encode_spec`), preflight decodes it here and hands
the Map its items.
"""

from __future__ import annotations

from typing import Any

from tasks.common.settings import setting
from tasks.contracts import ENV_DB_WAVE_SPEC, decode_spec, encode_spec


def encode_databases(databases: list[dict[str, Any]]) -> str:
    return encode_spec({"databases": databases})


def wave_databases(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The databases of the event if it names them (tests, redrives), else of the function's spec."""
    if event.get("databases"):
        return list(event["databases"])
    return list(decode_spec(setting(ENV_DB_WAVE_SPEC))["databases"])
