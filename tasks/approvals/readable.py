"""An approval summary as Block Kit an approver reads: never a JSON dump, and a check that did not run
shown as "not verified" with its reason, never counted as passed.

A workflow may build a gate's summary with `States.JsonToString` over a list (one line per database,
say); the list is turned into one section per item here.
"""

from __future__ import annotations

import json
import re
from typing import Any

_NOT_RUN = " not run: "
# how a verification summary names a query that could not run: `(<check>: not verified: <reason>; ...)`
_NOT_VERIFIED = re.compile(r"(?P<check>[^();]+): not verified: (?P<reason>[^;]*?)(?=; |\)[^)]*$|$)")
_MAX_TEXT = 3000
_COUNT = re.compile(r"(?P<done>\d+)/(?P<total>\d+) (?P<what>queries matched|checks passed)")


def _split(summary: str) -> tuple[str, list[Any] | None, str]:
    """(text before, the embedded JSON list, text after), or (summary, None, "") when there is none."""
    start = summary.find("[")
    while start != -1:
        try:
            items, end = json.JSONDecoder().raw_decode(summary[start:])
        except ValueError:
            start = summary.find("[", start + 1)
            continue
        if isinstance(items, list):
            return summary[:start].rstrip(" :"), items, summary[start + end :].lstrip(" .")
        start = summary.find("[", start + 1)
    return summary, None, ""


def not_run_checks(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The text without its `(<check> not run: <reason>)` parts, and those (check, reason) pairs."""
    found: list[tuple[str, str]] = []
    while (at := text.find(_NOT_RUN)) != -1:
        open_at = text.rfind("(", 0, at)
        close_at, depth = at, 1
        for close_at in range(at, len(text)):
            depth += {"(": 1, ")": -1}.get(text[close_at], 0)
            if depth == 0:
                break
        if open_at == -1:
            break
        found.append((text[open_at + 1 : at].strip(), text[at + len(_NOT_RUN) : close_at].strip()))
        text = (text[:open_at].rstrip() + text[close_at + 1 :]).strip()
    return text, found


def not_verified_checks(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The text without its `<check>: not verified: <reason>` entries (of a parenthesised list), and
    those (check, reason) pairs. The text's own counts already say how many were not verified."""
    found = [(m["check"].strip(), m["reason"].strip()) for m in _NOT_VERIFIED.finditer(text)]
    if not found:
        return text, []
    text = _NOT_VERIFIED.sub("", text)
    text = re.sub(r"\(\s*(; )*\s*\)", "", text)  # a list left empty
    text = re.sub(r"\((; )+", "(", text).replace("; ; ", "; ").replace("; )", ")")
    return re.sub(r"\s+,", ",", text).strip(), found


def flagged(text: str, indent: str = "") -> str:
    """`text` with each check that did not run taken out of its counts and flagged on a line of its own."""
    text, unverified = not_verified_checks(text)
    line, skipped = not_run_checks(text)
    if skipped:
        line = _COUNT.sub(
            lambda m: (
                f"{m['done']}/{int(m['total']) - len(skipped)} {m['what']}, {len(skipped)} not verified"
                if m["what"] == "queries matched"
                else m.group(0)
            ),
            line,
        )
    lines = [line] + [f"{indent}:warning: *not verified*: {c} ({r})" for c, r in skipped + unverified]
    return "\n".join(lines)


def item_text(item: Any) -> str:
    """One summary item as mrkdwn: the line, then each check that did not run as not verified."""
    text = item if isinstance(item, str) else ", ".join(f"{k}: {v}" for k, v in dict(item).items())
    return "• " + flagged(str(text), indent="   ")


def summary_blocks(summary: str) -> list[dict[str, Any]]:
    """Sections for a gate summary: the sentence, one section per listed item, the closing sentence."""
    before, items, after = _split(summary or "")
    if items is None:
        text = flagged(before)
        return [_section(text)] if text.strip() else []
    blocks = [_section(before + ":")] if before else []
    blocks += [_section(item_text(item)) for item in items]
    if after:
        blocks.append(_section(after))
    return blocks


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:_MAX_TEXT]}}
