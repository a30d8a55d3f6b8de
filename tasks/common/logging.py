"""Structured JSON logs (Powertools) that never carry task tokens or secrets."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools import Logger


@cache
def logger() -> Logger:
    return Logger(service="wavectl")
