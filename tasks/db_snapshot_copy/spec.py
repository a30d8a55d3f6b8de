"""The wave's databases, handed to the task functions in one compressed environment variable.

The state machine definition must not grow with the number of databases, so the list is not in
the ASL: the stack encodes it here (`encode_spec`), preflight decodes it and hands the Map its items.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from tasks.common.settings import setting
from tasks.contracts import ENV_DB_WAVE_SPEC


def encode_spec(databases: list[dict[str, Any]]) -> str:
    raw = json.dumps({"databases": databases}, separators=(",", ":"), sort_keys=True).encode()
    return base64.b64encode(zlib.compress(raw, 9)).decode()


def decode_spec(encoded: str) -> list[dict[str, Any]]:
    return json.loads(zlib.decompress(base64.b64decode(encoded)))["databases"]


def wave_databases(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The databases of the event if it names them (tests, redrives), else of the function's spec."""
    if event.get("databases"):
        return list(event["databases"])
    return decode_spec(setting(ENV_DB_WAVE_SPEC))
